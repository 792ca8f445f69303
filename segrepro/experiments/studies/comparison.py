"""The four methods side by side (notebook ``05_comparison``): one transfer grid, cost, new combinations,
and one table of every paper claim with its verdict.

The grid is the TranSegPGD study's ``transfer`` grid (first preset, the profile's largest eps,
the first two sources, every target, ``profile.steps`` iterations): DS, TranSegPGD, the baselines
(PGD, SegPGD, CosPGD, MI, DI, TI) and TranSegPGD+MI/DI/TI come from ``transegpgd.csv``, SegTrans
(both readings) and BIM from ``segtrans.csv``. This study adds, with the same settings
(``results/<profile>/comparison.csv``, grid ``transfer``):

- ``rp_pgd`` (a white-box attack; its transfer is measured here for the first time),
- combinations none of the papers tried (:data:`NEW_COMBOS`): ``ds+transegpgd`` (DS's rescaling
  around TranSegPGD's weighted objective), ``segtrans+mi``, ``ds+mi``. RP-PGD composes with no
  input transform (its region memory lives on the native pixel grid; the engine refuses it).

Its ``extra`` step computes any cell of the other two studies' transfer grids that is missing, so
the comparison also runs alone. :data:`SEED_CAPS` caps the seeds of this study's own random
methods per profile (budget); paired claims then pair their one seed with each seed of the others.
"""
from __future__ import annotations

import importlib
import math

import numpy as np
import pandas as pd

from segrepro.experiments.grid import GridSpec
from segrepro.experiments.studies import Study
from segrepro.plots import cost_transfer_frontier

NAME = "comparison"
#: The four papers' methods -> the paper.
PAPER_METHODS = {"ds": "DS (Gu et al.)", "transegpgd": "TranSegPGD", "segtrans": "SegTrans", "rp_pgd": "RP-PGD"}
BASELINES = ("bim", "pgd", "segpgd", "cospgd", "mi", "di", "ti")
#: Combinations a paper tried (TranSegPGD's summary: with MI-FGSM).
PAPER_COMBOS = {"transegpgd+mi": ("transegpgd", "mi"), "transegpgd+di": ("transegpgd", "di"),
                "transegpgd+ti": ("transegpgd", "ti")}
#: Combinations none of the papers tried -> their parts.
NEW_COMBOS = {"ds+transegpgd": ("ds", "transegpgd"), "segtrans+mi": ("segtrans", "mi"), "ds+mi": ("ds", "mi")}
OWN = ("rp_pgd", *NEW_COMBOS)
#: Seeds of this study's own random methods, per profile name (``None``: all of the profile's).
SEED_CAPS = {"embedded": 1}
#: Where the other studies' claims come from: study -> (module, builder); each builder gets
#: ``(profile)`` and returns claim rows. Resolved lazily: a missing one is reported, not fatal.
CLAIM_SOURCES = {
    "dynamic_scaling": "segrepro.experiments.studies.dynamic_scaling_claims",
    "transegpgd": "segrepro.experiments.studies.transegpgd",
    "segtrans": "segrepro.experiments.studies.segtrans",
    "rp_pgd": "segrepro.experiments.studies.rp_pgd_claims",
}
NOT_AVAILABLE = "not available"


def study_eps(profile) -> float:
    """The TranSegPGD transfer grid's budget: the profile's largest eps."""
    return float(max(profile.eps))


def sources(profile) -> tuple[str, ...]:
    """The TranSegPGD transfer grid's sources: the first two of ``profile.sources``."""
    return tuple(profile.sources[:2])


def own_seeds(profile) -> tuple[int, ...]:
    cap = SEED_CAPS.get(profile.name)
    return tuple(profile.seeds if cap is None else profile.seeds[:cap])


def grids(profile) -> list[GridSpec]:
    """RP-PGD and the new combinations on the TranSegPGD transfer grid's settings (all random: seeds capped).

    Only the last iteration is evaluated: every table and the frontier read that one (saves evaluations).
    """
    methods = [(m, dict(profile.method_params.get(m, {}))) for m in OWN]
    return [GridSpec(study=NAME, preset=profile.presets[0], sources=sources(profile), targets=profile.targets,
                     methods=methods, grid="transfer", eps=(study_eps(profile),), alpha=profile.alpha,
                     steps=profile.steps, snapshots=(profile.steps,), seeds=own_seeds(profile),
                     n_images=profile.n_images, batch_size=profile.batch_size)]


def _module(name: str):
    """Import a study module, or ``None`` when it does not exist (yet)."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError:
        return None


def _shared_grids(profile) -> list[tuple[str, GridSpec]]:
    """``(study, grid)`` of the other studies' transfer grids (those whose module exists)."""
    out = []
    for study in ("transegpgd", "segtrans"):
        mod = _module(f"segrepro.experiments.studies.{study}")
        if mod is not None and hasattr(mod, "transfer_grids"):
            out += [(study, g) for g in mod.transfer_grids(profile)]
    return out


def extra(profile, zoo, store, progress: bool = True) -> None:
    """Compute the cells of the TranSegPGD and SegTrans transfer grids that their tables lack."""
    from segrepro.experiments.distributed import DistContext
    from segrepro.experiments.grid import run_grid
    from segrepro.experiments.runner import _LazyData, results_path
    from segrepro.experiments.store import ResultStore

    for study, spec in _shared_grids(profile):
        run_grid(spec, ResultStore(results_path(profile, study)), zoo.models(spec.preset),
                 _LazyData(zoo, spec.preset, spec.n_images), device=zoo.device, amp=profile.amp,
                 progress=progress, dist=DistContext())


def results(profile, df: pd.DataFrame | None = None) -> pd.DataFrame:
    """This study's rows plus the other studies' ``transfer`` rows at the same eps and preset."""
    from segrepro.experiments.runner import load_results

    parts = [load_results(profile, NAME) if df is None else df]
    for study in ("transegpgd", "segtrans"):
        if _module(f"segrepro.experiments.studies.{study}") is None:
            continue
        other = load_results(profile, study)
        keep = (other["grid"] == "transfer") & (other["params"] == "{}") & (other["preset"] == profile.presets[0])
        parts.append(other[keep])
    out = pd.concat(parts, ignore_index=True)
    eps_ok = np.isclose(out["eps"], study_eps(profile)) | (out["method"] == "clean")
    return out[eps_ok].drop_duplicates().reset_index(drop=True)


# ---------------------------------------------------------------- tables


def family(method: str) -> str:
    if method in PAPER_METHODS:
        return f"paper method: {PAPER_METHODS[method]}"
    if method in PAPER_COMBOS:
        return "combination a paper tried"
    if method in NEW_COMBOS:
        return "new combination (ours)"
    return "baseline"


def methods_present(df: pd.DataFrame) -> list[str]:
    """Every method of the comparison with rows in ``df``, in table order."""
    order = [*PAPER_METHODS, *PAPER_COMBOS, *NEW_COMBOS, *BASELINES, "segtrans_zoom"]
    have = set(df.loc[df["method"] != "clean", "method"])
    return [m for m in order if m in have]


def _cost(df: pd.DataFrame, method: str, metric: str) -> float:
    rows = df[(df["method"] == method) & (df["params"] == "{}") & (df["metric"] == metric)]
    return float(rows["value"].mean()) if len(rows) else math.nan


def grid_table(df: pd.DataFrame) -> pd.DataFrame:
    """One row per method: mean transfer mIoU [95 % CI], transfer ASR, white-box mIoU (%), cost per example."""
    from segrepro.experiments.studies import transfer_tables as tt

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
    """Each combination against its best part: transfer mIoU (%) and a verdict on "the combination transfers better"."""
    from segrepro.experiments.studies import transfer_tables as tt

    out = []
    for combo, parts in {**PAPER_COMBOS, **NEW_COMBOS}.items():
        means = {p: tt.per_seed(df, tt.key(p)).mean() * 100 for p in (combo, *parts)}
        if any(not np.isfinite(v) for v in means.values()):
            continue
        best = min(parts, key=means.get)
        v, unit = tt.compare(df, tt.key(combo), tt.key(best), expect="lower")
        out.append({"combination": combo, "tried by a paper": combo in PAPER_COMBOS,
                    **{f"part {i + 1}": f"{p} {means[p]:.1f}" for i, p in enumerate(parts)},
                    "transfer mIoU": means[combo], "best part": best,
                    "combination - best part": v.our_value(), "better than its parts": v.verdict,
                    "interval over": unit})
    return pd.DataFrame(out)


def frontier_figure(df: pd.DataFrame, profile):
    """Cost per example vs mean transfer mIoU for every method of the grid (``segrepro.plots``)."""
    rows = df[df["method"].isin(methods_present(df) + ["clean"]) & (df["params"] == "{}")]
    fig = cost_transfer_frontier(rows, preset=profile.presets[0], eps=study_eps(profile))
    fig.axes[0].set_title(f"cost vs transfer, {profile.presets[0]}, eps {study_eps(profile):g}, T={profile.steps}")
    return fig


# ---------------------------------------------------------------- every claim


def _claims_of(study: str, profile) -> pd.DataFrame:
    from segrepro.experiments.runner import load_results

    mod = importlib.import_module(CLAIM_SOURCES[study])
    if study == "dynamic_scaling":
        df = load_results(profile, study)
        note = mod.scale_note(profile) if hasattr(mod, "scale_note") else ""
        return pd.DataFrame(mod.claims_rows(df, profile, note))
    if study == "segtrans":
        return mod.claims(mod.results(profile), profile)
    return mod.claims(load_results(profile, study), profile)


def all_claims(profile) -> pd.DataFrame:
    """Every paper claim with its verdict, gathered from the four studies' claim builders.

    Reads stored results only (computes nothing). A study whose module or builder is missing, or whose
    results are absent, gives one row with verdict ``"not available"`` and the reason; every id of
    ``claims.csv`` that no builder judged gets a ``"not judged"`` row, so nothing disappears silently.

    Returns:
        Columns ``study``, ``id``, ``claim``, ``paper value``, ``our value``, ``verdict``, ``comment``.
    """
    from segrepro import paper_values

    cols = ["study", "id", "claim", "paper value", "our value", "verdict", "comment"]
    frames = []
    for study in CLAIM_SOURCES:
        try:
            got = _claims_of(study, profile)
        except Exception as err:  # noqa: BLE001 - any failure of another study's builder is reported, not fatal
            got = pd.DataFrame([{"id": "-", "claim": f"claims of the {study} study", "paper value": "-",
                                 "our value": "-", "verdict": NOT_AVAILABLE,
                                 "comment": f"{type(err).__name__}: {err}"[:300]}])
        got = got.assign(study=study)
        if "eps" in got.columns:
            got["comment"] = [f"eps {e:g}: {c}" if isinstance(e, float) and e == e else c
                              for e, c in zip(got["eps"], got["comment"])]
        frames.append(got.reindex(columns=cols))
    out = pd.concat(frames, ignore_index=True)
    known = paper_values.load("claims")
    missing = known[~known["id"].isin(out["id"])]
    if len(missing):
        out = pd.concat([out, pd.DataFrame({"study": missing["notebook"].str[3:], "id": missing["id"],
                                            "claim": missing["claim"], "paper value": missing["paper_value"],
                                            "our value": "-", "verdict": "not judged",
                                            "comment": "no row from the study's claim builder"})],
                        ignore_index=True)
    return out[cols]


def verdict_summary(claims: pd.DataFrame) -> pd.DataFrame:
    """Counts of verdicts per study (rows) and verdict (columns), with a total row."""
    t = claims.groupby(["study", "verdict"]).size().unstack("verdict", fill_value=0)
    t.loc["all"] = t.sum()
    return t


def headline(df: pd.DataFrame, profile, claims: pd.DataFrame | None = None) -> dict:
    """Numbers the notebook glues into its prose; every key exists (NaN / 0 / "-" when absent)."""
    t = grid_table(df).set_index("method")
    best = t["transfer mIoU (mean)"].idxmin() if len(t) else "-"
    out = {"cmp_best_method": best, "cmp_best_miou": float(t.loc[best, "transfer mIoU (mean)"]) if len(t) else math.nan,
           "cmp_n_methods": len(t), "cmp_eps": study_eps(profile), "cmp_steps": profile.steps,
           "cmp_images": profile.n_images, "cmp_sources": ", ".join(sources(profile)),
           "cmp_preset": profile.presets[0]}
    cheap = t["s / example"].idxmin() if len(t) else "-"
    out["cmp_cheapest"] = cheap
    for m in PAPER_METHODS:
        have = m in t.index
        out[f"cmp_{m}_miou"] = float(t.loc[m, "transfer mIoU (mean)"]) if have else math.nan
        out[f"cmp_{m}_wb"] = float(t.loc[m, "white-box mIoU"]) if have else math.nan
        out[f"cmp_{m}_seconds"] = float(t.loc[m, "s / example"]) if have else math.nan
    counts = claims["verdict"].value_counts() if claims is not None else pd.Series(dtype=int)
    for v in ("reproduced", "partly", "not reproduced", "not run", "not judged", NOT_AVAILABLE):
        out[f"cmp_n_{v.replace(' ', '_')}"] = int(counts.get(v, 0))
    out["cmp_n_claims"] = int((claims["id"] != "-").sum()) if claims is not None else 0
    missing = sorted(set(claims.loc[claims["verdict"] == NOT_AVAILABLE, "study"])) if claims is not None else []
    out["cmp_missing_studies"] = ", ".join(missing) if missing else "none"
    return out


STUDY = Study(name=NAME, title="Comparison: the four methods and baselines on one grid, new combinations, all claims",
              grids=grids, extra=extra, notebook="05_comparison")
