"""Write a set of result files so that nothing half-written or stale is ever left behind.

The rules (staging folder, whole-folder replacement, manifest, refusal of foreign folders without
``--force``, clean-up on errors and SIGTERM, removal of stale staging folders) live in the foundation
module :mod:`sirtkit._outdir` so that the report layer (cohort reports) uses the same ones.
"""

from __future__ import annotations

from sirtkit._outdir import (
    MANIFEST_NAME,
    check_output_folder,
    is_sirtkit_output,
    remove_stale_staging,
    staged_output,
)

__all__ = ["MANIFEST_NAME", "check_output_folder", "is_sirtkit_output", "remove_stale_staging", "staged_output"]
