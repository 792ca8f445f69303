"""The study's figures, each a function of result tables returning a matplotlib ``Figure``.

Every function takes the tidy rows of ``segrepro.run`` (or a table derived from them), draws
our mean over seeds with the range of the seeds where there are several, and puts the paper's
numbers next to ours when given (as separate markers, never merged into our curve). All follow the
house style of :mod:`segrepro.report.figstyle`: the page width, 150 dpi, text of at least 9 pt, axes in
words with units, legends outside the data, white-box curves dashed with their own legend entry.

- :func:`miou_vs_iterations`: target mIoU vs attack iterations for one source (DS Figs 3-5, 7; RP-PGD Fig 2);
  :func:`curves_by_source` draws one panel of it per source, :func:`transfer_curves` the mean transfer
  value per method (TranSegPGD, SegTrans).
- :func:`transfer_heatmap`: the source x target table (DS Tables 1-2), white-box cells outlined.
- :func:`param_ablation`: a metric vs one method parameter (DS Fig 8, scale ratio ``lam``).
- :func:`cost_transfer_frontier`: cost per example vs mean transfer mIoU, with the Pareto front.
- :func:`interval_plot`: one value with its interval per row (e.g. DS - FS per source/target pair),
  ours and the paper's side by side, the claimed side of the threshold shaded.
- :func:`adversarial_grid`: clean / adversarial / perturbation / predictions (DS Fig 6), with a class
  legend; :func:`examples_figure` lays out several methods' examples with every target's prediction.
"""
from __future__ import annotations

import json
from typing import Mapping, Sequence

# No matplotlib.use() here: a library must not switch the caller's backend (notebooks show figures
# inline; headless scripts fall back to Agg by themselves).
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import NullFormatter, ScalarFormatter

from segrepro.report.figstyle import (axis_label, colours, figure, grid_shape, house,
                                      legend_outside, spread_labels)
from segrepro.report.maps import _colour, adversarial_grid, class_legend, class_names, examples_figure  # noqa: F401
from segrepro.report.tables import select, summarise
from segrepro.report.transfer import Key, curve, label as method_label

#: Legend entry that explains the dashed white-box curves (the attacked model is the source itself).
WHITEBOX = Line2D([], [], color="0.3", ls="--", label="white-box (target = source)")
PAPER_MARKER = dict(marker="X", s=55, color="k", zorder=4)


def _axes(ax, height: float = 3.4):
    if ax is None:
        fig, axes = figure(1, 1, panel_height=height)
        return fig, axes[0, 0]
    return ax.figure, ax


def iteration_axis(ax, iterations) -> None:
    """A log-scaled iteration axis labelled with the snapshot iterations themselves (1, 5, 10, ...)."""
    its = sorted({int(i) for i in iterations if i > 0})
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())
    if 0 < len(its) <= 10:
        ax.set_xticks(its, [str(i) for i in its])
    else:
        ax.xaxis.set_major_formatter(ScalarFormatter())


def _band(ax, s: pd.DataFrame, x: str, label: str, scale: float, **kw):
    s = s.sort_values(x)
    (line,) = ax.plot(s[x], s["mean"] * scale, marker="o", ms=3.5, label=label, **kw)
    if s["low"].notna().any():
        ax.fill_between(s[x], s["low"] * scale, s["high"] * scale, color=line.get_color(), alpha=0.15, lw=0)
    return line


def miou_vs_iterations(df: pd.DataFrame, *, source: str, method: str | Sequence[str] | None = None,
                       preset: str | None = None, eps: float | None = None, metric: str = "miou",
                       targets: Sequence[str] | None = None, paper: pd.DataFrame | None = None,
                       scale: float = 100.0, logx: bool = True, ax=None, legend: bool = True,
                       colors: Mapping[str, tuple] | None = None):
    """Target metric vs iterations for examples made on ``source``, one line per (method, target).

    The source itself, when among the targets, is drawn dashed: that curve is the white-box attack,
    the others are transfer.

    Args:
        df: Tidy rows of a study (several snapshots per cell).
        source: The source model.
        method, preset, eps: Filters (a list of methods draws each).
        metric: ``"miou"`` (in %), ``"mis_ratio"``, ``"asr"``, ``"accuracy"``.
        targets: Targets to draw (default: all).
        paper: Optional paper points, columns ``target``, ``iteration``, ``value`` (already in %), drawn as
            crosses in the target's colour next to our curve.
        scale: Multiply our values (100 for %). logx: log-scaled iteration axis.
        ax: Draw into these axes. legend: Add a legend below the axes.
        colors: Colour per line key (target, or method label when several methods are drawn).

    Returns:
        The Figure.
    """
    rows = select(df, source=source, method=method, preset=preset, eps=eps, metric=metric, eval_scale="1")
    if targets is not None:
        rows = select(rows, target=list(targets))
    if rows.empty:
        raise ValueError(f"no {metric} rows for source={source!r}, method={method!r}, preset={preset!r}, eps={eps!r}")
    with house():
        fig, ax = _axes(ax)
        s = summarise(rows, by=["method", "params", "target", "iteration"], band="range")
        multi = s["method"].nunique() > 1 or s["params"].nunique() > 1
        several_targets = s["target"].nunique() > 1
        keys = [method_label(m, p) if multi else t for m, p, t in zip(s["method"], s["params"], s["target"])]
        colors = dict(colors or {}) or colours(keys)
        whitebox = False
        for (m, p, t), g in s.groupby(["method", "params", "target"], sort=True):
            key = method_label(m, p) if multi else t
            label = f"{key}: {t}" if multi and several_targets else key
            whitebox |= t == source
            _band(ax, g, "iteration", label, scale, ls="--" if t == source else "-", color=colors.get(key))
        if paper is not None and len(paper):
            for t, g in paper.groupby("target"):
                ax.scatter(g["iteration"], g["value"], label=f"paper: {t}", **{**PAPER_MARKER, "color": colors.get(t, "k")})
        if logx:
            iteration_axis(ax, s["iteration"])
        ax.set(xlabel=axis_label("iteration"), ylabel=axis_label(metric, scale),
               title=f"source {source}" + (f", eps {eps:g}" if eps is not None else ""))
        if legend:
            handles, labels = ax.get_legend_handles_labels()
            if whitebox and len(s["target"].unique()) > 1:
                handles, labels = [*handles, WHITEBOX], [*labels, WHITEBOX.get_label()]
            legend_outside(ax, handles, labels)
    return fig


def curves_by_source(df: pd.DataFrame, grid: str, *, method: str, eps: float, preset: str | None = None,
                     metric: str = "miou", sources=None, title: str = ""):
    """One panel of :func:`miou_vs_iterations` per source, on one grid (DS Figs 1, 3-5, 7).

    Panels go two per row at the page width; one legend below the figure gives each target's colour
    (the same in every panel) and the dashed white-box line.

    Args:
        df: The study's rows. grid: e.g. ``"transfer"``, ``"long"`` or ``"classification"``.
        method, eps, preset: Filters. metric: ``"miou"`` or ``"accuracy"``.
        sources: Panels (default: every source of the grid). title: Figure title.
    """
    rows = select(df, grid=grid, method=method, preset=preset, eps=eps, metric=metric)
    sources = list(sources or dict.fromkeys(rows["source"]))
    if rows.empty or not sources:
        raise ValueError(f"no {metric} rows in grid {grid!r} for method={method!r}, eps={eps}, preset={preset!r}")
    nrows, ncols = grid_shape(len(sources))
    fig, axes = figure(nrows, ncols, panel_height=2.9, sharey=True)
    colors = colours(sorted(rows["target"].unique()))
    with house():
        for ax, src in zip(axes.flat, sources):
            miou_vs_iterations(rows, source=src, metric=metric, ax=ax, legend=False, colors=colors)
            ax.set_title(f"source {src}")
        for ax in list(axes.flat)[len(sources):]:
            ax.set_axis_off()
        for ax in axes[:, 1:].flat:  # the y axis is shared: its label once per row
            ax.set_ylabel("")
        handles = [Line2D([], [], color=c, marker="o", ms=3.5, label=t) for t, c in colors.items()]
        legend_outside(fig, [*handles, WHITEBOX], [*colors, WHITEBOX.get_label()], ncol=min(4, len(handles) + 1),
                       title="target model")
        if title:
            fig.suptitle(title)
    return fig


def transfer_curves(df: pd.DataFrame, keys: Sequence[Key], *, metric: str = "miou", scale: float = 100.0,
                    title: str = "", ax=None):
    """Mean transfer ``metric`` (over source/target pairs) vs attack iterations, one line and seed band
    per method ``(method, params)`` key; the transfer studies' own methods solid, the others dashed."""
    with house():
        fig, ax = _axes(ax, height=3.6)
        its: set = set()
        for k in keys:
            c = curve(df, k, metric=metric)
            if len(c):
                _band(ax, c, "iteration", method_label(*k), scale,
                      ls="-" if k[0].startswith(("transegpgd", "segtrans")) else "--")
                its.update(c["iteration"])
        iteration_axis(ax, sorted(its))
        ax.set(xlabel=axis_label("iteration"), ylabel=axis_label(metric, scale, prefix="mean transfer"), title=title)
        legend_outside(ax, ncol=4, title="solid: TranSegPGD and SegTrans variants; dashed: baselines")
    return fig


def _row_source(index) -> str:
    return str(index[0]) if isinstance(index, tuple) else str(index)


def transfer_heatmap(table: pd.DataFrame, *, title: str | None = None, fmt: str = "{:.1f}",
                     cmap: str = "viridis", ax=None):
    """Heatmap of a ``pivot_transfer_table`` (rows source/method, columns targets), values annotated.

    Cells where the target is the row's source are the white-box attack: they are outlined and the
    legend says so.
    """
    values = table.apply(pd.to_numeric, errors="coerce")
    if values.empty:
        raise ValueError("empty transfer table")
    arr = values.to_numpy(dtype=float)
    with house():
        fig, ax = _axes(ax, height=0.36 * values.shape[0] + 1.6)
        im = ax.imshow(arr, cmap=cmap, aspect="auto")
        ax.grid(False)
        ax.set_xticks(range(values.shape[1]), [str(c) for c in values.columns], rotation=30, ha="right")
        ax.set_yticks(range(values.shape[0]), ["clean (no attack)" if _row_source(i) == "clean" else
                                               " / ".join(map(str, i)) if isinstance(i, tuple) else str(i)
                                               for i in values.index])
        norm = im.norm
        for (r, c), v in np.ndenumerate(arr):
            if np.isfinite(v):
                lum = np.dot(plt.get_cmap(cmap)(norm(v))[:3], [0.299, 0.587, 0.114])
                ax.text(c, r, fmt.format(v), ha="center", va="center", color="white" if lum < 0.5 else "black")
        marked = False
        for r, idx in enumerate(values.index):
            for c, col in enumerate(values.columns):
                if _row_source(idx) == str(col):
                    ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, ec="red", lw=2))
                    marked = True
        ax.set(xlabel="target model", ylabel="source model / method")
        fig.colorbar(im, ax=ax, shrink=0.8, label=title or "target mIoU (%)")
        ax.set_title(title or "target mIoU (%) on adversarial examples")
        if marked:
            legend_outside(fig, [Patch(fill=False, ec="red", lw=2)], ["white-box (target = source)"])
    return fig


def param_ablation(df: pd.DataFrame, *, param: str, source: str, target: str | Sequence[str],
                   method: str | None = None, iteration: int | None = None, metric: str = "miou",
                   preset: str | None = None, eps: float | None = None, paper: pd.DataFrame | None = None,
                   scale: float = 100.0, ax=None):
    """A metric vs one method parameter (e.g. DS Fig 8: mIoU of FCN8s on examples from PSPNet vs ``lam``).

    Args:
        df: Tidy rows; ``param`` is read from the ``params`` JSON (cells without it are skipped).
        param: Parameter name, e.g. ``"lam"``.
        source, target, method, preset, eps: Filters.
        iteration: Snapshot to use (default: the last).
        paper: Optional paper points, columns ``param`` value under the same name and ``value`` (%).

    Returns:
        The Figure.
    """
    rows = select(df, source=source, target=target, method=method, metric=metric, preset=preset, eps=eps,
                  eval_scale="1").copy()
    rows[param] = rows["params"].map(lambda p: json.loads(p).get(param))
    rows = rows[rows[param].notna()]
    if rows.empty:
        raise ValueError(f"no rows with parameter {param!r} for source={source!r}, target={target!r}")
    it = iteration if iteration is not None else int(rows["iteration"].max())
    s = summarise(rows[rows["iteration"] == it], by=["target", param], band="range")
    with house():
        fig, ax = _axes(ax)
        colors = colours(sorted(s["target"].unique()))
        for t, g in s.groupby("target"):
            _band(ax, g, param, f"ours: {t}" + (" (white-box)" if t == source else ""), scale,
                  color=colors[t], ls="--" if t == source else "-")
        if paper is not None and len(paper):
            ax.scatter(paper[param], paper["value"], label="paper", **PAPER_MARKER)
        ax.set(xlabel=axis_label(param), ylabel=axis_label(metric, scale),
               title=f"{method or ''} on {source}, iteration {it}".strip())
        legend_outside(ax)
    return fig


def cost_transfer_frontier(df: pd.DataFrame, *, cost: str = "seconds_per_example", metric: str = "miou",
                           preset: str | None = None, eps: float | None = None, iteration: int | None = None,
                           scale: float = 100.0, ax=None):
    """Cost per adversarial example vs mean transfer metric (targets other than the source), per method.

    Lower-left is better for mIoU. The Pareto front (no method both cheaper and lower) is drawn as a step
    line; method labels are spread so that they do not overlap.
    """
    rows = select(df, preset=preset, eps=eps)
    rows = rows[rows["method"] != "clean"]
    c = rows[rows["metric"] == cost].groupby(["method", "params"])["value"].mean().rename("cost")
    q = rows[(rows["metric"] == metric) & (rows["source"] != rows["target"]) & (rows["eval_scale"] == "1")]
    if iteration is None:
        q = q[q["iteration"] == q.groupby(["method", "params", "source"])["iteration"].transform("max")]
    else:
        q = q[q["iteration"] == iteration]
    pts = pd.concat([c, q.groupby(["method", "params"])["value"].mean().rename("quality") * scale], axis=1).dropna()
    if pts.empty:
        raise ValueError(f"no methods with both {cost!r} and transfer {metric!r} rows")
    with house():
        fig, ax = _axes(ax, height=max(3.6, 0.22 * len(pts) + 1.2))
        ax.scatter(pts["cost"], pts["quality"], s=30, zorder=3)
        if pts["cost"].min() > 0 and pts["cost"].max() / pts["cost"].min() > 20:
            ax.set_xscale("log")
        front = pts.sort_values("cost")
        front = front[front["quality"] <= front["quality"].cummin()]
        ax.step(front["cost"], front["quality"], where="post", color="k", lw=1, alpha=0.6, label="Pareto front")
        ax.set(xlabel=axis_label(cost), ylabel=axis_label(metric, scale, prefix="mean transfer"))
        ax.margins(x=0.25, y=0.1)
        fig.canvas.draw()  # fixes the limits that the label placement reads
        spread_labels(ax, pts["cost"].to_numpy(), pts["quality"].to_numpy(),
                      [m if p == "{}" else f"{m} {p}" for m, p in pts.index])
        legend_outside(ax)
    return fig


def interval_plot(table: pd.DataFrame, *, label: str = "label", value: str = "value", low: str = "low",
                  high: str = "high", paper: str | None = "paper_value", xlabel: str = "", threshold: float = 0.0,
                  claimed: str | None = None, title: str = "", ax=None):
    """One row per item: our value with its 95 % interval, the paper's value beside it (e.g. DS - FS per pair).

    Args:
        table: One row per item; columns ``label``, ``value``, ``low``, ``high`` and optionally ``paper``.
        xlabel: The quantity in words with its unit, e.g. ``"DS - FS transfer mIoU (points)"``.
        threshold: Drawn as a vertical line. claimed: ``"lower"`` or ``"higher"``: the side the claim
            predicts, shaded.
        title: Axes title.

    Returns:
        The Figure.
    """
    if table.empty:
        raise ValueError("interval_plot needs at least one row")
    t = table.reset_index(drop=True)
    y = np.arange(len(t))[::-1].astype(float)
    with house():
        fig, ax = _axes(ax, height=0.34 * len(t) + 1.5)
        ax.grid(False, axis="y")
        v = t[value].astype(float).to_numpy()
        lo = t[low].astype(float).to_numpy() if low in t else np.full(len(t), np.nan)
        hi = t[high].astype(float).to_numpy() if high in t else np.full(len(t), np.nan)
        has = np.isfinite(lo) & np.isfinite(hi)
        if has.any():
            ax.errorbar(v[has], y[has], xerr=[v[has] - lo[has], hi[has] - v[has]], fmt="o", color="C0", capsize=3,
                        label="ours (95 % interval)")
        if (~has).any():
            ax.plot(v[~has], y[~has], "o", mfc="white", color="C0",
                    label="ours (no interval)" if has.any() else "ours")
        if paper and paper in t and pd.to_numeric(t[paper], errors="coerce").notna().any():
            ax.scatter(pd.to_numeric(t[paper], errors="coerce"), y - 0.28, label="paper", **PAPER_MARKER)
        ax.axvline(threshold, color="0.3", lw=1)
        if claimed in ("lower", "higher"):
            lo_x, hi_x = ax.get_xlim()
            span = (lo_x, threshold) if claimed == "lower" else (threshold, hi_x)
            ax.axvspan(*span, color="C2", alpha=0.08, lw=0, label="claimed side")
            ax.set_xlim(lo_x, hi_x)
        ax.set_yticks(y, [str(s) for s in t[label]])
        ax.set(xlabel=xlabel, title=title)
        legend_outside(ax)
    return fig

