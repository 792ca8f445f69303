"""The study's figures, each a function of result tables returning a matplotlib ``Figure``.

Every function takes the tidy rows of ``segrepro.run`` (or a table derived from them), draws
our mean over seeds with its 95 % interval where there are several seeds, and puts the paper's
numbers next to ours when given (as separate markers, never merged into our curve).

- :func:`miou_vs_iterations`: target mIoU vs attack iterations for one source (DS Figs 3-5, 7; RP-PGD Fig 2);
  :func:`curves_by_source` draws one panel of it per source, :func:`transfer_curves` the mean transfer
  value per method (TranSegPGD, SegTrans).
- :func:`transfer_heatmap`: the source x target table (DS Tables 1-2).
- :func:`param_ablation`: a metric vs one method parameter (DS Fig 8, scale ratio ``lam``).
- :func:`cost_transfer_frontier`: cost per example vs mean transfer mIoU, with the Pareto front.
- :func:`adversarial_grid`: clean / adversarial / perturbation / predictions (DS Fig 6);
  :func:`examples_figure` lays out several methods' examples with every target's prediction.
"""
from __future__ import annotations

import json
from typing import Mapping, Sequence

# No matplotlib.use() here: a library must not switch the caller's backend (notebooks show figures
# inline; headless scripts fall back to Agg by themselves).
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from segrepro.report.tables import paper_name, select, summarise
from segrepro.report.transfer import Key, curve, label as method_label


def _axes(ax, size=(6, 4)):
    if ax is None:
        fig, ax = plt.subplots(figsize=size, constrained_layout=True)
        return fig, ax
    return ax.figure, ax


def _band(ax, s: pd.DataFrame, x: str, label: str, scale: float, **kw):
    s = s.sort_values(x)
    (line,) = ax.plot(s[x], s["mean"] * scale, marker="o", ms=3, label=label, **kw)
    if s["low"].notna().any():
        ax.fill_between(s[x], s["low"] * scale, s["high"] * scale, color=line.get_color(), alpha=0.15, lw=0)
    return line


def miou_vs_iterations(df: pd.DataFrame, *, source: str, method: str | Sequence[str] | None = None,
                       preset: str | None = None, eps: float | None = None, metric: str = "miou",
                       targets: Sequence[str] | None = None, paper: pd.DataFrame | None = None,
                       scale: float = 100.0, logx: bool = True, ax=None):
    """Target metric vs iterations for examples made on ``source``, one line per (method, target).

    Args:
        df: Tidy rows of a study (several snapshots per cell).
        source: The source model.
        method, preset, eps: Filters (a list of methods draws each).
        metric: ``"miou"`` (in %), ``"mis_ratio"``, ``"asr"``.
        targets: Targets to draw (default: all, the source dashed as white-box).
        paper: Optional paper points, columns ``target``, ``iteration``, ``value`` (already in %).
        scale: Multiply our values (100 for %). logx: log-scaled iteration axis.
        ax: Draw into these axes.

    Returns:
        The Figure.
    """
    rows = select(df, source=source, method=method, preset=preset, eps=eps, metric=metric, eval_scale="1")
    if targets is not None:
        rows = select(rows, target=list(targets))
    if rows.empty:
        raise ValueError(f"no {metric} rows for source={source!r}, method={method!r}, preset={preset!r}, eps={eps!r}")
    fig, ax = _axes(ax)
    s = summarise(rows, by=["method", "params", "target", "iteration"])
    multi = s["method"].nunique() > 1 or s["params"].nunique() > 1
    for (m, p, t), g in s.groupby(["method", "params", "target"], sort=True):
        label = f"{m}{'' if p == '{}' else ' ' + p}: {t}" if multi else t
        _band(ax, g, "iteration", label + (" (white-box)" if t == source else ""), scale,
              ls="--" if t == source else "-")
    if paper is not None and len(paper):
        for t, g in paper.groupby("target"):
            ax.scatter(g["iteration"], g["value"], marker="x", s=40, zorder=3, label=f"paper: {t}")
    if logx:
        ax.set_xscale("log")
    ax.set(xlabel="attack iterations", ylabel=f"{metric}{' (%)' if scale == 100 else ''}",
           title=f"source {source}" + (f", eps {eps}" if eps is not None else ""))
    ax.legend(fontsize=7, ncol=2)
    return fig


def curves_by_source(df: pd.DataFrame, grid: str, *, method: str, eps: float, preset: str | None = None,
                     metric: str = "miou", sources=None, title: str = ""):
    """One panel of :func:`miou_vs_iterations` per source, on one grid (DS Figs 1, 3-5, 7).

    Args:
        df: The study's rows. grid: e.g. ``"transfer"``, ``"long"`` or ``"classification"``.
        method, eps, preset: Filters. metric: ``"miou"`` or ``"accuracy"``.
        sources: Panels (default: every source of the grid). title: Figure title.
    """
    rows = select(df, grid=grid, method=method, preset=preset, eps=eps, metric=metric)
    sources = list(sources or dict.fromkeys(rows["source"]))
    if rows.empty or not sources:
        raise ValueError(f"no {metric} rows in grid {grid!r} for method={method!r}, eps={eps}, preset={preset!r}")
    fig, axes = plt.subplots(1, len(sources), figsize=(4.2 * len(sources), 3.2), squeeze=False,
                             constrained_layout=True)
    for ax, src in zip(axes[0], sources):
        miou_vs_iterations(rows, source=src, metric=metric, ax=ax)
        ax.set_title(f"source {src}", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def transfer_curves(df: pd.DataFrame, keys: Sequence[Key], *, metric: str = "miou", scale: float = 100.0,
                    title: str = "", ax=None):
    """Mean transfer ``metric`` (over source/target pairs) vs attack iterations, one line and seed band
    per method ``(method, params)`` key; the transfer studies' own methods solid, the others dashed."""
    fig, ax = _axes(ax, size=(6.5, 4))
    for k in keys:
        c = curve(df, k, metric=metric)
        if len(c):
            _band(ax, c, "iteration", method_label(*k), scale,
                  ls="-" if k[0].startswith(("transegpgd", "segtrans")) else "--")
    ax.set_xscale("log")
    ax.set(xlabel="attack iterations", ylabel=f"mean transfer {metric}{' (%)' if scale == 100 else ''}",
           title=title)
    ax.legend(fontsize=7, ncol=2)
    return fig


def transfer_heatmap(table: pd.DataFrame, *, title: str | None = None, fmt: str = "{:.1f}",
                     cmap: str = "viridis", ax=None):
    """Heatmap of a ``pivot_transfer_table`` (rows source/method, columns targets), values annotated."""
    values = table.apply(pd.to_numeric, errors="coerce")
    if values.empty:
        raise ValueError("empty transfer table")
    fig, ax = _axes(ax, size=(1.2 * values.shape[1] + 3, 0.45 * values.shape[0] + 1.5))
    im = ax.imshow(values.to_numpy(dtype=float), cmap=cmap, aspect="auto")
    ax.set_xticks(range(values.shape[1]), [str(c) for c in values.columns], rotation=30, ha="right")
    ax.set_yticks(range(values.shape[0]), [" / ".join(map(str, i)) if isinstance(i, tuple) else str(i)
                                           for i in values.index])
    for (r, c), v in np.ndenumerate(values.to_numpy(dtype=float)):
        if np.isfinite(v):
            ax.text(c, r, fmt.format(v), ha="center", va="center", fontsize=7,
                    color="white" if v < np.nanmean(values.to_numpy(dtype=float)) else "black")
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set_title(title or "target mIoU (%) on adversarial examples")
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
    s = summarise(rows[rows["iteration"] == it], by=["target", param])
    fig, ax = _axes(ax)
    for t, g in s.groupby("target"):
        _band(ax, g, param, f"ours: {t}", scale)
    if paper is not None and len(paper):
        ax.scatter(paper[param], paper["value"], marker="x", s=40, color="k", zorder=3, label="paper")
    ax.set(xlabel=param, ylabel=f"{metric}{' (%)' if scale == 100 else ''}",
           title=f"{method or ''} on {source}, iteration {it}".strip())
    ax.legend(fontsize=8)
    return fig


def cost_transfer_frontier(df: pd.DataFrame, *, cost: str = "seconds_per_example", metric: str = "miou",
                           preset: str | None = None, eps: float | None = None, iteration: int | None = None,
                           scale: float = 100.0, ax=None):
    """Cost per adversarial example vs mean transfer metric (targets other than the source), per method.

    Lower-left is better for mIoU. The Pareto front (no method both cheaper and lower) is drawn as a step line.
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
    fig, ax = _axes(ax)
    for (m, p), r in pts.iterrows():
        label = m if p == "{}" else f"{m} {p}"
        ax.scatter(r["cost"], r["quality"], s=30)
        ax.annotate(label, (r["cost"], r["quality"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    front = pts.sort_values("cost")
    front = front[front["quality"] <= front["quality"].cummin()]
    ax.step(front["cost"], front["quality"], where="post", color="k", lw=1, alpha=0.6, label="Pareto front")
    ax.set(xlabel=cost.replace("_", " "), ylabel=f"mean transfer {metric}{' (%)' if scale == 100 else ''}")
    ax.legend(fontsize=8)
    return fig


def _colour(labels: np.ndarray, preset: str | None) -> np.ndarray:
    if preset in ("voc", "cityscapes"):
        from segrepro.data.cityscapes import CITYSCAPES_PALETTE
        from segrepro.data.voc import voc_palette

        table = np.zeros((256, 3), np.uint8)
        colours = voc_palette()[:21] if preset == "voc" else CITYSCAPES_PALETTE
        table[: len(colours)] = colours
        table[255] = 255 if preset == "voc" else 0  # VOC draws its ignore boundary white
        return table[np.asarray(labels, dtype=np.int64).clip(0, 255)]
    if preset is not None:
        from segrepro.data.synthetic import colourise

        return colourise(labels, preset)
    cmap = plt.get_cmap("tab20")
    rgb = (np.asarray(cmap(labels % 20))[..., :3] * 255).astype(np.uint8)
    rgb[labels == 255] = 128
    return rgb


def adversarial_grid(clean, adv, labels, predictions: Mapping[str, "np.ndarray"] | None = None, *,
                     preset: str | None = None, n: int = 4, amplify: float | None = None):
    """Rows of images: clean, adversarial, perturbation (amplified), ground truth, one column per prediction.

    Args:
        clean, adv: ``(N,3,H,W)`` tensors or arrays in [0,1].
        labels: ``(N,H,W)`` class ids (255 = ignore).
        predictions: Column title -> ``(N,H,W)`` predicted ids (e.g. ``{"psp_r18 on adv": ...}``).
        preset: Synthetic preset for its palette (default: a generic colour map).
        n: Images (rows) to show.
        amplify: Perturbation scale for display (default: to fill [0,1] from ``max |adv - clean|``).

    Returns:
        The Figure.
    """
    to_np = lambda t: t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)  # noqa: E731
    clean, adv, labels = to_np(clean)[:n], to_np(adv)[:n], to_np(labels)[:n].astype(np.int64)
    preds = {k: to_np(v)[:n].astype(np.int64) for k, v in (predictions or {}).items()}
    delta = adv - clean
    amp = amplify or 0.5 / max(float(np.abs(delta).max()), 1e-8)
    cols = ["clean", "adversarial", f"perturbation x{amp:.0f}", "ground truth", *preds]
    rows = clean.shape[0]
    fig, axes = plt.subplots(rows, len(cols), figsize=(1.8 * len(cols), 1.8 * rows), squeeze=False,
                             constrained_layout=True)
    for i in range(rows):
        panels = [clean[i].transpose(1, 2, 0), adv[i].transpose(1, 2, 0),
                  np.clip(0.5 + amp * delta[i], 0, 1).transpose(1, 2, 0), _colour(labels[i], preset),
                  *[_colour(p[i], preset) for p in preds.values()]]
        for j, img in enumerate(panels):
            axes[i, j].imshow(np.clip(img, 0, 1) if img.dtype != np.uint8 else img)
            axes[i, j].set_xticks([]), axes[i, j].set_yticks([])
            if i == 0:
                axes[i, j].set_title(cols[j], fontsize=8)
    return fig


def examples_figure(examples: Mapping, n: int = 2):
    """DS Fig 6 style: per image, one row per method (:func:`adversarial_grid`) with every target's
    prediction on the adversarial image and on the clean one.

    Args:
        examples: ``{"clean", "labels", "adv": {method: images}, "pred": {(method or "clean", target): labels},
            "preset", "source"}`` (e.g. ``segrepro.studies.dynamic_scaling.report.visual_examples``).
        n: Images.
    """
    import torch

    methods = list(examples["adv"])
    n = min(n, examples["clean"].shape[0])
    order = [(i, m) for i in range(n) for m in methods]
    clean = torch.stack([examples["clean"][i] for i, _ in order])
    adv = torch.stack([examples["adv"][m][i] for i, m in order])
    labels = torch.stack([examples["labels"][i] for i, _ in order])
    targets = list(dict.fromkeys(t for (_, t) in examples["pred"]))
    preds = {}
    for t in targets:
        mark = " (source)" if t == examples["source"] else ""
        preds[f"{t}{mark}"] = torch.stack([examples["pred"][(m, t)][i] for i, m in order])
    for t in targets:
        preds[f"{t} on clean"] = torch.stack([examples["pred"][("clean", t)][i] for i, _ in order])
    fig = adversarial_grid(clean, adv, labels, preds, preset=examples["preset"], n=len(order))
    cols = 4 + len(preds)
    for r, (i, m) in enumerate(order):
        fig.axes[r * cols].set_ylabel(f"#{i} {paper_name(m)}", fontsize=8)
    return fig
