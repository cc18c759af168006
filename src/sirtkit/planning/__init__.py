"""sirtkit.planning (see ARCHITECTURE in docs)."""
