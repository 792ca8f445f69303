"""Bootstrap estimates over the transfer grids of the TranSegPGD and SegTrans studies.

The quantity both studies compare is a method's **mean transfer** metric: the mean over every
``(source, target)`` pair with ``target != source`` of the dataset-level metric (mIoU, ASR or
MisRatio) recomputed from the per-image counts of its cells. :class:`Pairs` holds one
:class:`~segrepro.report.evidence.Arm` per pair; statistics read several methods under the same
bootstrap weights, so every comparison is paired (same images, same seeds; all sources attack the
same images). Values are in points (100 x fraction).

Example:
    >>> m = Measure(profile, df)                                                    # doctest: +SKIP
    >>> ts, pgd = m.pairs(("transegpgd", "{}"), eps=0.03), m.pairs(("bim", "{}"), eps=0.03)  # doctest: +SKIP
    >>> est = m.diff(ts, pgd, "miou")                    # transegpgd - bim, mIoU points   # doctest: +SKIP
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from segrepro.report.evidence import Arm, Evidence, MissingEvidence, shape
from segrepro.report.outcomes import Estimate, bootstrap, format_estimate

METRICS = ("miou", "asr", "mis_ratio")


@dataclass(frozen=True)
class Pairs:
    """The arms of one method over several ``(source, target)`` pairs (one arm per pair)."""

    arms: tuple[Arm, ...]
    names: tuple[str, ...] = ()

    def metric(self, name: str, w: np.ndarray | None = None) -> np.ndarray:
        """Mean over the pairs of ``name`` (fraction) per resample ``(B,)``."""
        if name not in METRICS:
            raise ValueError(f"unknown metric {name!r}; valid: {METRICS}")
        return np.mean([getattr(a, name)(w) for a in self.arms], axis=0)


def dims(*pairs: Pairs) -> tuple[int, int]:
    """``(n_images, n_seeds)`` of paired :class:`Pairs` (every arm on the same images)."""
    return shape(*(a for p in pairs for a in p.arms))


def fmt(e: Estimate | None, digits: int = 2) -> str:
    """``"-3.10 [-4.20, -2.00]"`` (or the value alone when there is no interval; "not measured")."""
    return format_estimate(e, digits)


class Measure:
    """Arms of the rows of a study table (``df``); each row's ``study`` names its counts folder."""

    def __init__(self, profile, df: pd.DataFrame):
        self.profile, self.df = profile, df
        self._evidence: dict[str, Evidence] = {}

    def _rows(self, k, *, eps: float, grid: str | None, source: str) -> pd.DataFrame:
        d = self.df
        rows = d[(d["method"] == k[0]) & (d["params"] == k[1]) & (d["source"] == source)
                 & np.isclose(d["eps"].astype(float), eps)]
        return rows if grid is None else rows[rows["grid"] == grid]

    def arm(self, k, *, source: str, target: str, eps: float, iteration: int, grid: str | None = None) -> Arm:
        """The arm of method ``k`` = ``(method, params)`` from ``source`` on ``target`` at ``iteration``.

        Raises:
            MissingEvidence: no such rows or no counts file.
        """
        rows = self._rows(k, eps=eps, grid=grid, source=source)
        if rows.empty:
            raise MissingEvidence(f"no rows for {k[0]} {k[1]} from {source} at eps {eps:g} (grid {grid})")
        study = str(rows["study"].iloc[0])
        ev = self._evidence.setdefault(study, Evidence.of(self.profile, study))
        return ev.arm(rows[rows["study"] == study], target=target, iteration=iteration)

    def pairs(self, k, *, eps: float, sources: Sequence[str], iteration: int | None = None, grid: str | None = None,
              white_box: bool = False) -> Pairs:
        """Every transfer pair of ``sources`` (or the white-box pair of each source) at ``iteration``
        (default: the profile's ``steps``)."""
        it = self.profile.steps if iteration is None else iteration
        arms, names = [], []
        for s in sources:
            targets = (s,) if white_box else [t for t in dict.fromkeys((*self.profile.targets, *sources)) if t != s]
            for t in targets:
                arms.append(self.arm(k, source=s, target=t, eps=eps, iteration=it, grid=grid))
                names.append(f"{s} -> {t}")
        if not arms:
            raise MissingEvidence(f"no transfer pairs for sources {list(sources)}")
        return Pairs(tuple(arms), tuple(names))

    @staticmethod
    def estimate(statistic: Callable[[np.ndarray], np.ndarray], *pairs: Pairs) -> Estimate:
        """Bootstrap ``statistic(w)`` (points) over the images of ``pairs`` (paired, stratified by seed)."""
        return bootstrap(statistic, *dims(*pairs))

    @classmethod
    def diff(cls, a: Pairs, b: Pairs, metric: str) -> Estimate:
        """``a - b`` in points of ``metric`` (paired)."""
        return cls.estimate(lambda w: 100 * (a.metric(metric, w) - b.metric(metric, w)), a, b)

    @staticmethod
    def point(a: Pairs, metric: str) -> float:
        """One method's mean transfer ``metric`` in points on all images (no bootstrap)."""
        return float(100 * a.metric(metric, None)[0])

    @classmethod
    def value(cls, a: Pairs, metric: str) -> Estimate:
        """One method's mean transfer ``metric`` in points with its interval over images."""
        return cls.estimate(lambda w: 100 * a.metric(metric, w), a)

    @classmethod
    def versus_best(cls, a: Pairs, others: Sequence[Pairs], metric: str, best=np.min) -> Estimate:
        """``a`` minus the best of ``others`` in each resample (``best``: ``np.min`` for mIoU, ``np.max`` for ASR)."""
        return cls.estimate(lambda w: 100 * (a.metric(metric, w) - best([o.metric(metric, w) for o in others],
                                                                          axis=0)), a, *others)


def claim_glue(claims: pd.DataFrame) -> dict:
    """``<claim_id>_outcome`` / ``_value`` / ``_low`` / ``_high`` / ``_n_needed`` / ``_why`` of each claim row, as
    Python ``str`` / ``float`` (NaN when absent), and ``_ours`` (value, interval and n in words, "not measured"
    when absent): the values a notebook glues into its prose."""
    from segrepro.report.present import ours_text

    out = {}
    for _, r in claims[claims["part"].astype(object).fillna("") == ""].iterrows():
        cid = str(r["claim_id"])
        out[f"{cid}_outcome"] = str(r["outcome"])
        for col in ("value", "low", "high", "n_needed"):
            v = r[col]
            out[f"{cid}_{col}"] = float(v) if v is not None and pd.notna(v) else math.nan
        out[f"{cid}_why"] = str(r["why"] or "")
        out[f"{cid}_ours"] = ours_text(r)
    return out


__all__ = ["Measure", "MissingEvidence", "Pairs", "claim_glue", "dims", "fmt"]
