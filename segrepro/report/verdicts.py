"""The claims table every study builds: one row per claim plus one per part, four outcomes.

A study's claims function measures each claim of ``paper_values/claims.csv`` as a :class:`Claim`
(what is measured, its unit, the claimed direction and threshold) with :class:`Part` estimates
(``segrepro.report.outcomes.Estimate`` from a bootstrap over images) and hands them to
:func:`claim_rows`; :func:`table` stacks the rows into the :data:`COLUMNS` of
``results/<profile>/claims.csv``. Outcomes follow ``segrepro.report.outcomes``: a part is judged on
its interval; a claim with parts is contradicted if any part is, reproduced if every part is,
otherwise inconclusive (with the images its undecided parts need).

Example:
    >>> claim = Claim("ds_table1_ds_beats_fs", "ds", "DS transfer mIoU is lower than FS ...",
    ...               quantity="transfer mIoU of DS minus FS", unit="mIoU points", direction="lower")
    >>> rows = claim_rows(claim, [Part("psp_r18 -> fcn8s_vgg16", est)], summary=mean_est, why="...")  # doctest: +SKIP
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import pandas as pd

from .outcomes import INCONCLUSIVE, NOT_TESTABLE, OUTCOMES, Estimate, combine, judge

#: Columns of ``claims.csv`` (``../shared/spec/verdicts.md``, "Machine-readable output"), plus ``study``.
COLUMNS = ["paper", "claim_id", "part", "claim", "quantity", "unit", "direction", "threshold", "paper_value",
           "value", "low", "high", "n_images", "n_seeds", "outcome", "n_needed", "why", "study"]
#: ``paper`` of the project's own targets (kept apart from the papers' claims in every count).
PROJECT = "project"
UNITS = ("mIoU points", "MisRatio points", "ASR points", "accuracy points", "time ratio", "iterations", "fraction",
         "pairs won")


@dataclass(frozen=True)
class Claim:
    """How one claim is measured.

    Attributes:
        claim_id: id in ``paper_values/claims.csv`` (or a project target's id).
        paper: ``ds``, ``transegpgd``, ``segtrans``, ``rppgd`` or :data:`PROJECT`.
        claim: the claim in the paper's words.
        quantity: what we measure, in words, with its sign convention ("DS minus FS transfer mIoU").
        unit: one of :data:`UNITS`.
        direction: ``lower`` / ``higher`` (than ``threshold``) or ``within`` (``|value| <= threshold``).
        threshold: 0 unless the claim names an amount; ours when the paper gives none (say so in ``threshold_note``).
        paper_value: the paper's number or words.
        threshold_note: where the threshold comes from ("paper: +8.55 points", "ours: ...").
    """

    claim_id: str
    paper: str
    claim: str
    quantity: str
    unit: str
    direction: str
    threshold: float = 0.0
    paper_value: str = ""
    threshold_note: str = ""


@dataclass(frozen=True)
class Part:
    """One judged part of a claim (a source/target pair, a model, a scale...).

    ``estimate`` None means not measured here; ``note`` says why in words (never a sentinel number).
    """

    name: str
    estimate: Estimate | None
    note: str = ""


def _row(claim: Claim, part: str, est: Estimate | None, outcome: str, n_needed, why: str, study: str) -> dict:
    value = low = high = None
    n_images = n_seeds = None
    if est is not None:
        value, low, high, n_images, n_seeds = est.value, est.low, est.high, est.n_images, est.n_seeds
    return {"paper": claim.paper, "claim_id": claim.claim_id, "part": part, "claim": claim.claim,
            "quantity": claim.quantity, "unit": claim.unit, "direction": claim.direction,
            "threshold": claim.threshold, "paper_value": claim.paper_value, "value": value, "low": low,
            "high": high, "n_images": n_images, "n_seeds": n_seeds, "outcome": outcome, "n_needed": n_needed,
            "why": why, "study": study}


def claim_rows(claim: Claim, parts: Sequence[Part] = (), *, summary: Estimate | None = None, why: str = "",
               study: str = "", not_testable: str = "") -> list[dict]:
    """Rows of one claim: the claim row (``part`` empty) then one row per part.

    Args:
        claim: how the claim is measured.
        parts: judged parts; a claim without parts is judged on ``summary``.
        summary: the value the claim speaks of (e.g. the mean gap over pairs); shown on the claim row.
        why: for a claim that is not reproduced, one or two sentences with evidence.
        study: the study that measured it.
        not_testable: when set, the claim is "not testable here" and this sentence says why.

    Returns:
        Dicts with :data:`COLUMNS`.
    """
    if claim.unit not in UNITS:
        raise ValueError(f"claim {claim.claim_id}: unknown unit {claim.unit!r}; valid: {UNITS}")
    if not_testable:
        return [_row(claim, "", summary, NOT_TESTABLE, None, not_testable, study)]
    rows, outcomes, needed = [], [], []
    for part in parts:
        if part.estimate is None:
            j_outcome, j_needed, note = NOT_TESTABLE, None, part.note or "not measured"
        else:
            e = part.estimate
            j = judge(e.value, e.low, e.high, claim.direction, claim.threshold, e.n_images)
            j_outcome, j_needed, note = j.outcome, j.n_needed, part.note or e.note or j.note
        outcomes.append(j_outcome)
        if j_outcome == INCONCLUSIVE:
            needed.append(j_needed)
        rows.append(_row(claim, part.name, part.estimate, j_outcome, j_needed, note, study))
    if parts:
        outcome = combine(outcomes)
    elif summary is not None:
        j = judge(summary.value, summary.low, summary.high, claim.direction, claim.threshold, summary.n_images)
        outcome, needed = j.outcome, [j.n_needed]
    else:
        outcome = NOT_TESTABLE
    n_needed = None
    if outcome == INCONCLUSIVE:
        n_needed = None if any(n is None for n in needed) or not needed else max(needed)
    return [_row(claim, "", summary, outcome, n_needed, why, study), *rows]


def table(rows: Iterable[dict]) -> pd.DataFrame:
    """The claims table (:data:`COLUMNS`), claim rows each followed by their parts."""
    df = pd.DataFrame(list(rows), columns=COLUMNS)
    bad = set(df["outcome"]) - set(OUTCOMES)
    if bad:
        raise ValueError(f"unknown outcome(s) {sorted(bad)}; valid: {OUTCOMES}")
    return df


def counts(df: pd.DataFrame) -> pd.DataFrame:
    """Claims (not parts) per paper and outcome; the project's targets are a separate ``paper`` row."""
    claims = df[df["part"].astype(object).fillna("") == ""]
    out = claims.groupby(["paper", "outcome"]).size().unstack(fill_value=0)
    return out.reindex(columns=[o for o in OUTCOMES], fill_value=0)


def decisive_share(df: pd.DataFrame) -> float:
    """Share of the papers' claims (project targets excluded) with a decisive outcome."""
    claims = df[(df["part"].astype(object).fillna("") == "") & (df["paper"] != PROJECT)]
    if claims.empty:
        return math.nan
    return float((claims["outcome"] != INCONCLUSIVE).mean())


def measured(measures: dict, claim_of, study: str, *args) -> pd.DataFrame:
    """The claims table of a study: each ``measures[claim_id](*args)`` gives that claim's rows; a claim whose
    evidence was not run at this profile is "not testable here", saying so (``claim_of(claim_id)``: its Claim)."""
    from .evidence import MissingEvidence

    rows: list[dict] = []
    for claim_id, measure in measures.items():
        try:
            rows += measure(*args)
        except MissingEvidence as err:
            rows += claim_rows(claim_of(claim_id), study=study, not_testable=f"not run at this profile ({err})")
    return table(rows)
