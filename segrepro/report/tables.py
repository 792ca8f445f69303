"""Table helpers for the notebooks: seed summaries, the source x target transfer table, paper values.

Our small models stand in for the papers' ones (:data:`PAPER_NAMES`): ResNet-18 for ResNet-50 and
ResNet-34 for ResNet-101 (width 1/4), ``shapes`` for VOC and ``street`` for Cityscapes, ``bim`` for
the DS paper's FS.

Example:
    >>> df = load_results("embedded", "dynamic_scaling")                       # doctest: +SKIP
    >>> pivot_transfer_table(df, preset="shapes", eps=0.03, iteration="last")  # doctest: +SKIP
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

from segrepro.run.store import COST_METRICS

#: Our model / preset / method names -> the papers' names.
PAPER_NAMES = {
    "fcn8s_vgg16": "FCN8s-VGG16", "fcn16s_vgg16": "FCN16s-VGG16", "psp_r18": "PSPNet-Res50",
    "psp_r34": "PSPNet-Res101", "dlv3_r18": "DeepLabV3-Res50", "dlv3_r34": "DeepLabV3-Res101",
    "shapes": "voc", "street": "cityscapes", "bim": "FS", "fs": "FS", "ds": "DS", "clean": "clean",
}
_SEED_KEYS = ["study", "preset", "grid", "source", "target", "eval_scale", "method", "params", "eps",
              "iteration", "metric"]


def _finite(values: Sequence[float], who: str) -> np.ndarray:
    """The finite values (None and NaN dropped); ``who`` needs at least one."""
    x = np.asarray([v for v in values if v is not None], dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        raise ValueError(f"{who} needs at least one finite value")
    return x


def mean_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t confidence interval over seeds (for figure bands; claims use bootstrap intervals over images).

    Returns:
        ``(mean, low, high)``; ``low``/``high`` are NaN with fewer than two finite values.

    Raises:
        ValueError: No finite value, or ``level`` outside (0, 1).
    """
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    x = _finite(values, "mean_ci")
    mean = float(x.mean())
    if x.size < 2:
        return mean, math.nan, math.nan
    from scipy import stats

    half = float(stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return mean, mean - half, mean + half


def paper_name(name: str) -> str:
    """The paper's name of one of our models/presets/methods (``"psp_r18@PGD3-AT"`` keeps its suffix)."""
    arch, _, suffix = name.partition("@")
    base = PAPER_NAMES.get(arch, arch)
    return f"{base}@{suffix}" if suffix else base


def seed_range(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean, lowest and highest value over seeds (a figure's band: with two or three seeds a t-interval
    is 4-13 times the spread and says nothing; the range shows what the seeds did).

    Returns:
        ``(mean, low, high)``; ``low``/``high`` are NaN with fewer than two finite values.
    """
    x = _finite(values, "seed_range")
    if x.size < 2:
        return float(x.mean()), math.nan, math.nan
    return float(x.mean()), float(x.min()), float(x.max())


def summarise(df: pd.DataFrame, by: Sequence[str] | None = None, level: float = 0.95,
              band: str = "interval") -> pd.DataFrame:
    """Mean and confidence interval (or range) over seeds.

    Args:
        df: Tidy rows (``segrepro.run.store.COLUMNS``).
        by: Grouping columns (default: every key column except ``seed`` and ``cell``).
        level: Confidence level.
        band: ``"interval"`` (Student-t, :func:`mean_ci`) or ``"range"`` (lowest to highest seed,
            :func:`seed_range`: the figures' bands).

    Returns:
        One row per group with ``mean``, ``low``, ``high``, ``n`` (``low``/``high`` NaN for one seed).
    """
    if band not in ("interval", "range"):
        raise ValueError(f"band must be 'interval' or 'range', got {band!r}")
    by = list(by or [c for c in _SEED_KEYS if c in df.columns])
    if df.empty:
        return pd.DataFrame(columns=[*by, "mean", "low", "high", "n"])
    rows = []
    for key, g in df.groupby(by, sort=True, dropna=False):
        values = g["value"].tolist()
        mean, low, high = mean_ci(values, level) if band == "interval" else seed_range(values)
        rows.append({**dict(zip(by, key if isinstance(key, tuple) else (key,))),
                     "mean": mean, "low": low, "high": high, "n": int(g["value"].notna().sum())})
    return pd.DataFrame(rows)


def select(df: pd.DataFrame, **where) -> pd.DataFrame:
    """Rows matching every ``column=value`` (a list/tuple value matches any of its items)."""
    mask = pd.Series(True, index=df.index)
    for col, val in where.items():
        if col not in df.columns:
            raise ValueError(f"no column {col!r}; columns: {list(df.columns)}")
        if val is None:
            continue
        if col == "eps":
            vals = [float(v) for v in (val if isinstance(val, (list, tuple)) else [val])]
            mask &= df[col].apply(lambda e: any(math.isclose(e, v, abs_tol=1e-9) for v in vals))
        else:
            mask &= df[col].isin(list(val) if isinstance(val, (list, tuple, set)) else [val])
    return df[mask]


def pivot_transfer_table(df: pd.DataFrame, *, metric: str = "miou", iteration: int | str = "last",
                         preset: str | None = None, eps: float | None = None, grid: str | None = None,
                         eval_scale: str = "1", scale: float = 100.0, with_clean: bool = True,
                         interval: bool = False) -> pd.DataFrame:
    """The papers' transfer table: rows ``(source, method)``, columns targets, cells mean over seeds.

    Args:
        df: Tidy rows of one study.
        metric: ``"miou"``, ``"mis_ratio"``, ``"asr"`` or ``"rel_drop"``.
        iteration: An iteration, ``"last"`` (largest stored) or ``"best"`` (per source and method, the
            iteration with the lowest mean ``metric`` over the transfer targets, as DS reports FS).
        preset, eps, grid, eval_scale: Filters.
        scale: Multiply values (100: mIoU in %).
        with_clean: Add a ``("clean", "-")`` row of the targets' clean values.
        interval: Cells as ``"mean [low, high]"`` strings instead of numbers.

    Returns:
        A DataFrame indexed by ``(source, method)`` with one column per target.
    """
    if metric in COST_METRICS:
        raise ValueError(f"{metric!r} is a cost metric; use cost_table")
    rows = select(df, preset=preset, grid=grid, eval_scale=eval_scale, metric=metric)
    attacked = select(rows[rows["method"] != "clean"], eps=eps)
    if attacked.empty:
        raise ValueError(f"no rows for metric={metric!r}, preset={preset!r}, eps={eps!r}, grid={grid!r}")
    attacked = _pick_iteration(attacked, iteration)
    s = summarise(attacked, by=["source", "method", "params", "target"])
    s["method"] = [m if p == "{}" else f"{m} {p}" for m, p in zip(s["method"], s["params"])]
    cell = s["mean"] * scale
    if interval:
        cell = [_fmt(m * scale, lo * scale, hi * scale) for m, lo, hi in zip(s["mean"], s["low"], s["high"])]
    table = s.assign(cell=cell).pivot_table(index=["source", "method"], columns="target", values="cell",
                                            aggfunc="first")
    if with_clean:
        clean = rows[rows["method"] == "clean"].groupby("target")["value"].mean() * scale
        if len(clean):
            if interval:
                clean = clean.map(lambda v: f"{v:.2f}")
            table.loc[("clean", "-"), :] = clean.reindex(table.columns)
            table = table.reindex([("clean", "-"), *[i for i in table.index if i != ("clean", "-")]])
    table.columns.name = "target"
    return table


def _pick_iteration(df: pd.DataFrame, iteration: int | str) -> pd.DataFrame:
    if isinstance(iteration, int):
        out = df[df["iteration"] == iteration]
        if out.empty:
            raise ValueError(f"no rows at iteration {iteration}; stored: {sorted(df['iteration'].unique())}")
        return out
    keys = ["source", "method", "params", "eps"]
    if iteration == "last":
        last = df.groupby(keys)["iteration"].transform("max")
        return df[df["iteration"] == last]
    if iteration == "best":
        transfer = df[df["source"] != df["target"]]
        means = transfer.groupby([*keys, "iteration"])["value"].mean().reset_index()
        best = means.loc[means.groupby(keys)["value"].idxmin(), [*keys, "iteration"]]
        return df.merge(best, on=[*keys, "iteration"])
    raise ValueError(f"iteration must be an int, 'last' or 'best', got {iteration!r}")


def _fmt(m: float, lo: float, hi: float) -> str:
    return f"{m:.2f}" if math.isnan(lo) else f"{m:.2f} [{lo:.2f}, {hi:.2f}]"


def cost_table(df: pd.DataFrame) -> pd.DataFrame:
    """Cost per adversarial example by method (and params): seconds, forward and backward passes."""
    cost = df[df["metric"].isin(COST_METRICS)]
    if cost.empty:
        return pd.DataFrame(columns=["method", "params", *COST_METRICS])
    return cost.pivot_table(index=["method", "params"], columns="metric", values="value", aggfunc="mean")


def with_paper_values(ours: pd.DataFrame, paper: str | pd.DataFrame, *, on: Sequence[str] = ("source", "target",
                      "method"), metric: str = "miou", scale: float = 100.0, paper_filter: dict | None = None) -> pd.DataFrame:
    """Our summarised values next to a paper's, matched by the papers' model and method names.

    Args:
        ours: Tidy rows (summarised over seeds here) or the output of :func:`summarise`.
        paper: A ``paper_values`` table name (e.g. ``"ds_table1_voc"``) or its DataFrame.
        on: Key columns present in both (ours are mapped with :func:`paper_name`).
        metric: Our metric (the paper tables give mIoU in %).
        scale: Multiply our values (100: fractions to %).
        paper_filter: ``column=value`` filters on the paper table (e.g. ``{"iterations": 1000}``).

    Returns:
        Columns ``on`` (paper names), ``ours``, ``ours_low``, ``ours_high``, ``n``, ``paper``.
    """
    if isinstance(paper, str):
        from segrepro import paper_values

        paper = paper_values.load(paper)
    paper = select(paper, **(paper_filter or {}))
    on = list(on)
    s = ours if "mean" in ours.columns else summarise(select(ours, metric=metric), by=on)
    s = s.copy()
    for col in on:
        s[col] = s[col].map(lambda v: paper_name(str(v)))
    s = s.rename(columns={"mean": "ours", "low": "ours_low", "high": "ours_high"})
    for col in ("ours", "ours_low", "ours_high"):
        s[col] = s[col] * scale
    p = paper[paper["metric"] == metric].groupby(on, dropna=False)["value"].first().rename("paper").reset_index()
    return s[[*on, "ours", "ours_low", "ours_high", "n"]].merge(p, on=on, how="outer")
