"""Images in and out: the :class:`Volume` type, readers, writers, resampling and quantification."""

from sirtkit.imaging.volume import Volume, require_same_grid

__all__ = ["Volume", "require_same_grid"]
