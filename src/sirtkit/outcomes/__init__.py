"""sirtkit.outcomes (see ARCHITECTURE in docs)."""
