"""matplotlib → inline SVG for the HTML report: deterministic, offline, one home for the plot style.

matplotlib is an optional extra (``pip install 'rankbench[report]'``); :func:`plotting` imports it
lazily, without pyplot, and turns its absence into a :class:`RankbenchError` with the install command (exit 2).

Determinism: a fixed ``svg.hashsalt`` (clip-path ids), no ``Date`` in the metadata, glyphs written as
paths (``svg.fonttype = 'path'``: no font files, no font lookup in the browser). Rendering the same
numbers twice gives the same bytes. Every id in a figure is prefixed with the figure's own id, so
several figures inlined in one page never share an id.
"""

from __future__ import annotations

import io
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import escape

from rankbench.errors import RankbenchError

INSTALL_HINT = "pip install 'rankbench[report]'  (matplotlib; included in rankbench[bench])"
STYLE = {
    "svg.hashsalt": "rankbench",
    "svg.fonttype": "path",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "path.simplify": True,
}
# colour-blind safe (Okabe–Ito); meaning never rests on colour alone
COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
INK, MUTED = "#222222", "#9a9a9a"
# thin lines, one per module type: distinct from each other and from the black whole-adapter line
SERIES = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#8C564B", "#BCBD22", "#7F7F7F")


@dataclass(frozen=True)
class Figure:
    """One rendered figure: the inline SVG, its words, and the numbers it was drawn from."""

    key: str  # the figure's id in the page (letters, digits, dashes)
    title: str
    caption: str  # how to read it
    alt: str  # the text alternative: what it shows, in words and numbers
    svg: str
    columns: tuple[str, ...] = ()
    rows: tuple[tuple, ...] = field(default_factory=tuple)


def matplotlib_available() -> bool:
    """Whether matplotlib can be imported, found without importing it (nor numpy, whose BLAS the audit pins)."""
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def require_matplotlib() -> None:
    if not matplotlib_available():
        raise RankbenchError("the HTML report needs matplotlib, which is not installed", hint=INSTALL_HINT)


class Plotting:
    """What the figures need of matplotlib, without pyplot: no backend switch, no global figure list.

    Figures are plain ``matplotlib.figure.Figure`` objects; ``savefig(format="svg")`` picks the SVG
    canvas itself. A notebook that imports rankbench keeps its own backend and its open figures.
    """

    def __init__(self) -> None:
        from matplotlib.figure import Figure as MplFigure
        from matplotlib.lines import Line2D
        from matplotlib.ticker import FuncFormatter

        self._figure, self.Line2D, self.FuncFormatter = MplFigure, Line2D, FuncFormatter

    def subplots(self, nrows: int = 1, ncols: int = 1, *, figsize=None, **kw):
        fig = self._figure(figsize=figsize)
        return fig, fig.subplots(nrows, ncols, **kw)


def plotting() -> Plotting:
    """The plotting helpers (a pyplot-like subset), or a RankbenchError naming the install command."""
    require_matplotlib()
    return Plotting()


@contextmanager
def report_style():
    """The report's rcParams (and the fixed SVG hash salt) for the figures drawn inside, then the user's."""
    require_matplotlib()
    import matplotlib

    with matplotlib.rc_context(STYLE):
        yield


def to_svg(fig, key: str, title: str, alt: str) -> str:
    """The figure as an <svg> element (no XML prolog), titled and described for screen readers."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "rankbench"}, bbox_inches="tight")
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.S)  # RDF boilerplate, with addresses
    text = _prefix_ids(text, key)
    head_end = text.index(">") + 1
    head = text[:head_end]
    head = head.replace("<svg", f'<svg role="img" aria-labelledby="{key}-title {key}-desc"', 1)
    labels = f'<title id="{key}-title">{escape(title)}</title><desc id="{key}-desc">{escape(alt)}</desc>'
    return head + labels + text[head_end:]


def _prefix_ids(svg: str, key: str) -> str:
    ids = set(re.findall(r'\sid="([^"]+)"', svg))
    if not ids:
        return svg

    def fix(m: re.Match) -> str:
        name = m.group(2)
        return f"{m.group(1)}{key}-{name}{m.group(3)}" if name in ids else m.group(0)

    svg = re.sub(r'(\sid=")([^"]+)(")', fix, svg)
    svg = re.sub(r'(href="#)([^"]+)(")', fix, svg)
    return re.sub(r"(url\(#)([^)]+)(\))", fix, svg)
