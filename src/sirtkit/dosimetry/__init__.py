"""sirtkit.dosimetry (see ARCHITECTURE in docs)."""
