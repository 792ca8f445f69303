"""TranSegPGD's claims (``tsp_*``; the summary gives no numbers), measured with intervals over images.

Each claim is a :class:`~segrepro.report.verdicts.Claim` (:data:`CLAIMS`: quantity, unit, direction,
threshold 0: the summary names no amount) judged on the ``transfer`` grid at the papers' eps 0.03,
every method under one start policy (``profile.transfer_random_start``). The second eps
(``transfer_eps2`` grid) is the second-scale reading stated in each claim's ``why``.
"""
from __future__ import annotations

import math

import pandas as pd

from segrepro.report.evidence import MissingEvidence
from segrepro.report.verdicts import Claim, Part, claim_rows, measured
from segrepro.studies.transegpgd.grids import (ABLATION, MAIN, NAME, SECOND, UNIFORM, ablation_methods,
                                              ablation_source, attack_baselines, combined, key, main_eps,
                                              second_eps, second_sources, snapshots, sources, study_images)
from segrepro.studies.transegpgd.measure import Measure, Pairs, fmt

PAPER = "transegpgd"
NO_NUMBER = "no number (summary only)"

#: How each claim is measured (the claim's words come from ``paper_values``; see :func:`claim`).
CLAIMS = {
    "tsp_state_of_the_art": dict(
        quantity="mean transfer mIoU over source/target pairs (target != source), TranSegPGD minus the strongest "
                 "prior attack (PGD, SegPGD, CosPGD, DS; one start policy); parts: minus each attack",
        unit="mIoU points", direction="lower"),
    "tsp_combines_with_mi": dict(quantity="mean transfer mIoU, TranSegPGD+MI minus MI", unit="mIoU points",
                                 direction="lower"),
    "tsp_stage1_fools_all": dict(
        quantity="white-box MisRatio on the ablation source at the end of stage 1 (t = ceil(T/2)), default stage 1 "
                 "minus a uniform stage 1 (gamma = 0.5: plain cross-entropy)", unit="MisRatio points",
        direction="higher"),
    "tsp_stage2_kl": dict(
        quantity="mean transfer mIoU from the ablation source, default stage 2 minus a uniform stage 2 "
                 "(beta = 0.5: plain cross-entropy)", unit="mIoU points", direction="lower"),
}
#: Display names of the baselines (PGD without random start is BIM).
NAMES = {"pgd": "PGD", "segpgd": "SegPGD", "cospgd": "CosPGD", "ds": "DS", "mi": "MI"}


def claim_texts() -> dict[str, str]:
    """Claim id -> the claim's words: ``claims.csv``, then ``transegpgd_claims.csv`` for the others."""
    from segrepro import paper_values

    out = {r["claim_id"]: r["claim"] for _, r in paper_values.load("transegpgd_claims").iterrows()}
    main = paper_values.load("claims")
    out.update({r["id"]: r["claim"] for _, r in main[main["paper"] == PAPER].iterrows()})
    return out


def claim(cid: str) -> Claim:
    """The :class:`Claim` of ``cid`` (:data:`CLAIMS` with the paper's words)."""
    return Claim(cid, PAPER, claim_texts()[cid], paper_value=NO_NUMBER,
                 threshold_note="0: the summary names no amount", **CLAIMS[cid])


def start_policy(profile) -> str:
    """The start policy in words."""
    if profile.transfer_random_start:
        return "every method starts at a random point (PGD's policy)"
    return "no method starts at random (PGD runs as BIM, SegPGD and CosPGD without random start)"


def scale_note(profile) -> str:
    """One line on the scale of the run."""
    return (f"{profile.presets[0]}, eps {main_eps(profile):g}, T={profile.steps}, {study_images(profile)} images, "
            f"{len(profile.seeds)} seed(s) for random methods")


def moved(v1: float, v2: float, direction: str) -> str:
    """Whether ``v1 -> v2`` moves toward the claimed side."""
    if math.isclose(v1, v2, abs_tol=1e-9):
        return "no change"
    toward = v2 < v1 if direction == "lower" else v2 > v1
    return "toward the claim" if toward else "away from the claim"


def second_reading(profile, measure_at, direction: str) -> str:
    """``measure_at(eps, grid, sources) -> Estimate`` at the main and the second eps from the second sources,
    as one sentence (or why there is none)."""
    eps2 = second_eps(profile)
    if eps2 is None:
        return "No second budget in this run."
    srcs = second_sources(profile)
    try:
        a = measure_at(main_eps(profile), MAIN, srcs)
        b = measure_at(eps2, SECOND, srcs)
    except MissingEvidence:
        return f"The eps {eps2:g} reading was not run."
    return (f"Second reading from {', '.join(srcs)}: {fmt(a)} at eps {main_eps(profile):g} and {fmt(b)} at eps "
            f"{eps2:g} ({moved(a.value, b.value, direction)}).")


def _pairs(m: Measure, profile, name: str, eps: float, grid: str, srcs, **params) -> Pairs:
    return m.pairs(key(profile, name, **params), eps=eps, sources=srcs, grid=grid)


def state_of_the_art(m: Measure, profile) -> list[dict]:
    """TranSegPGD minus each prior attack (parts) and minus the strongest one (summary)."""
    c = claim("tsp_state_of_the_art")
    eps, srcs, names = main_eps(profile), sources(profile), attack_baselines(profile)
    ts = _pairs(m, profile, "transegpgd", eps, MAIN, srcs)
    base = {b: _pairs(m, profile, b, eps, MAIN, srcs) for b in names}
    parts = [Part(f"minus {NAMES.get(b, b)}" + (" (BIM: no random start)" if key(profile, b)[0] == "bim" else ""),
                  Measure.diff(ts, base[b], "miou")) for b in names]
    summary = Measure.versus_best(ts, list(base.values()), "miou")
    won = sum(p.estimate.value < 0 for p in parts)
    values = {b: Measure.point(base[b], "miou") for b in names}
    best = min(values, key=values.get)

    def at(e, grid, s):
        return Measure.versus_best(_pairs(m, profile, "transegpgd", e, grid, s),
                                   [_pairs(m, profile, b, e, grid, s) for b in names], "miou")

    why = (f"TranSegPGD has a lower mean transfer mIoU than {won} of {len(names)} prior attacks; the strongest is "
           f"{NAMES.get(best, best)} ({values[best]:.2f} vs {Measure.point(ts, 'miou'):.2f} for "
           f"TranSegPGD), {start_policy(profile)}. {ablation_note(m, profile)} "
           f"{second_reading(profile, at, c.direction)}")
    return claim_rows(c, parts, summary=summary, why=why.strip(), study=NAME)


def ablation_note(m: Measure, profile) -> str:
    """The largest change of TranSegPGD's transfer mIoU by one of its [ours] choices (ablation source)."""
    src = (ablation_source(profile),)
    try:
        default = _pairs(m, profile, "transegpgd", main_eps(profile), MAIN, src)
        moves = {}
        for spec in ablation_methods(profile)[1:]:
            other = m.pairs((spec.name, spec.params_json), eps=main_eps(profile), sources=src, grid=ABLATION)
            moves[spec.params_json] = Measure.diff(other, default, "miou").value
    except MissingEvidence:
        return ""
    if not moves:
        return ""
    best = min(moves, key=moves.get)
    return (f"Of our readings of its details, the best-transferring variant ({best}) changes TranSegPGD's "
            f"transfer mIoU from {src[0]} by {moves[best]:+.2f} points.")


def combines_with_mi(m: Measure, profile) -> list[dict]:
    """TranSegPGD+MI minus MI (summary only)."""
    c = claim("tsp_combines_with_mi")
    if not combined(profile):
        return claim_rows(c, study=NAME, not_testable="this run does not attack with MI.")
    eps, srcs = main_eps(profile), sources(profile)

    def at(e, grid, s):
        return Measure.diff(_pairs(m, profile, "transegpgd+mi", e, grid, s), _pairs(m, profile, "mi", e, grid, s),
                            "miou")

    est = at(eps, MAIN, srcs)
    mi = _pairs(m, profile, "mi", eps, MAIN, srcs)
    why = (f"MI alone reaches {Measure.point(mi, 'miou'):.2f} mean transfer mIoU; with TranSegPGD's "
           f"objective the difference is {fmt(est)}. {second_reading(profile, at, c.direction)}")
    return claim_rows(c, summary=est, why=why, study=NAME)


def stage1(m: Measure, profile) -> list[dict]:
    """White-box MisRatio at the end of stage 1: default minus gamma = 0.5 (second scale: an earlier snapshot)."""
    c = claim("tsp_stage1_fools_all")
    src, half, eps = (ablation_source(profile),), math.ceil(profile.steps / 2), main_eps(profile)

    def at(t):
        default = m.pairs(key(profile, "transegpgd"), eps=eps, sources=src, grid=MAIN, iteration=t, white_box=True)
        uniform = m.pairs(key(profile, "transegpgd", gamma=UNIFORM), eps=eps, sources=src, grid=ABLATION,
                          iteration=t, white_box=True)
        return default, uniform, Measure.diff(default, uniform, "mis_ratio")

    default, uniform, est = at(half)
    why = (f"At t = {half} the default stage 1 leaves {Measure.point(default, 'mis_ratio'):.2f} % of {src[0]}'s "
           f"valid pixels misclassified, plain cross-entropy {Measure.point(uniform, 'mis_ratio'):.2f} %.")
    earlier = [t for t in snapshots(profile) if t < half]
    if earlier:
        e = at(earlier[-1])[2]
        why += (f" Second scale (iterations): {fmt(e)} at t = {earlier[-1]}, {fmt(est)} at t = {half} "
                f"({moved(e.value, est.value, c.direction)} as stage 1 runs longer).")
    return claim_rows(c, summary=est, why=why, study=NAME)


def stage2(m: Measure, profile) -> list[dict]:
    """Transfer mIoU from the ablation source: default minus beta = 0.5."""
    c = claim("tsp_stage2_kl")
    src = (ablation_source(profile),)
    default = _pairs(m, profile, "transegpgd", main_eps(profile), MAIN, src)
    uniform = m.pairs(key(profile, "transegpgd", beta=UNIFORM), eps=main_eps(profile), sources=src, grid=ABLATION)
    est = Measure.diff(default, uniform, "miou")
    why = (f"From {src[0]} the default stage 2 gives {Measure.point(default, 'miou'):.2f} mean transfer "
           f"mIoU, a uniform stage 2 {Measure.point(uniform, 'miou'):.2f}; the two are the same attack up to "
           f"t = {math.ceil(profile.steps / 2)} and no second eps was run for this ablation (budget).")
    return claim_rows(c, summary=est, why=why, study=NAME)


MEASURES = {"tsp_state_of_the_art": state_of_the_art, "tsp_combines_with_mi": combines_with_mi,
            "tsp_stage1_fools_all": stage1, "tsp_stage2_kl": stage2}


def claims(df: pd.DataFrame, profile) -> pd.DataFrame:
    """The claims table of notebook 02 (``segrepro.report.verdicts.COLUMNS``)."""
    return measured(MEASURES, claim, NAME, Measure(profile, df), profile)
