"""The book's figure style: sizes, fonts and words shared by every figure of :mod:`segrepro.report.plots`.

A figure is drawn at the width of the book's content column (750 CSS pixels at a 1280 px window, 7.8 in
at the browser's 96 px per inch) and rendered at 150 dpi, so a font of 9 pt in the figure shows as 9 pt
in the book, sharp on high-density screens. Axes are labelled in words with units (:func:`axis_label`), legends
sit outside the data (:func:`legend_outside`), and labels of scattered points are spread so that they do
not overlap (:func:`spread_labels`).

Example:
    >>> fig, axes = figure(2, 1)            # two panels, one per row, at the page width
    >>> axis_label("miou"), axis_label("lam")
    ('target mIoU (%)', 'scale ratio lambda')
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Iterator, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.transforms import ScaledTranslation

#: Width of the book's content column in CSS pixels (sphinx-book-theme at a 1280 px window: 752) and in inches.
CONTENT_WIDTH_PX = 750
PAGE_WIDTH_IN = CONTENT_WIDTH_PX / 96
#: Rendering resolution: 150 dpi keeps text sharp when the browser scales the image to the column.
DPI = 150
#: No text in a figure is smaller than this, in points at the page width.
MIN_FONT_PT = 9.0
#: Matplotlib settings of every figure (applied with :func:`house`, never globally).
RC = {"font.size": 10, "axes.titlesize": 10, "axes.labelsize": 10, "xtick.labelsize": 9, "ytick.labelsize": 9,
      "legend.fontsize": 9, "legend.title_fontsize": 9, "figure.titlesize": 11, "figure.dpi": DPI,
      "savefig.dpi": DPI, "axes.spines.top": False, "axes.spines.right": False, "legend.frameon": False,
      "axes.grid": True, "grid.alpha": 0.25, "lines.linewidth": 1.6}

#: Axis words of the tidy tables' metric and parameter names (units in brackets).
LABELS = {
    "miou": "target mIoU (%)", "accuracy": "target accuracy (%)", "asr": "attack success rate (%)",
    "mis_ratio": "MisRatio (%)", "rel_drop": "relative mIoU drop (%)", "iteration": "attack iterations",
    "lam": "scale ratio lambda", "gamma": "stage-1 weight gamma", "beta": "stage-2 weight beta",
    "k": "regions per side k", "eps": "budget epsilon", "seconds_per_example": "seconds per adversarial example",
    "forward_passes": "forward passes per example", "backward_passes": "backward passes per example",
}
#: Metrics that are fractions in the tables and shown in percent.
PERCENT_METRICS = ("miou", "accuracy", "asr", "mis_ratio", "rel_drop")


def axis_label(name: str, scale: float = 100.0, prefix: str = "") -> str:
    """Words and unit for a metric or parameter name; a metric not scaled by 100 loses its ``(%)``."""
    text = LABELS.get(name, name.replace("_", " "))
    if name in PERCENT_METRICS and scale != 100:
        text = text.replace(" (%)", " (fraction)")
    if prefix:
        text = f"{prefix} {text.replace('target ', '')}"
    return text


@contextmanager
def house() -> Iterator[None]:
    """Draw with :data:`RC`; the caller's values of those settings come back afterwards.

    Only the keys of :data:`RC` are saved and restored. ``plt.rc_context`` would restore every setting
    as it was on entry, and a figure drawn first in a notebook resolves the inline backend inside the
    context, which turns ``interactive`` on: restoring it to off stops every later figure of the
    notebook from showing.
    """
    saved = {k: plt.rcParams[k] for k in RC}
    plt.rcParams.update(RC)
    try:
        yield
    finally:
        plt.rcParams.update(saved)


def figure(nrows: int = 1, ncols: int = 1, *, panel_height: float = 3.0, width: float = PAGE_WIDTH_IN, **kw):
    """A figure at the page width with ``nrows x ncols`` panels of ``panel_height`` inches each.

    Returns:
        ``(fig, axes)`` with ``axes`` a 2-D array (``squeeze=False``).
    """
    with house():
        fig, axes = plt.subplots(nrows, ncols, figsize=(width, panel_height * nrows + 0.4), squeeze=False,
                                 layout="constrained", dpi=DPI, **kw)
    return fig, axes


def grid_shape(n: int, max_cols: int = 2) -> tuple[int, int]:
    """Rows and columns for ``n`` panels: one panel alone, else ``max_cols`` per row."""
    cols = 1 if n <= 1 else min(max_cols, n)
    return math.ceil(n / cols), cols


def legend_outside(target, handles=None, labels=None, *, ncol: int | None = None, title: str | None = None):
    """A legend below the axes (or below a whole figure), never on the data.

    Args:
        target: An Axes or a Figure. handles, labels: Default: the target's labelled artists.
        ncol: Columns (default: up to 3, fewer for fewer entries). title: Legend title.
    """
    if handles is None:
        axes = target.axes if hasattr(target, "get_axes") and not hasattr(target, "plot") else [target]
        pairs = {}
        for ax in axes:
            for h, lab in zip(*ax.get_legend_handles_labels()):
                pairs.setdefault(lab, h)
        labels, handles = list(pairs), list(pairs.values())
    if not handles:
        return None
    ncol = ncol or min(3, len(handles))
    with house():
        if hasattr(target, "plot"):  # an Axes
            fig = target.figure
            if len([a for a in fig.axes if a.get_label() != "<colorbar>"]) > 1:
                # one legend per panel, a fixed distance (in inches) under the axes: below the tick
                # labels and the axis label, whatever the panel's height
                below = target.transAxes + ScaledTranslation(0, -0.5, fig.dpi_scale_trans)
                return target.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0),
                                     bbox_transform=below, ncol=ncol, title=title)
            target = fig  # the only panel: the figure's legend, placed by the layout
        return target.legend(handles, labels, loc="outside lower center", ncol=ncol, title=title)


def conform(fig, *, width: float = PAGE_WIDTH_IN, min_pt: float = MIN_FONT_PT):
    """Fit an existing figure to the house style: page width (height scaled alike), dpi, no text under ``min_pt``.

    For figures made elsewhere (e.g. by a study's own report function) before they are glued into the book.
    Axis labels that are bare column names (``miou``, ``lam``, ``gamma``, ...) get their words from
    :data:`LABELS`.
    """
    for ax in fig.axes:
        for get, put in ((ax.get_xlabel, ax.set_xlabel), (ax.get_ylabel, ax.set_ylabel)):
            if get() in LABELS:
                put(LABELS[get()])
    w, h = fig.get_size_inches()
    fig.set_size_inches(width, h * width / w if w > width else h)
    fig.set_dpi(DPI)
    for text in fig.findobj(lambda a: hasattr(a, "get_fontsize") and hasattr(a, "set_fontsize")):
        try:
            if float(text.get_fontsize()) < min_pt:
                text.set_fontsize(min_pt)
        except (TypeError, ValueError):
            continue
    return fig


def spread_labels(ax, xs: Sequence[float], ys: Sequence[float], labels: Sequence[str], *,
                  dx: float = 0.02) -> list:
    """Annotate points with labels beside them, pushed apart vertically so that no two overlap.

    Points in the left 60 % of the axes are labelled on their right, the others on their left; within
    each side labels are sorted by height and spaced at least one line of 9 pt text apart (in axes
    fractions), the stack centred on the points when it would run off the axes. A moved label gets a
    thin leader line to its point.
    """
    if not len(xs):
        return []
    to_frac = ax.transAxes.inverted()
    pts = to_frac.transform(ax.transData.transform(np.column_stack([xs, ys])))
    height_in = ax.get_position().height * ax.figure.get_size_inches()[1]
    gap = 1.3 * MIN_FONT_PT / 72 / max(height_in, 0.5)
    placed = pts[:, 1].copy()
    right = pts[:, 0] < 0.6
    for side in (right, ~right):
        idx = np.flatnonzero(side)[np.argsort(pts[side, 1])]
        last = -np.inf
        for i in idx:
            placed[i] = max(pts[i, 1], last + gap)
            last = placed[i]
        over = placed[idx[-1]] - 1.0 if len(idx) else 0.0
        if over > 0:  # runs off the top: shift the stack down (not below the axes), keeping the gaps
            placed[idx] -= min(over, max(placed[idx[0]], 0.0))
            if placed[idx[-1]] > 1.0:  # still too tall: spread evenly over the axes
                placed[idx] = np.linspace(0.0, 1.0, len(idx))
    out = []
    for i, (px, py) in enumerate(pts):
        moved = abs(placed[i] - py) > 1e-3
        out.append(ax.annotate(labels[i], xy=(xs[i], ys[i]), xycoords="data",
                               xytext=(px + (dx if right[i] else -dx), placed[i]), textcoords="axes fraction",
                               ha="left" if right[i] else "right", va="center", fontsize=MIN_FONT_PT,
                               arrowprops=dict(arrowstyle="-", lw=0.5, color="0.5") if moved else None))
    return out


def colours(names: Sequence[str]) -> dict[str, tuple]:
    """A fixed colour per name (tab10 in the given order), so that panels of one figure agree."""
    cmap = plt.get_cmap("tab10")
    return {n: cmap(i % 10) for i, n in enumerate(dict.fromkeys(names))}
