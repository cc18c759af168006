"""sirtkit.report (see ARCHITECTURE in docs)."""
