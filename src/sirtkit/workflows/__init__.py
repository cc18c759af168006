"""sirtkit.workflows (see ARCHITECTURE in docs)."""
