"""Verdicts on the RP-PGD paper's claims (``claims.csv`` ids ``rp_*``) and on the AT issue's targets.

Values are in points (mIoU or MisRatio in %). Claims that say "for every model / iteration /
baseline" are judged per comparison and get the **worst** verdict of their parts; the comment says
how many parts hold. Paired comparisons pair the per-seed values of the two cells (same seeds).
The AT battery runs one seed, so its claims have no interval and are at best ``partly`` (the rule
of :mod:`segrepro.report.claims`), except where the replicates are the battery's attacks.
"""
from __future__ import annotations

import pandas as pd

from segrepro.report.claims import (PARTLY, REPRODUCED, Missing, Verdict, attempt, claim_row, claims_table,
                                    not_run_row, relabel, verdict, worst)
from segrepro.run.zoo import parse_name
from segrepro.studies.rp_pgd import grids as rp
from segrepro.studies.rp_pgd import report as rt
#: The AT issue's targets (issue 5), judged like the paper's claims; not in ``claims.csv``.
ISSUE_CLAIMS = [
    ("at_keeps_clean", "AT models keep at least 70 % of the clean model's mIoU (AT issue target)",
     ">= 70 % of clean mIoU"),
    ("at_pgd20_gain", "Under PGD-20, AT models are at least 10 mIoU points more robust than the clean model "
     "(AT issue target)", ">= +10 points"),
    ("at_rp_vs_pgd", "RP-PGD3-AT is more robust than PGD3-AT across the evaluation battery (the paper's ranking; "
     "a finding, not a requirement)", "RP-PGD3-AT above PGD3-AT in Tables 4-5"),
]


def claims_frame() -> pd.DataFrame:
    """``claims.csv`` plus :data:`ISSUE_CLAIMS`."""
    from segrepro import paper_values

    claims = paper_values.load("claims")
    extra = pd.DataFrame([{"id": i, "claim": c, "paper_value": v} for i, c, v in ISSUE_CLAIMS])
    return pd.concat([claims, extra], ignore_index=True)


def paired(a: pd.Series, b: pd.Series, *, expect: str, reference: float = 0.0, scale: float = 100.0) -> Verdict:
    """Verdict on ``a - b`` over the seeds both have (values times ``scale``)."""
    seeds = sorted(set(a.index) & set(b.index))
    if not seeds:
        raise Missing("paired seeds")
    return verdict(a[seeds].to_numpy() * scale, baseline=b[seeds].to_numpy() * scale, expect=expect,
                   reference=reference)


def check_fig2(df, profile) -> tuple[Verdict, str]:
    parts = []
    snaps = [t for t in rp.snapshots(profile) if t in rp.FIG2_ITERATIONS[2:]]
    for src in rp.whitebox_sources(profile):
        for base in ("pgd", "segpgd", "cospgd"):
            for t in snaps:
                a = rt.seed_values(df, "whitebox", src, "rp_pgd", iteration=t)
                b = rt.seed_values(df, "whitebox", src, base, iteration=t)
                parts.append((f"{src} vs {base} at t={t}", paired(a, b, expect="lower")))
    v, text = worst(parts)
    return v, f"white-box mIoU(rp_pgd) - mIoU(baseline); {text}"


def check_convergence(df, profile) -> tuple[Verdict, str]:
    snaps = rp.snapshots(profile)
    early = 2 if 2 in snaps else snaps[0]
    late = max(t for t in snaps if t <= 10)
    parts = [(src, paired(rt.seed_values(df, "whitebox", src, "rp_pgd", metric="mis_ratio", iteration=early),
                          rt.seed_values(df, "whitebox", src, "pgd", metric="mis_ratio", iteration=late),
                          expect="higher", reference=-2.0)) for src in rp.whitebox_sources(profile)]
    v, text = worst(parts)
    return v, f"MisRatio(rp_pgd, t={early}) - MisRatio(pgd, t={late}) in points, must exceed -2; {text}"


def check_false_region(df, profile) -> tuple[Verdict, str]:
    rows = df[(df["grid"] == "false_region") & (df["metric"] == "false_restored")]
    if rows.empty:
        raise Missing("false-region rows")
    v = verdict(rows["value"].to_numpy() * 100, expect="lower", reference=1.0)
    return v, f"% of clean-mispredicted pixels right on some of {int(rows['iteration'].max())} PGD iterates"


def _ablation_parts(df, profile, pairs) -> list[tuple[str, Verdict]]:
    parts = []
    for src in rp.ablation_sources(profile):
        for a, b in pairs:
            parts.append((f"{src}: {a} vs {b}", paired(rt.ablation(df, a, src), rt.ablation(df, b, src),
                                                        expect="lower")))
    return parts


def check_ablations(df, profile) -> dict[str, tuple[Verdict, str]]:
    """The Tables 1-3 claims (white-box mIoU of the first variant minus the second's)."""
    t1, t2, t3 = rp.TABLE1, rp.TABLE2, rp.TABLE3
    specs = {
        "rp_table1_full_best": [(t1[5], g) for g in t1[:5]],
        "rp_table1_boundary_helps": [(t1[1], t1[0]), (t1[3], t1[2])],
        "rp_table2_eq4_best": [(t2[4], g) for g in t2[:4]],
        "rp_table2_b_over_f": [(t2[1], t2[0])],
        "rp_table3_t_only": [(t3[0], g) for g in t3[1:]],
    }
    out = {}
    for cid, pairs in specs.items():
        v, text = worst(_ablation_parts(df, profile, pairs))
        out[cid] = (v, f"white-box mIoU difference at {rp.ablation_steps(profile)} iterations; {text}")
    return out


def check_at(df, profile) -> dict[str, tuple[Verdict, str]]:
    """Tables 4-5 claims and the AT issue's targets from the battery rows (one seed)."""
    t = rt.at_table(df, rp.at_arch(profile))
    three = [s for s in ("PGD3-AT", "SegPGD3-AT", "CosPGD3-AT", "RP-PGD3-AT") if s in t.index]
    out = {}
    if "RP-PGD3-AT" in three and len(three) > 1:
        col = rt.pgd_column(t, 100)
        parts = [(f"vs {s}", verdict([t.loc["RP-PGD3-AT", col]], baseline=[t.loc[s, col]], expect="higher"))
                 for s in three if s != "RP-PGD3-AT"]
        v, text = worst(parts)
        out["rp_at_pgd100"] = (v, f"{col} mIoU (the profile's longest PGD) of RP-PGD3-AT minus each; {text}")
        attacks = [c for c in t.columns if c != "Clean"]
        wins = [float(t.loc[three, c].idxmax() == "RP-PGD3-AT") for c in attacks]
        out["rp_at_battery"] = (verdict(wins, expect="higher", reference=0.5),
                                f"fraction of {len(attacks)} battery attacks where RP-PGD3-AT is the most robust of "
                                f"{', '.join(three)}; interval over attacks")
    if "SegPGD7-AT" in t.index and "RP-PGD3-AT" in t.index:
        attacks = [c for c in t.columns if c != "Clean"]
        v = verdict(t.loc["RP-PGD3-AT", attacks].to_numpy(), baseline=t.loc["SegPGD7-AT", attacks].to_numpy(),
                    expect="higher", reference=-1.0)
        out["rp_at3_vs_segpgd7"] = (v, "robust mIoU RP-PGD3-AT - SegPGD7-AT per battery attack; interval over attacks")
    ratios, gains = [], []
    for arch in dict.fromkeys(parse_name(n)[0] for n in rp.battery_models(profile)):
        try:
            a = rt.at_table(df, arch)
        except ValueError:
            continue
        col = rt.pgd_column(a, 20)
        for s in a.index.drop("Standard", errors="ignore"):
            if "Standard" in a.index:
                ratios.append((f"{arch}@{s}", a.loc[s, "Clean"] / a.loc["Standard", "Clean"] * 100))
                gains.append((f"{arch}@{s} ({col})", a.loc[s, col] - a.loc["Standard", col]))
    for cid, vals, ref, unit in (("at_keeps_clean", ratios, 70.0, "% of clean mIoU"),
                                 ("at_pgd20_gain", gains, 10.0, "points over the clean model")):
        if vals:
            v = verdict([x for _, x in vals], expect="higher", reference=ref)
            if v.verdict == REPRODUCED and min(x for _, x in vals) <= ref:
                v = relabel(v, PARTLY)
            listing = ", ".join(f"{n} {x:.1f}" for n, x in vals)
            out[cid] = (v, f"{unit}, interval over AT models; each: {listing}")
    if {"RP-PGD3-AT", "PGD3-AT"} <= set(t.index):
        attacks = [c for c in t.columns if c != "Clean"]
        diff = t.loc["RP-PGD3-AT", attacks] - t.loc["PGD3-AT", attacks]
        out["at_rp_vs_pgd"] = (verdict(diff.to_numpy(), expect="higher"),
                               "robust mIoU RP-PGD3-AT - PGD3-AT per attack (interval over attacks): "
                               + ", ".join(f"{c} {d:+.1f}" for c, d in diff.items()))
    return out


def check_blackbox(df, profile) -> tuple[Verdict, str]:
    src, targets = rp.surrogate(profile), rp.blackbox_targets(profile)
    rp_target = next((t for t in targets if t.endswith("@RP-PGD3-AT")), None)
    others = [t for t in targets if "@" in t and t != rp_target]
    if rp_target is None or not others:
        raise Missing("RP-PGD3-AT and other AT targets")
    parts = [(f"{m} vs {o}", paired(rt.seed_values(df, "blackbox", src, m, target=rp_target),
                                    rt.seed_values(df, "blackbox", src, m, target=o), expect="higher"))
             for m in ("segpgd", "rp_pgd") for o in others]
    v, text = worst(parts)
    return v, f"transfer mIoU on RP-PGD3-AT minus on each other AT target, from {src}; {text}"


def claims(df: pd.DataFrame, profile) -> pd.DataFrame:
    """The claims table of notebook 04: every ``rp_*`` id of ``claims.csv`` plus the AT issue's targets."""
    frame = claims_frame()
    note = (f"{profile.presets[0]}, eps {profile.paper_eps:g}, {rp.n_images(profile)} images, "
            f"{len(rp.seeds(profile))} seed(s)")
    checks = {"rp_fig2_whitebox": lambda: check_fig2(df, profile),
              "rp_fast_convergence": lambda: check_convergence(df, profile),
              "rp_false_region_stays": lambda: check_false_region(df, profile)}
    results: dict[str, tuple[Verdict, str] | str] = {}
    for cid, fn in checks.items():
        got, why = attempt(fn)
        results[cid] = why or got
    for group in (check_ablations, check_at):
        results.update(attempt(group, df, profile)[0] or {})
    got, why = attempt(check_blackbox, df, profile)
    results["rp_table6_blackbox"] = why or got
    ids = [i for i in frame["id"] if str(i).startswith("rp_")] + [i for i, _, _ in ISSUE_CLAIMS]
    rows = []
    for cid in ids:
        got = results.get(cid, _NEEDS.get(cid, "rows not produced at this profile"))
        if isinstance(got, str):
            rows.append(not_run_row(cid, f"not run: {got}", claims=frame))
        else:
            v, text = got
            rows.append(claim_row(cid, v, f"{text}; {note}", claims=frame))
    return claims_table(rows, study=rp.NAME, eps=profile.paper_eps)


_NEEDS = {
    "rp_at_pgd100": "needs RP-PGD3-AT and another 3-step AT model of the same architecture in profile.at_models",
    "rp_at_battery": "needs RP-PGD3-AT and another 3-step AT model of the same architecture in profile.at_models",
    "rp_at3_vs_segpgd7": "needs SegPGD7-AT and RP-PGD3-AT models (the profile trains no 7-step AT model)",
    "at_rp_vs_pgd": "needs RP-PGD3-AT and PGD3-AT models in profile.at_models",
}
