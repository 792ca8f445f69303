"""The RP-PGD paper's claims (``claims.csv`` ids ``rp_*``) and the project's own AT targets, judged.

Each claim is a :class:`~segrepro.report.verdicts.Claim` (quantity, unit, direction, threshold: see
:data:`SPECS`), measured from per-image counts (:mod:`segrepro.studies.rp_pgd.arms`) with a
percentile bootstrap over images, paired between methods or models on the same images and seeds
(``../shared/spec/verdicts.md``). Claims about several models, baselines or iterations have one
:class:`~segrepro.report.verdicts.Part` per comparison; their summary value is the mean of the parts
(one paired statistic), and ``why`` says how many parts hold.

Readings of ours that decide verdicts (stated in each claim's quantity):

- RP-PGD runs with ``prototype_grad=False`` (the released code): the prototype term has no gradient.
  The claims about the prototype term (Table 1's full-vs-rest, Table 3) are judged with
  ``prototype_grad=True``, the only reading in which that term acts.
- AT claims rest on one trained model per strategy: the interval covers evaluation noise (images),
  not training noise; :data:`TRAINING_SPREAD` is the run-to-run spread the ``why`` compares with.
- The project's targets (:data:`PROJECT_TARGETS`, ``paper="project"``) are not paper claims.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from segrepro.report.evidence import MissingEvidence
from segrepro.report.outcomes import Estimate
from segrepro.report.verdicts import PROJECT, Claim, Part, claim_rows, table
from segrepro.studies.rp_pgd import grids as rp
from segrepro.studies.rp_pgd.arms import Arms, estimate, gap, gap_value, mean_gap

#: Run-to-run spread of our AT models' robust mIoU, in points (about +-2-4 between trainings with
#: other seeds; the limitations page): a gap between two AT strategies below it rests on one draw.
TRAINING_SPREAD = 4.0
#: The data floor of a claim's cells (issue 15): images per cell, seeds per random method.
MIN_IMAGES, MIN_SEEDS = 64, 2
AT_NOTE = ("One trained model per AT strategy, so the interval covers evaluation noise over images, not "
           "training noise")

#: claim id -> how it is measured (the claim's words and the paper's value come from ``claims.csv``).
SPECS: dict[str, dict] = {
    "rp_fig2_whitebox": dict(
        quantity="white-box mIoU of RP-PGD (released reading) minus the baseline's (PGD, SegPGD, CosPGD), per "
                 "model and iteration; claimed < 0", unit="mIoU points", direction="lower"),
    "rp_fast_convergence": dict(
        quantity="MisRatio of RP-PGD at iteration 2 minus PGD's at iteration 10, per model; claimed > -2",
        unit="MisRatio points", direction="higher", threshold=-2.0,
        threshold_note="ours: 'about' read as at most 2 MisRatio points below (the same rule for the negation)"),
    "rp_false_region_stays": dict(
        quantity="fraction of clean-mispredicted valid pixels that PGD predicts correctly on some iterate; "
                 "claimed < 0.01", unit="fraction", direction="lower", threshold=0.01, threshold_note="paper: < 1 %"),
    "rp_table1_full_best": dict(
        quantity="white-box mIoU of T+B+F+Proto (prototype_grad=True: with detached features the term does "
                 "nothing) minus each other Table 1 group; claimed < 0", unit="mIoU points", direction="lower"),
    "rp_table1_boundary_helps": dict(
        quantity="white-box mIoU of T+B minus T, and of T+B+F minus T+F; claimed < 0", unit="mIoU points",
        direction="lower"),
    "rp_table2_eq4_best": dict(
        quantity="white-box mIoU with Eq. 4's schedule minus each fixed schedule; claimed < 0", unit="mIoU points",
        direction="lower"),
    "rp_table2_b_over_f": dict(
        quantity="white-box mIoU with fixed (0.4, 0.4, 0.2) minus (0.4, 0.3, 0.3); claimed < 0", unit="mIoU points",
        direction="lower"),
    "rp_table3_t_only": dict(
        quantity="white-box mIoU of the prototype-only attack (prototype_grad=True) with prototypes of T minus "
                 "with T+B, T+F, T+B+F; claimed < 0", unit="mIoU points", direction="lower"),
    "rp_at_pgd100": dict(
        quantity="robust mIoU under the battery's longest PGD of RP-PGD3-AT minus each other 3-step AT model; "
                 "claimed > 0", unit="mIoU points", direction="higher"),
    "rp_at_battery": dict(
        quantity="robust mIoU of RP-PGD3-AT minus each other 3-step AT model, averaged over the battery's columns "
                 "(CW, L2 BIM, PGD); claimed > 0", unit="mIoU points", direction="higher",
        threshold_note="ours: 'more robust against the battery' read as a higher mean over its columns, against "
                       "each other model (a count of columns won has no interval to speak of)"),
    "rp_at3_vs_segpgd7": dict(
        quantity="mean over battery columns of robust mIoU RP-PGD3-AT minus SegPGD7-AT; claimed > -1",
        unit="mIoU points", direction="higher", threshold=-1.0,
        threshold_note="ours: 'comparable' read as at most 1 point below (the same rule for the negation)"),
    "rp_table6_blackbox": dict(
        quantity="transfer mIoU from the PGD3-AT surrogate on RP-PGD3-AT minus on each other AT target, for "
                 "SegPGD and RP-PGD examples; claimed > 0", unit="mIoU points", direction="higher"),
}
#: The project's own targets (issue 5), not paper claims: id -> (claim, spec).
PROJECT_TARGETS: dict[str, tuple[str, dict]] = {
    "at_keeps_clean": ("AT models keep at least 70 % of their clean model's mIoU (project target)", dict(
        quantity="clean mIoU of the AT model divided by its clean model's, per AT model; target > 0.70",
        unit="fraction", direction="higher", threshold=0.70, threshold_note="project target: >= 70 %",
        paper_value=">= 70 % of clean mIoU")),
    "at_pgd20_gain": ("Under white-box PGD-20 at eps 0.03, AT models are at least 10 mIoU points more robust "
                      "than their clean model (project target)", dict(
        quantity="PGD-20 mIoU of the AT model minus its clean model's, per AT model; target > 10",
        unit="mIoU points", direction="higher", threshold=10.0, threshold_note="project target: >= +10 points",
        paper_value=">= +10 points")),
    "at_rp_vs_pgd": ("RP-PGD3-AT is more robust than PGD3-AT across the evaluation battery (the paper's ranking, "
                     "as a project finding)", dict(
        quantity="robust mIoU of RP-PGD3-AT minus PGD3-AT per battery column; claimed > 0", unit="mIoU points",
        direction="higher", paper_value="RP-PGD3-AT above PGD3-AT in Tables 4-5")),
}


def claim(cid: str) -> Claim:
    """The :class:`Claim` of a paper claim id (text from ``claims.csv``) or of a project target."""
    if cid in PROJECT_TARGETS:
        text, spec = PROJECT_TARGETS[cid]
        return Claim(cid, PROJECT, text, **spec)
    from segrepro import paper_values

    row = paper_values.load("claims").set_index("id").loc[cid]
    return Claim(cid, "rppgd", str(row["claim"]), paper_value=str(row["paper_value"]), **SPECS[cid])


class _Untestable(Exception):
    """The profile cannot express the claim (the sentence says why)."""


def _won(parts: list[Part], c: Claim) -> str:
    got = [p for p in parts if p.estimate is not None]
    sign = -1 if c.direction == "lower" else 1
    k = sum(sign * (p.estimate.value - c.threshold) > 0 for p in got)
    return f"{k} of {len(got)} parts on the claimed side"


def _floor(parts: list[Part], summary: Estimate, random: bool = True) -> str:
    """A note when a part rests on fewer images than the floor, or the claim's random arms on fewer seeds
    (the summary pairs every arm, so its seeds are the random methods'; a part of a deterministic attack,
    the battery's CW or L2 BIM, has one seed by design)."""
    est = [p.estimate for p in parts if p.estimate is not None]
    low_n = any(e.n_images < MIN_IMAGES for e in est)
    low_s = random and summary.n_seeds < MIN_SEEDS
    if not (low_n or low_s):
        return ""
    n = min(e.n_images for e in est)
    return f" Below the data floor ({n} images x {summary.n_seeds} seed(s); wanted >= {MIN_IMAGES} x {MIN_SEEDS})."


def _iters(profile) -> list[int]:
    """Fig. 2's iterations the claim is judged at (3 and up, as the paper's plot)."""
    return [t for t in rp.snapshots(profile) if t >= 3] or [rp.snapshots(profile)[-1]]


# ------------------------------------------------------------------ Fig. 2 and convergence


def fig2(a: Arms, profile) -> tuple[list[Part], Estimate, str]:
    parts, pairs, by_t = [], [], {}
    for src in rp.whitebox_sources(profile):
        for base in rp.FIG2_METHODS[:3]:
            for t in _iters(profile):
                x, y = a.whitebox(src, "rp_pgd", t), a.whitebox(src, base, t)
                parts.append(Part(f"{src}: rp_pgd - {base}, t={t}", gap(x, y)))
                pairs.append((x, y))
                by_t.setdefault(t, []).append((x, y))
    summary = mean_gap(pairs)
    ts = sorted(by_t)
    first, last = gap_value(by_t[ts[0]]), gap_value(by_t[ts[-1]])
    trend = "toward" if last < first else "away from"
    why = (f"Mean gap {summary.value:+.2f} mIoU points ({_won(parts, claim('rp_fig2_whitebox'))}); the mean gap is "
           f"{first:+.2f} at t={ts[0]} and {last:+.2f} at t={ts[-1]}, moving {trend} the paper's RP-PGD advantage "
           f"as iterations grow (our runs stop at {ts[-1]}, the paper's at 100; RP-PGD's t-th iterate is that of a "
           f"{rp.whitebox_steps(profile)}-step schedule).")
    return parts, summary, why


def convergence(a: Arms, profile, df: pd.DataFrame) -> tuple[list[Part], Estimate, str]:
    snaps = rp.snapshots(profile)
    early = 2 if 2 in snaps else snaps[0]
    pgd_snaps = rp.pgd_snapshots(profile, True)
    late = 10 if 10 in pgd_snaps else max(t for t in pgd_snaps if t <= 10)
    parts, pairs, notes = [], [], []
    for src in rp.whitebox_sources(profile):
        x, y = a.whitebox(src, "rp_pgd", early), a.whitebox(src, "pgd", late)
        parts.append(Part(f"{src}: rp_pgd t={early} - pgd t={late}", gap(x, y, "mis_ratio")))
        pairs.append((x, y))
        target = float(x.mis_ratio()[0])
        reach = [t for t in pgd_snaps if float(a.whitebox(src, "pgd", t).mis_ratio()[0]) >= target]
        notes.append(f"on {src} PGD reaches RP-PGD's t={early} MisRatio ({100 * target:.1f} %) "
                     + (f"at t={reach[0]}" if reach else f"not within {pgd_snaps[-1]} iterations"))
    summary = mean_gap(pairs, "mis_ratio")
    why = f"Mean {summary.value:+.2f} MisRatio points; " + "; ".join(notes) + "."
    return parts, summary, why


def false_region_claim(a: Arms, profile) -> tuple[list[Part], Estimate, str]:
    arch, snaps = rp.at_arch(profile), rp.snapshots(profile)
    arms = {t: a.extra("false_region", arch, t, "false_restored") for t in snaps}
    t = snaps[-1]
    summary = estimate(lambda w: arms[t].ratio("restored", "wrong", w), arms[t])
    half = [s for s in snaps if s <= t // 2] or snaps[:1]
    early = float(arms[half[-1]].ratio("restored", "wrong")[0])
    why = (f"{100 * summary.value:.2f} % of the clean-mispredicted pixels come back on some of {t} PGD iterates "
           f"({100 * early:.2f} % within {half[-1]}); the share can only grow with more iterates, so the paper's "
           f"100 would move it away from < 1 %.")
    return [], summary, why


# ------------------------------------------------------------------ Tables 1-3


ABLATION_PAIRS: dict[str, Callable[[], list[tuple[str, str]]]] = {
    "rp_table1_full_best": lambda: [(rp.TABLE1[5], g) for g in rp.TABLE1[:5]],
    "rp_table1_boundary_helps": lambda: [(rp.TABLE1[1], rp.TABLE1[0]), (rp.TABLE1[3], rp.TABLE1[2])],
    "rp_table2_eq4_best": lambda: [(rp.TABLE2[4], g) for g in rp.TABLE2[:4]],
    "rp_table2_b_over_f": lambda: [(rp.TABLE2[1], rp.TABLE2[0])],
    "rp_table3_t_only": lambda: [(rp.TABLE3[0], g) for g in rp.TABLE3[1:]],
}


def ablation_claim(cid: str, a: Arms, profile) -> tuple[list[Part], Estimate, str]:
    parts, pairs = [], []
    for src in rp.ablation_sources(profile):
        for x, y in ABLATION_PAIRS[cid]():
            ax, ay = a.ablation(x, src), a.ablation(y, src)
            parts.append(Part(f"{src}: {x} - {y}", gap(ax, ay)))
            pairs.append((ax, ay))
    summary = mean_gap(pairs)
    t = rp.ablation_steps(profile)
    worst = max(parts, key=lambda p: p.estimate.value)
    why = (f"Mean gap {summary.value:+.2f} mIoU points ({_won(parts, claim(cid))}; least favourable: {worst.name} "
           f"{worst.estimate.value:+.2f}), after {t} iterations (the paper: 100; no second iteration count was run).")
    if cid == "rp_table1_full_best":
        why += (" With the released code's detached features, T+B+F+Proto is T+B+F exactly and Proto (T) is the "
                "random start alone; the gradient reading is judged here.")
    return parts, summary, why


# ------------------------------------------------------------------ Tables 4-6 and the project's targets


def _at_models(profile) -> dict[str, str]:
    """AT strategy -> model name of the AT architecture."""
    return {m.split("@")[1]: m for m in rp.at_variants(profile)}


def _spread_note(value: float) -> str:
    if abs(value) < TRAINING_SPREAD:
        return (f" The difference ({value:+.2f} points) is within the run-to-run spread of AT training (about "
                f"+-2-{TRAINING_SPREAD:.0f} points): the outcome speaks of these trained models, and a retraining "
                "could reverse it, so it says little about the training strategies themselves.")
    return ""


def at_pgd(a: Arms, profile) -> tuple[list[Part], Estimate, str]:
    at = _at_models(profile)
    if "RP-PGD3-AT" not in at or len(set(at) & set(rp.THREE_STEP)) < 2:
        raise _Untestable("this run has no RP-PGD3-AT model with another 3-step AT model of the same "
                          "architecture")
    cols = sorted(profile.rp_battery_pgd_steps)
    t, t0 = cols[-1], cols[0]
    parts, pairs, early = [], [], []
    for s in rp.THREE_STEP[:3]:
        if s in at:
            x, y = a.battery(at["RP-PGD3-AT"], f"PGD{t}"), a.battery(at[s], f"PGD{t}")
            parts.append(Part(f"RP-PGD3-AT - {s} (PGD{t})", gap(x, y)))
            pairs.append((x, y))
            early.append((a.battery(at["RP-PGD3-AT"], f"PGD{t0}"), a.battery(at[s], f"PGD{t0}")))
    summary = mean_gap(pairs)
    why = (f"Mean gap {summary.value:+.2f} mIoU points under PGD{t} ({_won(parts, claim('rp_at_pgd100'))}); "
           f"under PGD{t0} {gap_value(early):+.2f} (the paper's column is PGD100). {AT_NOTE}; only "
           f"{rp.at_arch(profile)} has every strategy (Table 5's DeepLabv3 has PGD3-AT alone here)."
           + _spread_note(summary.value))
    return parts, summary, why


def at_battery(a: Arms, profile) -> tuple[list[Part], Estimate, str]:
    """Tables 4-5 read as "more robust against the battery": per other 3-step model, the mean over the
    battery's columns of RP-PGD3-AT's robust mIoU minus that model's (one part per model). A count of
    columns won, the paper's own wording, is reported in ``why``: it moves in steps of one column, so its
    bootstrap interval sits on the 0.5 threshold whenever one column is a near tie."""
    at = _at_models(profile)
    three = [s for s in rp.THREE_STEP if s in at]
    if "RP-PGD3-AT" not in three or len(three) < 2:
        raise _Untestable("this run has no RP-PGD3-AT model with another 3-step AT model of the same "
                          "architecture")
    cols = a.columns()
    others = [s for s in three if s != "RP-PGD3-AT"]
    parts, pairs = [], []
    for s in others:
        mine = [(a.battery(at["RP-PGD3-AT"], c), a.battery(at[s], c)) for c in cols]
        parts.append(Part(f"RP-PGD3-AT - {s}, mean over {len(cols)} columns", mean_gap(mine)))
        pairs += mine
    summary = mean_gap(pairs)
    won, gaps = 0, []
    for c in cols:  # the margin to the best other model, each gap paired over the images both cells cover
        by = {s: gap_value([(a.battery(at["RP-PGD3-AT"], c), a.battery(at[s], c))]) for s in others}
        best = min(by, key=by.get)
        won += by[best] > 0
        gaps.append(f"{c} {by[best]:+.2f} vs {best}")
    why = (f"Mean gap {summary.value:+.2f} mIoU points ({_won(parts, claim('rp_at_battery'))}); RP-PGD3-AT is the "
           f"most robust in {won} of {len(cols)} columns (its gap to the best other 3-step model: {', '.join(gaps)}). "
           f"{AT_NOTE}." + _spread_note(summary.value))
    return parts, summary, why


def at3_vs_seg7(a: Arms, profile) -> tuple[list[Part], Estimate, str]:
    at = _at_models(profile)
    if not {"RP-PGD3-AT", "SegPGD7-AT"} <= set(at):
        raise _Untestable("this run has no SegPGD7-AT or no RP-PGD3-AT model")
    cols = a.columns()
    pairs = [(a.battery(at["RP-PGD3-AT"], c), a.battery(at["SegPGD7-AT"], c)) for c in cols]
    summary = mean_gap(pairs)
    per = ", ".join(f"{c} {gap_value([(x, y)]):+.2f}" for c, (x, y) in zip(cols, pairs))
    why = f"Mean {summary.value:+.2f} mIoU points over the columns ({per}). {AT_NOTE}." + _spread_note(summary.value)
    return [], summary, why


def table6(a: Arms, profile) -> tuple[list[Part], Estimate, str]:
    targets = rp.blackbox_targets(profile)
    rp_target = next((t for t in targets if t.endswith("@RP-PGD3-AT")), None)
    others = [t for t in targets if "@" in t and t != rp_target]
    if rp_target is None or not others:
        raise _Untestable("this run has no RP-PGD3-AT target with another AT target of its architecture")
    parts, pairs = [], []
    for m in ("segpgd", "rp_pgd"):
        for o in others:
            x, y = a.transfer(m, rp_target), a.transfer(m, o)
            parts.append(Part(f"{m}: RP-PGD3-AT - {o.split('@')[1]}", gap(x, y)))
            pairs.append((x, y))
    summary = mean_gap(pairs)
    why = (f"Mean gap {summary.value:+.2f} mIoU points ({_won(parts, claim('rp_table6_blackbox'))}), examples of "
           f"{rp.whitebox_steps(profile)} iterations (the paper: 100) made on {rp.surrogate(profile)}. {AT_NOTE}."
           + _spread_note(summary.value))
    return parts, summary, why


def keeps_clean(a: Arms, profile) -> tuple[list[Part], Estimate, str]:
    parts, pairs = [], []
    for m in rp.battery_models(profile):
        if "@" not in m:
            continue
        x, y = a.clean(m), a.clean(m.split("@")[0])
        parts.append(Part(m, estimate(lambda w, x=x, y=y: x.miou(w) / y.miou(w), x, y)))
        pairs.append((x, y))
    if not parts:
        raise _Untestable("this run has no AT model")
    arms = [z for p in pairs for z in p]
    summary = estimate(lambda w: np.mean([x.miou(w) / y.miou(w) for x, y in pairs], axis=0), *arms)
    low = min(parts, key=lambda p: p.estimate.value)
    why = (f"Mean share {summary.value:.3f} ({_won(parts, claim('at_keeps_clean'))}); lowest {low.name} "
           f"{low.estimate.value:.3f}.")
    return parts, summary, why


def pgd20_gain(a: Arms, profile) -> tuple[list[Part], Estimate, str]:
    t = 20 if 20 in profile.rp_battery_pgd_steps else max(profile.rp_battery_pgd_steps)
    parts, pairs = [], []
    for m in rp.battery_models(profile):
        if "@" not in m:
            continue
        x, y = a.battery(m, f"PGD{t}"), a.battery(m.split("@")[0], f"PGD{t}")
        parts.append(Part(f"{m} (PGD{t})", gap(x, y)))
        pairs.append((x, y))
    if not parts:
        raise _Untestable("this run has no AT model")
    summary = mean_gap(pairs)
    low = min(parts, key=lambda p: p.estimate.value)
    why = (f"Mean gain {summary.value:+.2f} points under PGD{t} ({_won(parts, claim('at_pgd20_gain'))}); lowest "
           f"{low.name} {low.estimate.value:+.2f}." + ("" if t == 20 else " The battery's PGD stops before 20."))
    return parts, summary, why


def rp_vs_pgd(a: Arms, profile) -> tuple[list[Part], Estimate, str]:
    at = _at_models(profile)
    if not {"RP-PGD3-AT", "PGD3-AT"} <= set(at):
        raise _Untestable("this run has no RP-PGD3-AT or no PGD3-AT model")
    parts, pairs = [], []
    for c in a.columns():
        x, y = a.battery(at["RP-PGD3-AT"], c), a.battery(at["PGD3-AT"], c)
        parts.append(Part(c, gap(x, y)))
        pairs.append((x, y))
    summary = mean_gap(pairs)
    why = (f"Mean {summary.value:+.2f} mIoU points over the columns ({_won(parts, claim('at_rp_vs_pgd'))}). "
           f"{AT_NOTE}." + _spread_note(summary.value))
    return parts, summary, why


def _measures(df: pd.DataFrame, profile) -> dict[str, Callable]:
    a = Arms(df, profile)
    out = {"rp_fig2_whitebox": lambda: fig2(a, profile),
           "rp_fast_convergence": lambda: convergence(a, profile, df),
           "rp_false_region_stays": lambda: false_region_claim(a, profile)}
    out.update({cid: (lambda cid=cid: ablation_claim(cid, a, profile)) for cid in ABLATION_PAIRS})
    out.update({"rp_at_pgd100": lambda: at_pgd(a, profile), "rp_at_battery": lambda: at_battery(a, profile),
                "rp_at3_vs_segpgd7": lambda: at3_vs_seg7(a, profile), "rp_table6_blackbox": lambda: table6(a, profile),
                "at_keeps_clean": lambda: keeps_clean(a, profile), "at_pgd20_gain": lambda: pgd20_gain(a, profile),
                "at_rp_vs_pgd": lambda: rp_vs_pgd(a, profile)})
    return out


#: Claims whose arms are random methods (PGD, SegPGD, CosPGD, RP-PGD: random start): they want >= 2 seeds.
_DETERMINISTIC = {"at_keeps_clean"}


def rows_of(cid: str, measure: Callable) -> list[dict]:
    """The claims-table rows of one claim (``not testable here`` with the reason when it cannot be measured)."""
    c = claim(cid)
    try:
        parts, summary, why = measure()
    except _Untestable as err:
        return claim_rows(c, study=rp.NAME, not_testable=f"{err}.")
    except MissingEvidence as err:
        return claim_rows(c, study=rp.NAME, not_testable=f"not measured in this run ({err}).")
    shown = parts or [Part("", summary)]
    why += _floor(shown, summary, random=cid not in _DETERMINISTIC)
    return claim_rows(c, parts, summary=summary, why=why, study=rp.NAME)


def claims(df: pd.DataFrame, profile) -> pd.DataFrame:
    """The claims table of notebook 04 (``segrepro.report.verdicts.COLUMNS``): every ``rp_*`` claim of
    ``claims.csv``, then the project's targets (``paper="project"``)."""
    from segrepro import paper_values

    ids = [i for i in paper_values.load("claims")["id"] if str(i).startswith("rp_")]
    measures = _measures(df, profile)
    rows = []
    for cid in [*ids, *PROJECT_TARGETS]:
        rows += rows_of(cid, measures[cid]) if cid in measures else claim_rows(
            claim(cid), study=rp.NAME, not_testable="no measurement defined for this claim.")
    return table(rows)


def summary_rows(table_df: pd.DataFrame) -> pd.DataFrame:
    """The claim rows only (no parts)."""
    return table_df[table_df["part"].astype(object).fillna("") == ""].reset_index(drop=True)
