"""Tables, figure and headline numbers of notebook ``05_comparison`` (transfer mIoU and ASR in %)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from segrepro.attacks.methods import METHODS
from segrepro.report import transfer as tt
from segrepro.report.plots import cost_transfer_frontier
from segrepro.studies.comparison.claims import outcome_counts
from segrepro.studies.comparison.grids import NEW_COMBOS
from segrepro.studies.transegpgd import grids as tsp

#: The four papers' methods -> the paper.
PAPER_METHODS = {"ds": "DS (Gu et al.)", "transegpgd": "TranSegPGD", "segtrans": "SegTrans", "rp_pgd": "RP-PGD"}


def family(method: str) -> str:
    """``paper method: <paper>``, ``combination a paper tried``, ``new combination (ours)`` or ``baseline``."""
    if method in PAPER_METHODS:
        return f"paper method: {PAPER_METHODS[method]}"
    if method in NEW_COMBOS:
        return "new combination (ours)"
    return "combination a paper tried" if "+" in method else "baseline"


def methods_present(df: pd.DataFrame) -> list[str]:
    """Every method with rows in ``df``: the papers' methods, the combinations, then the baselines
    (in the methods table's order)."""
    have = set(df.loc[df["method"] != "clean", "method"])
    rank = {f: i for i, f in enumerate(("paper", "combination a paper", "new", "baseline"))}
    table = {m: i for i, m in enumerate([*PAPER_METHODS, *NEW_COMBOS, *METHODS])}
    return sorted(have, key=lambda m: (next(v for k, v in rank.items() if family(m).startswith(k)),
                                       table.get(m, len(table)), m))


def _cost(df: pd.DataFrame, method: str, metric: str) -> float:
    rows = df[(df["method"] == method) & (df["params"] == "{}") & (df["metric"] == metric)]
    return float(rows["value"].mean()) if len(rows) else math.nan


def grid_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per method: mean transfer mIoU [95 % CI], transfer ASR, white-box mIoU (%), cost per example."""
    methods = methods_present(df)
    miou = tt.method_table(df, [tt.key(m) for m in methods]).set_index("method")
    asr = tt.method_table(df, [tt.key(m) for m in methods], metric="asr").set_index("method")
    out = []
    for m in methods:
        if m not in miou.index:
            continue
        r = miou.loc[m]
        ci = "" if math.isnan(r["low"]) else f" [{r['low']:.1f}, {r['high']:.1f}]"
        out.append({"method": m, "family": family(m), "transfer mIoU": f"{r['transfer']:.1f}{ci}",
                    "transfer mIoU (mean)": r["transfer"], "transfer ASR": asr.loc[m, "transfer"],
                    "white-box mIoU": r["white-box"], "seeds": int(r["seeds"]),
                    "s / example": _cost(df, m, "seconds_per_example"),
                    "passes / example": _cost(df, m, "forward_passes_per_example")
                    + _cost(df, m, "backward_passes_per_example")})
    return pd.DataFrame(out).sort_values("transfer mIoU (mean)").reset_index(drop=True)


def combos_table(df: pd.DataFrame) -> pd.DataFrame:
    """Each combination against its best part: transfer mIoU (%) and the paired difference with its interval."""
    out = []
    for combo in (m for m in methods_present(df) if "+" in m):
        parts = tuple(combo.split("+"))
        means = {p: tt.per_seed(df, tt.key(p)).mean() * 100 for p in (combo, *parts)}
        if any(not np.isfinite(v) for v in means.values()):
            continue
        best = min(parts, key=means.get)
        v, unit = tt.compare(df, tt.key(combo), tt.key(best), expect="lower")
        out.append({"combination": combo, "tried by a paper": combo not in NEW_COMBOS,
                    **{f"part {i + 1}": f"{p} {means[p]:.1f}" for i, p in enumerate(parts)},
                    "transfer mIoU": means[combo], "best part": best,
                    "combination - best part (mIoU points)": v.our_value(), "interval over": unit})
    return pd.DataFrame(out)


def frontier_figure(df: pd.DataFrame, profile):
    """Cost per example vs mean transfer mIoU for every method of the grid (``segrepro.report.plots``)."""
    rows = df[df["method"].isin(methods_present(df) + ["clean"]) & (df["params"] == "{}")]
    fig = cost_transfer_frontier(rows, preset=profile.presets[0], eps=profile.side_eps)
    fig.axes[0].set_title(f"cost vs transfer, {profile.presets[0]}, eps {profile.side_eps:g}, T={profile.steps}")
    return fig


def headline(df: pd.DataFrame, profile, claims: pd.DataFrame | None = None) -> dict:
    """Numbers the notebook glues into its prose; every key exists (NaN / 0 / "-" when absent)."""
    t = grid_table(df).set_index("method")
    best = t["transfer mIoU (mean)"].idxmin() if len(t) else "-"
    out = {"cmp_best_method": best, "cmp_best_miou": float(t.loc[best, "transfer mIoU (mean)"]) if len(t) else math.nan,
           "cmp_n_methods": len(t), "cmp_eps": profile.side_eps, "cmp_steps": profile.steps,
           "cmp_images": tsp.study_images(profile), "cmp_sources": ", ".join(tsp.sources(profile)),
           "cmp_preset": profile.presets[0]}
    out["cmp_cheapest"] = t["s / example"].idxmin() if len(t) else "-"
    for m in PAPER_METHODS:
        have = m in t.index
        out[f"cmp_{m}_miou"] = float(t.loc[m, "transfer mIoU (mean)"]) if have else math.nan
        out[f"cmp_{m}_wb"] = float(t.loc[m, "white-box mIoU"]) if have else math.nan
        out[f"cmp_{m}_seconds"] = float(t.loc[m, "s / example"]) if have else math.nan
    return {**out, **outcome_counts(claims)}


def headline_sentences(df: pd.DataFrame, profile, claims: pd.DataFrame) -> list[str]:
    """Three sentences of findings for the landing page, every number computed from this run."""
    h = headline(df, profile, claims)
    n = h["cmp_n_claims"]
    first = (f"Of the {n} claims of the four papers, {h['cmp_n_reproduced']} reproduce at our scale, "
             f"{h['cmp_n_contradicted']} are contradicted, {h['cmp_n_inconclusive']} are inconclusive "
             f"(more images would decide them) and {h['cmp_n_not_testable_here']} cannot be tested here.")
    if h["cmp_best_method"] == "-":
        return [first]
    second = (f"On one transfer grid ({h['cmp_preset']}, eps {h['cmp_eps']:g}, {h['cmp_steps']} iterations) the "
              f"best-transferring method is {h['cmp_best_method']}, leaving {h['cmp_best_miou']:.1f} % mean target mIoU; "
              f"DS leaves {h['cmp_ds_miou']:.1f} %, TranSegPGD {h['cmp_transegpgd_miou']:.1f} %, SegTrans "
              f"{h['cmp_segtrans_miou']:.1f} % and RP-PGD {h['cmp_rp_pgd_miou']:.1f} %.")
    third = (f"The cheapest method per adversarial example is {h['cmp_cheapest']}; the project's own targets "
             f"(the adversarially trained models' robustness) are counted apart ({h['cmp_n_targets']} targets).")
    return [first, second, third]
