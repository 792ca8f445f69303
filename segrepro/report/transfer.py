"""Method helpers of the transfer studies (TranSegPGD, SegTrans, comparison): keys, display names, the
methods table's classification of a method, and the mean transfer curve of the figures.

A method's **mean transfer** value is the mean of a metric over every ``(source, target)`` pair with
``target != source`` (``eval_scale == "1"``). Methods are identified by ``(method, params)``; :func:`label`
gives the display name. The claims compare methods with bootstrap intervals over images
(``segrepro.studies.transegpgd.measure``); :func:`curve`'s band is the range over seeds, for figures only.
"""
from __future__ import annotations

import json
import math

import pandas as pd

from segrepro.attacks.methods import get_method
from segrepro.attacks.objectives import CrossEntropy
from segrepro.report.tables import seed_range
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


def curve(df: pd.DataFrame, k: Key, *, metric: str = "miou") -> pd.DataFrame:
    """Mean transfer value vs iteration (columns ``iteration``, ``mean``, ``low``, ``high``)."""
    rows = df[(df["method"] == k[0]) & (df["params"] == k[1]) & (df["metric"] == metric)
              & (df["eval_scale"] == "1") & (df["source"] != df["target"])]
    per = rows.groupby(["iteration", "seed"])["value"].mean().reset_index()
    recs = [(it, *seed_range(g["value"].tolist())) for it, g in per.groupby("iteration")]
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
