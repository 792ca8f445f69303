"""The quantities the DS claims speak of, as bootstrap statistics over images.

Every function here returns a :class:`Measure`: a statistic ``w -> (B,)`` over bootstrap weights
``w[b, s, i]`` (``segrepro.report.outcomes``) and the arms (per-image counts,
``segrepro.report.evidence``) it reads, so that :func:`estimate` gives the value and its percentile
interval over images, stratified by seed. Arms read under the same weights are paired: FS and DS on
the same images, each DS seed with the one FS run (FS is deterministic).

Readings **[ours]**, each the paper's where it says one:

- DS - FS (Tables 1-3): DS at its last iteration, FS at its best snapshot *for the pair* (the lowest
  mIoU; the paper reports FS "at its best iteration", Sec. 6). The best snapshot is chosen inside
  every resample, so the selection is part of the statistic and its optimism is in the interval.
- Overfitting (Sec. 5, Fig. 7; Sec. 4 for classifiers): the mean target metric at the last iteration
  minus at a fixed reference iteration (5 for segmentation, 20 for classifiers). A rise is
  overfitting, a fall is none; the same quantity serves a claim and its negation. (The rise from the
  minimum over iterations would be >= 0 by construction.)
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from segrepro.report.evidence import Arm, Evidence, MissingEvidence, shape
from segrepro.report.outcomes import Estimate, bootstrap
from segrepro.report.tables import select
from segrepro.run.counts import CountStore
from segrepro.studies.dynamic_scaling.grids import DS, FS, NAME


@dataclass(frozen=True)
class Measure:
    """A statistic over bootstrap weights and the arms it reads (for the sample shape)."""

    stat: Callable[[np.ndarray], np.ndarray]
    arms: tuple[Arm, ...]

    def estimate(self) -> Estimate:
        return estimate(self)

    def value(self) -> float:
        """The value on all images (no resampling)."""
        n, seeds = shape(*self.arms)
        return float(self.stat(np.ones((1, seeds, n)))[0])


def estimate(m: Measure) -> Estimate:
    """Value and 95 % percentile interval of ``m`` over images (stratified by seed)."""
    n, seeds = shape(*m.arms)
    return bootstrap(m.stat, n, seeds)


def mean_of(measures: Sequence[Measure]) -> Measure:
    """The mean of several measures under the same resample (a claim's summary over its parts)."""
    if not measures:
        raise MissingEvidence("nothing to average")
    stats = [m.stat for m in measures]
    return Measure(lambda w: np.mean([s(w) for s in stats], axis=0), tuple(a for m in measures for a in m.arms))


def difference(a: Measure, b: Measure) -> Measure:
    """``a - b`` under the same resample."""
    return Measure(lambda w: a.stat(w) - b.stat(w), (*a.arms, *b.arms))


class Reader:
    """The study's rows and the per-image counts behind them.

    Args:
        df: The study's tidy rows (``Study.results``).
        evidence: Where the counts are (``segrepro.report.evidence.Evidence``).
    """

    def __init__(self, df: pd.DataFrame, evidence: Evidence):
        self.df, self.ev = df, evidence

    @classmethod
    def of(cls, df: pd.DataFrame, profile) -> "Reader":
        return cls(df, Evidence.of(profile, NAME))

    def rows(self, **where) -> pd.DataFrame:
        """Attack rows (mIoU, no clean rows) matching ``where`` (``eval_scale`` defaults to ``"1"``)."""
        where = {"eval_scale": "1", "metric": "miou", **where}
        rows = select(self.df, **where)
        return rows[rows["method"] != "clean"]

    def iterations(self, **where) -> list[int]:
        rows = self.rows(**where)
        if rows.empty:
            raise MissingEvidence(f"no rows for {where}")
        return sorted(int(t) for t in rows["iteration"].unique())

    def arm(self, *, target: str, iteration: int, eval_scale: str = "1", **where) -> Arm:
        """The counts of ``target`` at ``iteration`` in the cells matching ``where`` (one per seed)."""
        where = {k: v for k, v in where.items() if v is not None}
        return self.ev.arm(self.df, target=target, iteration=int(iteration), eval_scale=eval_scale, **where)


# --- DS minus FS ------------------------------------------------------------------------------------

def pairs(r: Reader, *, grid: str, preset: str, eps: float, at: bool = False, sources=None) -> list[tuple[str, str]]:
    """Transfer pairs ``(source, target)`` with FS and DS rows (``at``: only adversarially trained targets)."""
    rows = r.rows(grid=grid, preset=preset, eps=eps, method=[FS, DS])
    if sources is not None:
        rows = rows[rows["source"].isin(list(sources))]
    both = rows.groupby(["source", "target"])["method"].nunique()
    ok = {k for k, n in both.items() if n == 2}
    out = [(s, t) for s, t in dict.fromkeys(zip(rows["source"], rows["target"]))
           if s != t and ("@" in t) == at and (s, t) in ok]
    if not out:
        raise MissingEvidence(f"no FS and DS transfer pairs in grid {grid!r}, preset {preset}, eps {eps:g}")
    return out


def fs_best(r: Reader, *, target: str, upto: int | None = None, **where) -> Measure:
    """FS mIoU (points) at its best snapshot (lowest, chosen in every resample), snapshots up to ``upto``."""
    its = [t for t in r.iterations(method=FS, target=target, **where) if upto is None or t <= upto]
    arms = [r.arm(target=target, iteration=t, method=FS, **where) for t in its]
    return Measure(lambda w: 100 * np.min([a.miou(w) for a in arms], axis=0), tuple(arms))


def last_miou(r: Reader, *, target: str, method: str, iteration: int | None = None, **where) -> Measure:
    """mIoU (points) at ``iteration`` (default: the last one of the rows)."""
    t = iteration or r.iterations(method=method, target=target, **where)[-1]
    arm = r.arm(target=target, iteration=t, method=method, **where)
    return Measure(lambda w: 100 * arm.miou(w), (arm,))


def ds_minus_fs(r: Reader, *, source: str, target: str, ds_iteration: int | None = None, eval_scale: str = "1",
                fs_last: bool = False, **where) -> Measure:
    """DS mIoU at its last iteration (or ``ds_iteration``) minus FS mIoU at its best snapshot up to the
    same iteration (``fs_last``: at its last one, e.g. the single-snapshot scales grid)."""
    where = dict(where, source=source, eval_scale=eval_scale)
    ds = last_miou(r, target=target, method=DS, iteration=ds_iteration, **where)
    upto = ds_iteration or r.iterations(method=DS, target=target, **where)[-1]
    fs = (last_miou(r, target=target, method=FS, iteration=upto, **where) if fs_last
          else fs_best(r, target=target, upto=upto, **where))
    return difference(ds, fs)


# --- overfitting: last minus reference ------------------------------------------------------------

def rise(r: Reader, *, source: str, method: str, reference: int, last: int | None = None,
         targets: Sequence[str] | None = None, **where) -> Measure:
    """Mean over transfer targets of mIoU at ``last`` (default: the last iteration) minus at ``reference``."""
    rows = r.rows(source=source, method=method, **where)
    targets = list(targets or [t for t in dict.fromkeys(rows["target"]) if t != source and "@" not in t])
    if not targets:
        raise MissingEvidence(f"no transfer targets of {source}")
    its = sorted(int(t) for t in rows["iteration"].unique())
    last = last or its[-1]
    if reference not in its or last not in its or last <= reference:
        raise MissingEvidence(f"no iterations {reference} and {last} of {source} ({method})")
    ends = [(r.arm(target=t, iteration=last, method=method, source=source, **where),
             r.arm(target=t, iteration=reference, method=method, source=source, **where)) for t in targets]
    return Measure(lambda w: 100 * np.mean([a.miou(w) - b.miou(w) for a, b in ends], axis=0),
                   tuple(a for pair in ends for a in pair))


# --- Fig. 8: the scale ratio ----------------------------------------------------------------------

def lam_of(params: str, default: float) -> float:
    """The DS ratio of a ``params`` JSON (``default`` when it sets none)."""
    return float(json.loads(params or "{}").get("lam", default))


def lambda_miou(r: Reader, *, lam: float, default: float, source: str, target: str, preset: str, eps: float,
                steps: int) -> Measure:
    """Target mIoU (points) of DS with ratio ``lam`` after ``steps`` iterations: ratio 0 is FS (the
    transfer grid's FS at ``steps``), the default ratio the transfer grid's DS, others the lambda grid's."""
    where = dict(source=source, preset=preset, eps=eps)
    if lam == 0.0:
        return last_miou(r, target=target, method=FS, iteration=steps, grid="transfer", **where)
    if np.isclose(lam, default):
        return last_miou(r, target=target, method=DS, iteration=steps, grid="transfer", **where)
    rows = r.rows(grid="lambda", method=DS, target=target, **where)
    params = [p for p in dict.fromkeys(rows["params"]) if np.isclose(lam_of(p, default), lam)]
    if not params:
        raise MissingEvidence(f"no lambda={lam:g} rows")
    return last_miou(r, target=target, method=DS, iteration=steps, grid="lambda", params=params[0], **where)


# --- Sec. 4: classifiers ----------------------------------------------------------------------------

class ClassifierReader:
    """Per-image correct flags of the classification study (``classification.run``)."""

    def __init__(self, df: pd.DataFrame, store: CountStore):
        self.df, self.store = df, store
        self.rows = select(df, grid="classification", method=FS, metric="accuracy")
        if self.rows.empty:
            raise MissingEvidence("no classification rows")

    @classmethod
    def of(cls, df: pd.DataFrame, profile) -> "ClassifierReader":
        return cls(df, Evidence.of(profile, NAME).store)

    def pairs(self, eps: float) -> list[tuple[str, str]]:
        rows = select(self.rows, eps=eps)
        return [(s, t) for s, t in dict.fromkeys(zip(rows["source"], rows["target"])) if s != t]

    def iterations(self, eps: float) -> list[int]:
        return sorted(int(t) for t in select(self.rows, eps=eps)["iteration"].unique())

    def arm(self, source: str, target: str, eps: float, iteration: int) -> Arm:
        cells = select(self.rows, eps=eps, source=source, target=target)["cell"].unique()
        if len(cells) != 1:
            raise MissingEvidence(f"not one classification cell for {source} -> {target} at eps {eps:g}, found {len(cells)}")
        try:
            counts = self.store.load(cells[0])[(target, "1", int(iteration))]
        except (FileNotFoundError, KeyError) as err:
            raise MissingEvidence(f"no classification counts of {source} -> {target} ({err})") from None
        return Arm({k: np.asarray(v)[None] for k, v in counts.items()}, (0,))

    def accuracy(self, source: str, target: str, eps: float, iteration: int) -> Measure:
        """Target accuracy (points)."""
        arm = self.arm(source, target, eps, iteration)
        return Measure(lambda w: 100 * arm.ratio("correct", "valid", w), (arm,))

    def rise(self, source: str, target: str, eps: float, reference: int, last: int | None = None) -> Measure:
        """Target accuracy at ``last`` (default: the last iteration) minus at ``reference`` (points)."""
        its = self.iterations(eps)
        last = last or its[-1]
        if reference not in its or last <= reference:
            raise MissingEvidence(f"no classifier iterations {reference} and {last}")
        return difference(self.accuracy(source, target, eps, last), self.accuracy(source, target, eps, reference))
