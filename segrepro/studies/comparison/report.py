"""Tables, figure and headline numbers of notebook ``05_comparison`` (transfer mIoU and ASR in %)."""
from __future__ import annotations

import math

import pandas as pd

from segrepro.attacks.methods import METHODS
from segrepro.report import transfer as tt
from segrepro.report.evidence import MissingEvidence
from segrepro.report.plots import cost_transfer_frontier, interval_plot
from segrepro.studies.comparison.claims import outcome_counts
from segrepro.studies.comparison.grids import NEW_COMBOS
from segrepro.studies.transegpgd import grids as tsp
from segrepro.studies.transegpgd.measure import Measure, fmt

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


def _pairs(m: Measure, profile, method: str, *, white_box: bool = False):
    return m.pairs(tt.key(method), eps=tsp.main_eps(profile), sources=tsp.sources(profile), grid=tsp.MAIN,
                   white_box=white_box)


def grid_table(df: pd.DataFrame, profile) -> pd.DataFrame:
    """One row per method: mean transfer mIoU with its 95 % interval over images, transfer ASR, white-box
    mIoU (%), images and seeds, cost per example (methods without stored counts are left out)."""
    m, out = Measure(profile, df), []
    for name in methods_present(df):
        try:
            pairs = _pairs(m, profile, name)
            white = _pairs(m, profile, name, white_box=True)
        except MissingEvidence:
            continue
        est = Measure.value(pairs, "miou")
        ci = "" if est.low is None else f" [{est.low:.1f}, {est.high:.1f}]"
        out.append({"method": name, "family": family(name), "transfer mIoU": f"{est.value:.1f}{ci}",
                    "transfer mIoU (mean)": est.value, "transfer ASR": Measure.point(pairs, "asr"),
                    "white-box mIoU": Measure.point(white, "miou"), "images": est.n_images,
                    "seeds": pairs.arms[0].n_seeds, "s / example": _cost(df, name, "seconds_per_example"),
                    "passes / example": _cost(df, name, "forward_passes_per_example")
                    + _cost(df, name, "backward_passes_per_example")})
    if not out:
        return pd.DataFrame(columns=["method", "family", "transfer mIoU", "transfer mIoU (mean)", "transfer ASR",
                                     "white-box mIoU", "images", "seeds", "s / example", "passes / example"])
    return pd.DataFrame(out).sort_values("transfer mIoU (mean)").reset_index(drop=True)


def combos_table(df: pd.DataFrame, profile) -> pd.DataFrame:
    """Each combination against its best part (the lower transfer mIoU on all images): transfer mIoU (%)
    and the difference in points with its 95 % interval over images, paired (same images; a one-seed
    method's run paired with each seed of the other)."""
    m, out = Measure(profile, df), []
    for combo in (c for c in methods_present(df) if "+" in c):
        parts = tuple(combo.split("+"))
        try:
            arms = {p: _pairs(m, profile, p) for p in (combo, *parts)}
        except MissingEvidence:
            continue
        means = {p: Measure.point(a, "miou") for p, a in arms.items()}
        best = min(parts, key=means.get)
        d = Measure.diff(arms[combo], arms[best], "miou")
        out.append({"combination": combo, "tried by a paper": combo not in NEW_COMBOS,
                    **{f"part {i + 1}": f"{p} {means[p]:.1f}" for i, p in enumerate(parts)},
                    "transfer mIoU": means[combo], "best part": best,
                    "combination - best part (mIoU points)": fmt(d), "images": d.n_images})
    return pd.DataFrame(out)


def frontier_figure(df: pd.DataFrame, profile):
    """Cost per example vs mean transfer mIoU for every method of the grid (``segrepro.report.plots``)."""
    rows = df[df["method"].isin(methods_present(df) + ["clean"]) & (df["params"] == "{}")]
    fig = cost_transfer_frontier(rows, preset=profile.presets[0], eps=tsp.main_eps(profile))
    fig.axes[0].set_title(f"cost vs transfer, {profile.presets[0]}, eps {tsp.main_eps(profile):g}, T={profile.steps}")
    return fig


#: The claim whose parts the landing page's key figure shows: DS against FS on every transfer pair.
KEY_CLAIM = "ds_table1_ds_beats_fs"


def key_figure(claims: pd.DataFrame):
    """The landing page's figure: DS minus FS transfer mIoU per source/target pair with its 95 % interval
    over images (the parts of :data:`KEY_CLAIM`), the claimed side shaded; ``None`` when it was not measured."""
    if claims is None or claims.empty:
        return None
    rows = claims[(claims["claim_id"] == KEY_CLAIM) & (claims["part"].astype(object).fillna("").astype(str) != "")]
    rows = rows[pd.to_numeric(rows["value"], errors="coerce").notna()]
    if rows.empty:
        return None
    table = rows.rename(columns={"part": "label"})[["label", "value", "low", "high"]]
    return interval_plot(table, paper=None, xlabel="DS minus FS transfer mIoU (points; below 0: DS transfers better)",
                         threshold=0.0, claimed="lower", title="Dynamic Scaling against fixed-scale BIM, per pair")


KEY_FIGURE_CAPTION = ("DS minus FS: the difference in target mIoU between examples made with Dynamic Scaling and "
                      "with fixed-scale BIM, per source and target model, with 95 % intervals over the attacked "
                      "images. The paper claims DS transfers better on every pair (left of the line).")
KEY_FIGURE_ALT = ("Dot plot with one row per source and target pair: our DS minus FS difference in mIoU points "
                  "with its interval, a vertical line at zero and the claimed side shaded.")


def headline(df: pd.DataFrame, profile, claims: pd.DataFrame | None = None) -> dict:
    """Numbers the notebook glues into its prose; every key exists (NaN / 0 / "-" when absent)."""
    t = grid_table(df, profile).set_index("method")
    best = t["transfer mIoU (mean)"].idxmin() if len(t) else "-"
    out = {"cmp_best_method": best, "cmp_best_miou": float(t.loc[best, "transfer mIoU (mean)"]) if len(t) else math.nan,
           "cmp_n_methods": len(t), "cmp_eps": tsp.main_eps(profile), "cmp_steps": profile.steps,
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
             f"(their interval holds the claim's threshold; each chapter says how many images would decide them) and "
             f"{h['cmp_n_not_testable_here']} cannot be tested here.")
    if h["cmp_best_method"] == "-":
        return [first]
    papers = ", ".join(f"{PAPER_METHODS[m].split(' (')[0]} {h[f'cmp_{m}_miou']:.1f} %" for m in PAPER_METHODS
                       if math.isfinite(h[f"cmp_{m}_miou"]))
    second = (f"On one transfer grid ({h['cmp_preset']}, eps {h['cmp_eps']:g}, {h['cmp_steps']} iterations) the "
              f"best-transferring method is {h['cmp_best_method']}, leaving {h['cmp_best_miou']:.1f} % mean target mIoU"
              + (f"; the papers' methods leave {papers}." if papers else "."))
    third = (f"The cheapest method per adversarial example is {h['cmp_cheapest']}; the project's own targets "
             f"(the adversarially trained models' robustness) are counted apart ({h['cmp_n_targets']} targets).")
    return [first, second, third]
