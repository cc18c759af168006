"""sirtkit.clinical (see ARCHITECTURE in docs)."""
