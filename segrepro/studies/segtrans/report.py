"""Tables and headline numbers of notebook ``03_segtrans`` (transfer ASR and mIoU in %), and the three
readings of the efficiency claim (:func:`efficiency`)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from segrepro.report import transfer as tt
from segrepro.studies.segtrans.grids import BASELINES, SEGTRANS, VARIANTS, grid_size_methods, shared
from segrepro.studies.transegpgd import grids as tsp


def method_keys(profile) -> list:
    return [tt.key(m) for m in (*VARIANTS, *shared(profile), "bim")]


def asr_table(df: pd.DataFrame, profile, metric: str = "asr") -> pd.DataFrame:
    """Mean transfer ASR (%) per method (SegTrans, baselines, BIM), per source and white-box."""
    return tt.method_table(df, method_keys(profile), metric=metric)


def best_baseline(df: pd.DataFrame) -> tuple:
    """``(key, mean transfer ASR)`` of the best of :data:`BASELINES` (highest mean transfer ASR)."""
    means = {m: tt.per_seed(df, tt.key(m), metric="asr").mean() for m in BASELINES}
    means = {m: v for m, v in means.items() if np.isfinite(v)}
    if not means:
        raise ValueError(f"no transfer ASR rows for any baseline of {BASELINES}")
    m = max(means, key=means.get)
    return tt.key(m), float(means[m])


def cost(df: pd.DataFrame, k, metric: str) -> pd.DataFrame:
    return tt.pair_values(df, k, metric=metric, white_box=True)


def cost_table(df: pd.DataFrame, profile) -> pd.DataFrame:
    """Cost per adversarial example and transfer ASR per method, and ASR per second relative to the best baseline.

    Columns: ``method``, ``seconds``, ``passes`` (forward + backward), ``transfer ASR`` (%),
    ``ASR per second`` and ``vs best baseline`` (``ASR per second / that of the best baseline - 1``, %).
    """
    out = []
    for k in method_keys(profile):
        sec = cost(df, k, "seconds_per_example")
        if sec.empty:
            continue
        passes = (cost(df, k, "forward_passes_per_example")["value"].mean()
                  + cost(df, k, "backward_passes_per_example")["value"].mean())
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


def paired_cost(df, a, b, metric="seconds_per_example"):
    return tt.paired(cost(df, a, metric), cost(df, b, metric))


def efficiency(df: pd.DataFrame, profile, variant: str = "segtrans") -> dict:
    """The three readings of ">100 % efficiency" **[ours]**, per seed of ``variant`` (lists, in %/ratio).

    - ``time_ratio``: seconds per example of the best baseline / of SegTrans (claims.csv: ``>= 2``).
    - ``asr_per_second``: (transfer ASR per second of SegTrans) / (that of the best baseline) - 1, in %.
    - ``iterations``: ``T / t*`` - 1 in %, with ``t*`` the (interpolated) iteration at which SegTrans's
      mean transfer ASR first reaches the best baseline's at ``T`` (-100 % when it never does).
    """
    best, _ = best_baseline(df)
    k = tt.key(variant)
    b_sec, s_sec, _ = paired_cost(df, best, k)
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


def headline(df: pd.DataFrame, profile) -> dict:
    """Numbers the notebook glues into its prose."""
    best, best_asr = best_baseline(df)
    st = tt.per_seed(df, SEGTRANS, metric="asr").mean()
    zoom = tt.per_seed(df, tt.key("segtrans_zoom"), metric="asr").mean()
    eff = efficiency(df, profile)
    cost = cost_table(df, profile).set_index("method")
    return {"st_asr_segtrans": st * 100, "st_asr_zoom": zoom * 100, "st_best_baseline": tt.label(*best),
            "st_best_asr": best_asr * 100, "st_gain_points": (st - best_asr) * 100,
            "st_gain_relative": (st / best_asr - 1) * 100, "st_time_ratio": float(np.mean(eff["time_ratio"])),
            "st_eff_asr_per_s": float(np.mean(eff["asr_per_second"])),
            "st_eff_iterations": float(np.mean(eff["iterations"])),
            "st_seconds_segtrans": float(cost.loc["segtrans", "seconds"]),
            "st_seconds_bim": float(cost.loc["bim", "seconds"]) if "bim" in cost.index else math.nan,
            "st_eps": profile.side_eps}
