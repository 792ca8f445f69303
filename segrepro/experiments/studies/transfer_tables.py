"""Table, figure and claim helpers shared by the transfer studies (``transegpgd`` and ``segtrans``).

Both notebooks compare attack methods by their **mean transfer** value: for one seed, the mean of a
metric over every ``(source, target)`` pair with ``target != source`` (``eval_scale == "1"``) at one
iteration. Methods are identified by ``(method, params)``; :func:`label` gives the display name.

Replicates of a claim **[ours]**: per seed when both compared methods ran several seeds (a
deterministic method's one value is paired with every seed of a random one, as the DS study does).
When *both* are deterministic (BIM-like methods without random start or input transform: seeds
change nothing), the replicates are the ``(source, target)`` pairs instead, and the claim comment says so.
"""
from __future__ import annotations

import json
import math
from typing import Sequence

import numpy as np
import pandas as pd

from segrepro.experiments.claims import mean_ci, verdict

Key = tuple[str, str]  # (method, canonical params JSON)


def key(method: str, params: dict | str | None = None) -> Key:
    """``(method, params JSON)`` as stored in the ``method`` / ``params`` columns."""
    if isinstance(params, str):
        return method, params
    return method, json.dumps(dict(params or {}), sort_keys=True, separators=(",", ":"))


def label(method: str, params: str = "{}") -> str:
    """Display name: ``"transegpgd"`` or ``"transegpgd gamma=0.3"``."""
    p = json.loads(params) if params else {}
    if not p:
        return method
    parts = [f"{k}={'/'.join(map(str, v)) if isinstance(v, list) else v}" for k, v in sorted(p.items())]
    return f"{method} {' '.join(parts)}"


def is_deterministic(method: str) -> bool:
    """True when seeds change nothing: no random start and no random input transform."""
    from segrepro.attacks.methods import get_method

    m = get_method(method)
    return not m.random_start and not m.inputs


def _iteration(rows: pd.DataFrame, iteration: int | str) -> pd.DataFrame:
    if iteration == "last":
        last = rows.groupby(["source", "method", "params", "seed"])["iteration"].transform("max")
        return rows[rows["iteration"] == last]
    if isinstance(iteration, (int, np.integer)):
        return rows[rows["iteration"] == int(iteration)]
    raise ValueError(f"iteration must be an int or 'last', got {iteration!r}")


def pair_values(df: pd.DataFrame, k: Key, *, metric: str = "miou", iteration: int | str = "last",
                white_box: bool = False) -> pd.DataFrame:
    """Rows ``(seed, source, target, value)`` of one method: transfer pairs (or the white-box rows)."""
    rows = df[(df["method"] == k[0]) & (df["params"] == k[1]) & (df["metric"] == metric)
              & (df["eval_scale"] == "1")]
    rows = rows[(rows["source"] == rows["target"]) == white_box]
    rows = _iteration(rows, iteration)
    return rows[["seed", "source", "target", "iteration", "value"]].reset_index(drop=True)


def per_seed(df: pd.DataFrame, k: Key, **kw) -> pd.Series:
    """Mean transfer value of one method per seed (index: seed). Empty when the method is absent."""
    rows = pair_values(df, k, **kw)
    return rows.groupby("seed")["value"].mean()


def paired(a: pd.DataFrame, b: pd.DataFrame, *, value=lambda r: r["value"].mean()) -> tuple[list, list, str]:
    """Pair two methods' rows (from :func:`pair_values`) into replicate lists and name the unit.

    Returns:
        ``(values_a, values_b, unit)`` with ``unit`` ``"seeds"`` or ``"source-target pairs"``.

    Raises:
        ValueError: One side has no rows.
    """
    if a.empty or b.empty:
        raise ValueError("both methods need stored transfer rows to be compared")
    sa, sb = sorted(a["seed"].unique()), sorted(b["seed"].unique())
    if len(sa) == 1 and len(sb) == 1:
        on = ["source", "target"]
        m = a.merge(b, on=on, suffixes=("_a", "_b"))
        return m["value_a"].tolist(), m["value_b"].tolist(), "source-target pairs"
    seeds = sb if len(sa) == 1 else sa if len(sb) == 1 else sorted(set(sa) & set(sb))
    pick = lambda rows, s: rows if rows["seed"].nunique() == 1 else rows[rows["seed"] == s]  # noqa: E731
    return ([value(pick(a, s)) for s in seeds], [value(pick(b, s)) for s in seeds], "seeds")


def compare(df: pd.DataFrame, a: Key, b: Key, *, expect: str, metric: str = "miou",
            iteration: int | str = "last", white_box: bool = False, scale: float = 100.0, margin: float = 0.0):
    """Verdict on ``a - b`` (paired, see the module docstring), in ``scale`` units.

    Returns:
        ``(Verdict, unit)``.
    """
    ra = pair_values(df, a, metric=metric, iteration=iteration, white_box=white_box)
    rb = pair_values(df, b, metric=metric, iteration=iteration, white_box=white_box)
    va, vb, unit = paired(ra, rb)
    return verdict(np.asarray(va) * scale, baseline=np.asarray(vb) * scale, expect=expect, margin=margin), unit


def method_table(df: pd.DataFrame, keys: Sequence[Key], *, metric: str = "miou", iteration: int | str = "last",
                 scale: float = 100.0) -> pd.DataFrame:
    """One row per method: mean transfer (mean and 95 % interval over seeds), per source, white-box.

    Returns:
        Columns ``method``, ``transfer``, ``low``, ``high``, ``seeds``, ``from <source>`` for each source,
        ``white-box``; values in ``scale`` units.
    """
    out = []
    for k in keys:
        rows = pair_values(df, k, metric=metric, iteration=iteration)
        if rows.empty:
            continue
        mean, low, high = mean_ci(rows.groupby("seed")["value"].mean().tolist())
        rec = {"method": label(*k), "transfer": mean * scale, "low": low * scale, "high": high * scale,
               "seeds": rows["seed"].nunique()}
        for src, g in rows.groupby("source"):
            rec[f"from {src}"] = g["value"].mean() * scale
        wb = pair_values(df, k, metric=metric, iteration=iteration, white_box=True)
        rec["white-box"] = wb["value"].mean() * scale if len(wb) else math.nan
        out.append(rec)
    return pd.DataFrame(out)


def curve(df: pd.DataFrame, k: Key, *, metric: str = "miou") -> pd.DataFrame:
    """Mean transfer value vs iteration (columns ``iteration``, ``mean``, ``low``, ``high``)."""
    rows = df[(df["method"] == k[0]) & (df["params"] == k[1]) & (df["metric"] == metric)
              & (df["eval_scale"] == "1") & (df["source"] != df["target"])]
    per = rows.groupby(["iteration", "seed"])["value"].mean().reset_index()
    recs = [(it, *mean_ci(g["value"].tolist())) for it, g in per.groupby("iteration")]
    return pd.DataFrame(recs, columns=["iteration", "mean", "low", "high"])


def curves_figure(df: pd.DataFrame, keys: Sequence[Key], *, metric: str = "miou", scale: float = 100.0,
                  title: str = ""):
    """Mean transfer ``metric`` vs attack iterations, one line (and seed band) per method."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4), constrained_layout=True)
    for k in keys:
        c = curve(df, k, metric=metric)
        if c.empty:
            continue
        (line,) = ax.plot(c["iteration"], c["mean"] * scale, marker="o", ms=3, label=label(*k),
                          ls="-" if k[0].startswith(("transegpgd", "segtrans")) else "--")
        if c["low"].notna().any():
            ax.fill_between(c["iteration"], c["low"] * scale, c["high"] * scale, color=line.get_color(),
                            alpha=0.12, lw=0)
    ax.set_xscale("log")
    ax.set(xlabel="attack iterations", ylabel=f"mean transfer {metric}{' (%)' if scale == 100 else ''}",
           title=title)
    ax.legend(fontsize=7, ncol=2)
    return fig


def iterations_to_reach(c: pd.DataFrame, level: float) -> float:
    """First iteration at which a curve (columns ``iteration``, ``mean``) reaches ``level``.

    Linear interpolation between snapshots (the curve is taken as 0 before iteration 0); ``inf`` when
    it never does.
    """
    if level <= 0:
        return 0.0
    c = c.sort_values("iteration")
    its = [0.0, *c["iteration"].astype(float)]
    vals = [0.0, *c["mean"].astype(float)]
    for i0, v0, i1, v1 in zip(its, vals, its[1:], vals[1:]):
        if v0 >= level:
            return i0
        if v1 >= level:  # v0 < level <= v1: interpolate inside this segment
            return i0 + (level - v0) / (v1 - v0) * (i1 - i0)
    return math.inf


def verdict_text(claims: pd.DataFrame) -> dict[str, str]:
    """Claim id -> its verdict for prose: ``"partly"``, or ``"2 of 4 reproduced, 1 partly, 1 not reproduced"``."""
    out = {}
    for cid, g in claims.groupby("id", sort=False):
        counts = g["verdict"].value_counts()
        if len(g) == 1:
            out[cid] = str(g["verdict"].iloc[0])
            continue
        parts = [f"{counts.get(v, 0)} {v}" for v in ("reproduced", "partly", "not reproduced") if counts.get(v, 0)]
        out[cid] = f"{len(g)} comparisons: " + ", ".join(parts)
    return out
