"""SegTrans (Song et al., arXiv 2510.08922, abstract only): grids, tables and claims of notebook ``03_segtrans``.

Grids written to ``results/<profile>/segtrans.csv`` (``study="segtrans"``), with the settings of the
TranSegPGD study (:func:`segrepro.experiments.studies.transegpgd.specs`: first preset, one eps,
the first two sources, every target, deterministic methods one seed):

=============  ==========================================================================================
grid           what
=============  ==========================================================================================
``transfer``   both readings of SegTrans (``segtrans`` region shuffle, ``segtrans_zoom``) and BIM (the
               no-overhead reference).
``grid_size``  ``segtrans`` with ``grid_sizes`` fixed at k = 2, 3, 4 on one source (the default
               U{2,3,4} is the ``transfer`` cell).
=============  ==========================================================================================

The baselines PGD, DS, TranSegPGD, MI, DI (and TranSegPGD+MI/DI) are the cells of the TranSegPGD
study's ``transfer`` grid: the ``extra`` step computes any that ``transegpgd.csv`` lacks (nothing when
that study ran first) and :func:`results` joins them to this study's rows.

Readings **[ours]** (the abstract gives two numbers and no definitions): the success rate is our
``asr`` metric (clean-correct pixels that the example flips), averaged over source/target pairs
with ``target != source``; "state of the art" is the best of :data:`BASELINES` by that mean; the
+8.55 % is read both as points and relative; the efficiency (">100 %") is read three ways, see
:func:`efficiency`.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from segrepro.experiments.studies import Study
from segrepro.experiments.studies import transegpgd as tsp
from segrepro.experiments.studies import transfer_tables as tt

NAME = "segtrans"
VARIANTS = ("segtrans", "segtrans_zoom")
#: The state-of-the-art set of the ASR and efficiency claims (claims.csv, ``st_asr_gain``).
BASELINES = ("pgd", "ds", "transegpgd", "mi", "di")
#: Cells taken from the TranSegPGD study.
SHARED = BASELINES + ("transegpgd+mi", "transegpgd+di")
#: Fixed grid sizes of the ablation (the default draws k ~ U{2, 3, 4}).
GRID_SIZES = (2, 3, 4)
SEGTRANS = tt.key("segtrans")


def transfer_grids(profile):
    """SegTrans (both readings) and BIM from the transfer sources to every target."""
    methods = [tsp.method_spec(profile, m) for m in (*VARIANTS, "bim")]
    return tsp.specs(profile, NAME, "transfer", methods, tsp.sources(profile))


def grid_size_methods(profile):
    """The default SegTrans and one fixed ``grid_sizes=(k,)`` per k of :data:`GRID_SIZES`."""
    return [tsp.method_spec(profile, "segtrans")] + [tsp.method_spec(profile, "segtrans", grid_sizes=(k,))
                                                     for k in GRID_SIZES]


def grid_size_grids(profile):
    """The grid-size ablation on the TranSegPGD study's ablation source."""
    return tsp.specs(profile, NAME, "grid_size", grid_size_methods(profile), (tsp.ablation_source(profile),))


def grids(profile):
    """Every grid of the study (the shared baselines are the ``extra`` step's)."""
    return [*transfer_grids(profile), *grid_size_grids(profile)]


def extra(profile, zoo, store, progress: bool = True) -> None:
    """Compute the shared baseline cells missing from ``transegpgd.csv`` (one process; resumable)."""
    from segrepro.experiments.distributed import DistContext
    from segrepro.experiments.grid import run_grid
    from segrepro.experiments.runner import _LazyData, results_path
    from segrepro.experiments.store import ResultStore

    shared = ResultStore(results_path(profile, tsp.NAME))
    for spec in tsp.baseline_grids(profile, SHARED):
        run_grid(spec, shared, zoo.models(spec.preset), _LazyData(zoo, spec.preset, spec.n_images),
                 device=zoo.device, amp=profile.amp, progress=progress, dist=DistContext())


def results(profile, df: pd.DataFrame | None = None) -> pd.DataFrame:
    """This study's rows (``df``, else loaded) plus the shared baseline rows of the TranSegPGD study."""
    from segrepro.experiments.runner import load_results

    df = load_results(profile, NAME) if df is None else df
    base = load_results(profile, tsp.NAME)
    keep = base["method"].isin(SHARED) & (base["params"] == "{}") & (base["grid"] == "transfer")
    return pd.concat([df, base[keep]], ignore_index=True)


# ---------------------------------------------------------------- tables


def method_keys() -> list:
    return [tt.key(m) for m in (*VARIANTS, *SHARED, "bim")]


def asr_table(df: pd.DataFrame, metric: str = "asr") -> pd.DataFrame:
    """Mean transfer ASR (%) per method (SegTrans, baselines, BIM), per source and white-box."""
    return tt.method_table(df, method_keys(), metric=metric)


def best_baseline(df: pd.DataFrame) -> tuple:
    """``(key, mean transfer ASR)`` of the best of :data:`BASELINES` (highest mean transfer ASR)."""
    means = {m: tt.per_seed(df, tt.key(m), metric="asr").mean() for m in BASELINES}
    means = {m: v for m, v in means.items() if np.isfinite(v)}
    if not means:
        raise ValueError(f"no transfer ASR rows for any baseline of {BASELINES}")
    m = max(means, key=means.get)
    return tt.key(m), float(means[m])


def _cost(df: pd.DataFrame, k, metric: str) -> pd.DataFrame:
    return tt.pair_values(df, k, metric=metric, white_box=True)


def cost_table(df: pd.DataFrame) -> pd.DataFrame:
    """Cost per adversarial example and transfer ASR per method, and ASR per second relative to the best baseline.

    Columns: ``method``, ``seconds``, ``passes`` (forward + backward), ``transfer ASR`` (%),
    ``ASR per second`` and ``vs best baseline`` (``ASR per second / that of the best baseline - 1``, %).
    """
    out = []
    for k in method_keys():
        sec = _cost(df, k, "seconds_per_example")
        if sec.empty:
            continue
        passes = (_cost(df, k, "forward_passes_per_example")["value"].mean()
                  + _cost(df, k, "backward_passes_per_example")["value"].mean())
        asr = tt.per_seed(df, k, metric="asr").mean() * 100
        out.append({"method": tt.label(*k), "seconds": sec["value"].mean(), "passes": passes, "transfer ASR": asr,
                    "ASR per second": asr / sec["value"].mean()})
    table = pd.DataFrame(out)
    if len(table):
        best = tt.label(*best_baseline(df)[0])
        ref = table.set_index("method").loc[best, "ASR per second"] if best in set(table["method"]) else math.nan
        table["vs best baseline"] = (table["ASR per second"] / ref - 1) * 100
    return table


def grid_size_table(df: pd.DataFrame, profile) -> pd.DataFrame:
    """Grid-size ablation on the ablation source: transfer ASR and mIoU, white-box ASR (%)."""
    rows = df[df["source"] == tsp.ablation_source(profile)]
    out = []
    for m in grid_size_methods(profile):
        k = tt.key(m.name, m.params_json)
        asr = tt.method_table(rows, [k], metric="asr")
        if asr.empty:
            continue
        ks = m.params.get("grid_sizes")
        miou = tt.per_seed(rows, k, metric="miou").mean() * 100
        out.append({"k": "U{2,3,4} (default)" if ks is None else str(ks[0]), "transfer ASR": asr["transfer"][0],
                    "low": asr["low"][0], "high": asr["high"][0], "transfer mIoU": miou,
                    "white-box ASR": asr["white-box"][0]})
    return pd.DataFrame(out)


# ---------------------------------------------------------------- claims


def _paired_cost(df, a, b, metric="seconds_per_example"):
    return tt.paired(_cost(df, a, metric), _cost(df, b, metric))


def efficiency(df: pd.DataFrame, profile, variant: str = "segtrans") -> dict:
    """The three readings of ">100 % efficiency" **[ours]**, per seed of ``variant`` (lists, in %/ratio).

    - ``time_ratio``: seconds per example of the best baseline / of SegTrans (claims.csv: ``>= 2``).
    - ``asr_per_second``: (transfer ASR per second of SegTrans) / (that of the best baseline) - 1, in %.
    - ``iterations``: ``T / t*`` - 1 in %, with ``t*`` the (interpolated) iteration at which SegTrans's
      mean transfer ASR first reaches the best baseline's at ``T`` (-100 % when it never does).
    """
    best, _ = best_baseline(df)
    k = tt.key(variant)
    b_sec, s_sec, _ = _paired_cost(df, best, k)
    time_ratio = [b / s for b, s in zip(b_sec, s_sec)]
    ra, rb = tt.pair_values(df, k, metric="asr"), tt.pair_values(df, best, metric="asr")
    sa, sb, _ = tt.paired(ra, rb)
    per_s = [(a / s) / (b / bs) * 100 - 100 for a, b, s, bs in zip(sa, sb, s_sec, b_sec)]
    level = tt.curve(df, best, metric="asr")["mean"].iloc[-1]
    rows = df[(df["method"] == k[0]) & (df["params"] == k[1])]
    iters = []
    for seed in sorted(rows["seed"].unique()):
        t_star = tt.iterations_to_reach(tt.curve(rows[rows["seed"] == seed], k, metric="asr"), level)
        iters.append(profile.steps / max(t_star, 1e-9) * 100 - 100)  # t* = 0 only if the baseline has no ASR
    return {"best": tt.label(*best), "time_ratio": time_ratio, "asr_per_second": per_s, "iterations": iters}


def claims(df: pd.DataFrame, profile) -> pd.DataFrame:
    """The claims table of notebook 03 (``df``: :func:`results`)."""
    from segrepro.experiments.claims import claim_row, claims_table, verdict

    note = tsp.scale_note(profile)
    best, best_asr = best_baseline(df)
    rows = []
    for variant in VARIANTS:
        k = tt.key(variant)
        v, unit = tt.compare(df, k, best, expect="higher", metric="asr")
        rel = (tt.per_seed(df, k, metric="asr").mean() / best_asr - 1) * 100
        rows.append(claim_row("st_asr_gain", v, f"{variant}: transfer ASR - {tt.label(*best)} (best baseline), in "
                              f"points; relative gain {rel:+.1f} %; interval over {unit}; {note}"))
    s_sec, b_sec, _ = _paired_cost(df, SEGTRANS, tt.key("bim"))
    s_pass = sum(_cost(df, SEGTRANS, m)["value"].mean() for m in ("forward_passes_per_example",
                                                                   "backward_passes_per_example"))
    b_pass = sum(_cost(df, tt.key("bim"), m)["value"].mean() for m in ("forward_passes_per_example",
                                                                        "backward_passes_per_example"))
    rows.append(claim_row("st_no_overhead", verdict([s / b for s, b in zip(s_sec, b_sec)], expect="lower",
                                                    reference=1.2),
                          f"seconds per example segtrans / bim (passes ratio {s_pass / b_pass:.2f}); {note}"))
    eff = efficiency(df, profile)
    readings = (("time_ratio", 2.0, "seconds per example of {b} / of segtrans (claims.csv reading, >= 2)"),
                ("asr_per_second", 100.0, "ours: transfer ASR per second of segtrans vs {b}, gain in % (> 100)"),
                ("iterations", 100.0, "ours: T / iterations segtrans needs to reach {b}'s ASR at T, gain in % (> 100)"))
    for name, ref, text in readings:
        rows.append(claim_row("st_efficiency", verdict(eff[name], expect="higher", reference=ref),
                              f"{text.format(b=eff['best'])}; {note}"))
    return claims_table(rows)


def headline(df: pd.DataFrame, profile) -> dict:
    """Numbers the notebook glues into its prose."""
    best, best_asr = best_baseline(df)
    st = tt.per_seed(df, SEGTRANS, metric="asr").mean()
    zoom = tt.per_seed(df, tt.key("segtrans_zoom"), metric="asr").mean()
    eff = efficiency(df, profile)
    cost = cost_table(df).set_index("method")
    return {"st_asr_segtrans": st * 100, "st_asr_zoom": zoom * 100, "st_best_baseline": tt.label(*best),
            "st_best_asr": best_asr * 100, "st_gain_points": (st - best_asr) * 100,
            "st_gain_relative": (st / best_asr - 1) * 100, "st_time_ratio": float(np.mean(eff["time_ratio"])),
            "st_eff_asr_per_s": float(np.mean(eff["asr_per_second"])),
            "st_eff_iterations": float(np.mean(eff["iterations"])),
            "st_seconds_segtrans": float(cost.loc["segtrans", "seconds"]),
            "st_seconds_bim": float(cost.loc["bim", "seconds"]) if "bim" in cost.index else math.nan,
            "st_eps": tsp.study_eps(profile)}


STUDY = Study(name=NAME, title="SegTrans: transfer success rate, cost and efficiency, grid-size ablation",
              grids=grids, extra=extra, notebook="03_segtrans")
