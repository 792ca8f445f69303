"""The RP-PGD study's per-image evidence: one :class:`~segrepro.report.evidence.Arm` per measured quantity.

Every claim and every interval of the chapter reads its counts through :class:`Arms`; comparisons
read several arms with the same bootstrap weights (paired: same images, same seeds), see
:func:`gap` and :func:`estimate`.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from segrepro.report.evidence import Arm, Evidence, MissingEvidence, shape
from segrepro.report.outcomes import Estimate, bootstrap, format_estimate
from segrepro.run.grid import canonical_params
from segrepro.studies.rp_pgd import grids as rp


def estimate(statistic: Callable[[np.ndarray], np.ndarray], *arms: Arm) -> Estimate:
    """Bootstrap ``statistic(w)`` over the images (stratified by seed) of paired ``arms``."""
    return bootstrap(statistic, *shape(*arms))


def _mean_gap_statistic(pairs: list[tuple[Arm, Arm]], metric: str, scale: float) -> Callable:
    return lambda w: np.mean([scale * (getattr(a, metric)(w) - getattr(b, metric)(w)) for a, b in pairs], axis=0)


def gap(a: Arm, b: Arm, metric: str = "miou", scale: float = 100.0) -> Estimate:
    """``scale * (metric(a) - metric(b))`` with its paired interval (points for mIoU / MisRatio)."""
    return mean_gap([(a, b)], metric, scale)


def level(a: Arm, metric: str = "miou", scale: float = 100.0) -> Estimate:
    """``scale * metric(a)`` with its interval."""
    return estimate(lambda w: scale * getattr(a, metric)(w), a)


def mean_gap(pairs: list[tuple[Arm, Arm]], metric: str = "miou", scale: float = 100.0) -> Estimate:
    """Mean over pairs of ``scale * (metric(a) - metric(b))``, all pairs under the same weights."""
    return estimate(_mean_gap_statistic(pairs, metric, scale), *[x for p in pairs for x in p])


def gap_value(pairs: list[tuple[Arm, Arm]], metric: str = "miou", scale: float = 100.0) -> float:
    """:func:`mean_gap`'s value alone, without resampling (for the numbers a ``why`` quotes), paired over the
    images the arms share."""
    n_images, n_seeds = shape(*[x for p in pairs for x in p])
    return float(_mean_gap_statistic(pairs, metric, scale)(np.ones((1, n_seeds, n_images)))[0])


def fmt(e: Estimate | None, digits: int = 2) -> str:
    """``"12.34 [10.10, 14.50]"`` (no interval: the value alone; not measured: ``"-"``)."""
    return format_estimate(e, digits, signed=False, missing="-")


def column_name(kind: str, steps: int) -> str:
    """A battery column: ``PGD20``, ``CW5``, ``BIM5``."""
    return f"{kind}{steps}"


class Arms:
    """The arms of the study's stored rows and counts (``results/<profile>/counts/rp_pgd``)."""

    def __init__(self, df: pd.DataFrame, profile):
        self.df, self.profile = df, profile
        self.ev = Evidence.of(profile, rp.NAME)

    def _arm(self, **where) -> Arm:
        return self.ev.arm(self.df, **where)

    def whitebox(self, source: str, method: str, t: int) -> Arm:
        """White-box counts of a Fig. 2 method at iteration ``t`` (PGD: from Fig. 2's or the battery's run)."""
        where = dict(target=source, iteration=t, source=source, method=method, params="{}",
                     eps=self.profile.paper_eps)
        if method != "pgd":
            where["grid"] = "whitebox"
        return self._arm(**where)

    def clean(self, model: str) -> Arm:
        """The model's counts on the clean images of the study's cells (the ablations' own clean rows cover
        ``rp_ablation_images`` images, another sample)."""
        return self.ev.arm(self.df[self.df["grid"] != "ablation"], target=model, iteration=0, method="clean")

    def battery(self, model: str, column: str) -> Arm:
        """Counts of one battery column of Tables 4-5 (``Clean``, ``PGD<t>``, ``CW<t>``, ``BIM<t>``)."""
        if column == "Clean":
            return self.clean(model)
        for kind, spec in (("PGD", None), ("CW", rp.cw_method()), ("BIM", rp.bim_l2_method())):
            if column.startswith(kind) and column[len(kind):].isdigit():
                t = int(column[len(kind):])
                if spec is None:
                    return self.whitebox(model, "pgd", t)
                return self._arm(target=model, iteration=t, source=model, method=spec.name, params=spec.params_json,
                                 grid="battery")
        raise ValueError(f"unknown battery column {column!r}")

    def columns(self) -> list[str]:
        """The battery's attack columns at this profile (Clean excluded), in the papers' order."""
        p = self.profile
        cols = []
        if p.rp_battery_cw_steps:
            cols.append(column_name("CW", p.rp_battery_cw_steps))
        if p.rp_battery_bim_steps:
            cols.append(column_name("BIM", p.rp_battery_bim_steps))
        return cols + [column_name("PGD", t) for t in sorted(set(p.rp_battery_pgd_steps))]

    def ablation(self, label: str, source: str) -> Arm:
        """White-box counts of one :data:`~rp_pgd.grids.ABLATIONS` row after the ablation's iterations."""
        t = rp.ablation_steps(self.profile)
        if label not in rp.ablation_labels(self.profile):  # the released default: Fig. 2's RP-PGD run
            return self._arm(target=source, iteration=t, source=source, method="rp_pgd", params="{}",
                             grid="whitebox")
        return self._arm(target=source, iteration=t, source=source, method="rp_pgd",
                         params=canonical_params(rp.ABLATIONS[label]), grid="ablation")

    def transfer(self, method: str, target: str) -> Arm:
        """Table 6: examples of ``method`` made on the surrogate, evaluated on ``target``."""
        t = rp.whitebox_steps(self.profile)
        return self._arm(target=target, iteration=t, source=rp.surrogate(self.profile), method=method,
                         params="{}", grid="blackbox")

    def extra(self, grid: str, source: str, t: int, metric: str) -> Arm:
        """Per-image arrays of a non-grid step (``false_region``, ``grad_balance``), stacked over seeds."""
        rows = self.df[(self.df["grid"] == grid) & (self.df["source"] == source) & (self.df["metric"] == metric)
                       & (self.df["iteration"] == t)]
        # the latest cell per seed of the profile's seeds and image count (rows of non-grid steps are kept
        # across runs with other settings)
        n, wanted = rp.n_images(self.profile), set(rp.seeds(self.profile))
        parts = {}
        for cell, seed in zip(rows["cell"], rows["seed"]):
            if int(seed) not in wanted:
                continue
            try:
                got = self.ev._load(cell)[(source, "1", t)]
            except (MissingEvidence, KeyError):
                continue
            if len(got["valid"]) == n:
                parts[int(seed)] = got
        if not parts:
            raise MissingEvidence(f"no {grid} counts for {source} at iteration {t} ({n} images)")
        order = sorted(parts)
        return Arm({f: np.stack([parts[s][f] for s in order]) for f in parts[order[0]]}, tuple(order))
