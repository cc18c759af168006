"""Rendering helpers shared by every sirtkit report: figures to PNG, Jinja2 HTML, PDF, atomic files.

HTML reports are self-contained (figures embedded as base64 PNG, no CDN: hospitals are often offline).
PDF uses WeasyPrint, an optional extra: a missing installation raises
:class:`~sirtkit.errors.MissingExtraError` naming the extra and the system libraries.
"""

from __future__ import annotations

import base64
import io
import logging
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from sirtkit._files import atomic_write_bytes
from sirtkit.errors import MissingExtraError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["atomic_write_bytes", "atomic_write_text", "figure_png", "figure_png_of", "figure_to_data_uri",
           "html_to_pdf", "render_template"]

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("sirtkit.report", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


_ENV.filters["num"] = _fmt


def render_template(name: str, **context: Any) -> str:
    """Render ``templates/<name>`` with ``context`` (undefined variables are errors, not blanks)."""
    return _ENV.get_template(name).render(**context)


def figure_png(fig: Figure, *, dpi: int = 110) -> bytes:
    """PNG bytes of a matplotlib figure (drawn once: the figures set their own margins, no tight bounding
    box). Figures are built with ``matplotlib.figure.Figure`` (no pyplot state), so nothing needs closing.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def figure_png_of(plot: Callable[..., Figure], *args: Any, **kwargs: Any) -> bytes:
    """PNG bytes of the figure ``plot(*args, **kwargs)`` builds: one task for the command's worker process
    (``sirtkit._concurrent.offload(figure_png_of, plot_dvh, curves, title=...)``: ``plot`` is a module-level
    function, pickled by name, and its arguments are sent to the worker, so give it slices and curves)."""
    return figure_png(plot(*args, **kwargs))


def figure_to_data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` for embedding a PNG in HTML."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def atomic_write_text(path: Path, text: str) -> Path:
    """UTF-8 text version of :func:`atomic_write_bytes`."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def html_to_pdf(html: str, path: Path, *, base_url: str | None = None) -> Path:
    """Render HTML to a PDF file with WeasyPrint (the ``pdf`` extra).

    Raises
    ------
    MissingExtraError
        WeasyPrint or its system libraries (Pango) are missing.
    """
    try:
        with warnings.catch_warnings():
            # WeasyPrint warns at import when the optional HarfBuzz-Subset library is missing; the PDF is
            # still correct (fonts are embedded whole).
            warnings.simplefilter("ignore", DeprecationWarning)
            import weasyprint
    except (ImportError, OSError) as err:
        raise MissingExtraError(
            f"PDF output needs WeasyPrint and its system libraries ({err}): install sirtkit's optional 'pdf' "
            "extra and the Pango libraries (Debian/Ubuntu: apt install libpango-1.0-0 libpangoft2-1.0-0), "
            "or run without PDF output"
        ) from None
    # WeasyPrint logs font-subsetting notices at WARNING level; they are not about the report's content.
    wp_logger = logging.getLogger("weasyprint")
    level = wp_logger.level
    wp_logger.setLevel(logging.ERROR)
    try:
        pdf = weasyprint.HTML(string=html, base_url=base_url).write_pdf()
    finally:
        wp_logger.setLevel(level)
    return atomic_write_bytes(path, pdf)
