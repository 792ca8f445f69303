"""Method comparisons on transfer grids: the table and claim helpers of the TranSegPGD, SegTrans and
comparison studies.

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

from segrepro.attacks.methods import get_method
from segrepro.attacks.objectives import CrossEntropy
from segrepro.report.claims import mean_ci, verdict
from segrepro.run.grid import canonical_params

Key = tuple[str, str]  # (method, canonical params JSON)


def key(method: str, params: dict | str | None = None) -> Key:
    """``(method, params JSON)`` as stored in the ``method`` / ``params`` columns."""
    return method, params if isinstance(params, str) else canonical_params(params)


def label(method: str, params: str = "{}") -> str:
    """Display name: ``"transegpgd"`` or ``"transegpgd gamma=0.3"``."""
    p = json.loads(params) if params else {}
    if not p:
        return method
    parts = [f"{k}={'/'.join(map(str, v)) if isinstance(v, list) else v}" for k, v in sorted(p.items())]
    return f"{method} {' '.join(parts)}"


def is_deterministic(method: str) -> bool:
    """True when seeds change nothing: no random start and no random input transform (methods table)."""
    m = get_method(method)
    return not m.random_start and not m.inputs


def is_transform(method: str) -> bool:
    """True for a method that is only a gradient or input transform around plain BIM (MI, DI, TI, DS, ...):
    it combines with an attack of its own objective (``"transegpgd+mi"``). From the methods table."""
    m = get_method(method)
    return isinstance(m.objective, CrossEntropy) and not m.random_start and not m.one_step and bool(m.inputs or m.grads)


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
