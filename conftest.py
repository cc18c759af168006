"""Repository-level pytest configuration (keeps matplotlib headless)."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
