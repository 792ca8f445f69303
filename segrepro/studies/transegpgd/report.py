"""Tables, figures and headline numbers of notebook ``02_transegpgd`` (mIoU, ASR, MisRatio in %)."""
from __future__ import annotations

import math

import pandas as pd

from segrepro.attacks.methods import get_method
from segrepro.report import transfer as tt
from segrepro.studies.transegpgd.grids import (BETAS, DEFAULT, GAMMAS, ablation_methods, ablation_source,
                                              attack_baselines, method_spec, methods, sources, study_images,
                                              transform_baselines)


def transfer_table(df: pd.DataFrame, profile, metric: str = "miou") -> pd.DataFrame:
    """Mean transfer ``metric`` (%) per method of the transfer grid, per source and white-box."""
    return tt.method_table(df, [tt.key(m) for m in methods(profile)], metric=metric)


def ablation_table(df: pd.DataFrame, profile) -> pd.DataFrame:
    """The [ours] choices on the ablation source: transfer mIoU and ASR, white-box mIoU and MisRatio.

    The white-box MisRatio is read at ``ceil(T/2)`` (the last stage-1 iterate under ``switch="half"``).
    """
    rows = df[df["source"] == ablation_source(profile)]
    keys = [tt.key(m.name, m.params_json) for m in ablation_methods(profile)]
    half = math.ceil(profile.steps / 2)
    out = tt.method_table(rows, keys, metric="miou")[["method", "transfer", "low", "high", "white-box"]]
    out = out.rename(columns={"transfer": "transfer mIoU", "white-box": "white-box mIoU"})
    asr = tt.method_table(rows, keys, metric="asr").set_index("method")
    out["transfer ASR"] = out["method"].map(asr["transfer"])
    mis = {tt.label(*k): tt.pair_values(rows, k, metric="mis_ratio", iteration=half, white_box=True)["value"].mean()
           * 100 for k in keys}
    out[f"white-box MisRatio at t={half}"] = out["method"].map(mis)
    return out


def combination_table(df: pd.DataFrame, profile, metric: str = "miou") -> pd.DataFrame:
    """Each transform (MI, DI, TI) alone and combined with TranSegPGD: mean transfer ``metric`` (%) and the difference."""
    table = transfer_table(df, profile, metric).set_index("method")["transfer"]
    rows = [{"attack": m, "alone": table.get(m, math.nan), "with transegpgd": table.get(f"transegpgd+{m}", math.nan)}
            for m in transform_baselines(profile)]
    out = pd.DataFrame(rows)
    out["difference"] = out["with transegpgd"] - out["alone"]
    return out


def sweep(df: pd.DataFrame, profile, param: str, metric: str = "miou") -> pd.DataFrame:
    """Mean transfer ``metric`` (%) vs ``gamma`` or ``beta`` on the ablation source (default 0.1 included)."""
    values = {"gamma": GAMMAS, "beta": BETAS}
    if param not in values:
        raise ValueError(f"param must be one of {sorted(values)}, got {param!r}")
    default = get_method("transegpgd").params[param].default
    rows = df[df["source"] == ablation_source(profile)]
    out = []
    for v in sorted({default, *values[param]}):
        k = DEFAULT if v == default else tt.key("transegpgd", method_spec(profile, "transegpgd", **{param: v}).params)
        s = tt.per_seed(rows, k, metric=metric)
        if len(s):
            out.append({param: v, "mean": s.mean() * 100})
    return pd.DataFrame(out)


def sweep_figure(df: pd.DataFrame, profile):
    """Two panels: mean transfer mIoU vs ``gamma`` and vs ``beta`` (ablation source)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2), constrained_layout=True, sharey=True)
    for ax, param in zip(axes, ("gamma", "beta")):
        s = sweep(df, profile, param)
        ax.plot(s[param], s["mean"], marker="o")
        ax.set(xlabel=param, title=f"TranSegPGD on {ablation_source(profile)}")
    axes[0].set_ylabel("mean transfer mIoU (%)")
    return fig


def headline(df: pd.DataFrame, profile) -> dict:
    """Numbers the notebook glues into its prose (mean transfer mIoU in %, per method and deltas)."""
    table = transfer_table(df, profile).set_index("method")["transfer"]
    out = {f"tsp_miou_{m.replace('+', '_')}": float(table.get(m, math.nan)) for m in methods(profile)}
    prior = table.reindex(list(attack_baselines(profile))).dropna()
    out["tsp_best_baseline_miou"] = float(prior.min()) if len(prior) else math.nan
    out["tsp_best_baseline"] = str(prior.idxmin()) if len(prior) else "-"
    out["tsp_gain_vs_best"] = out["tsp_best_baseline_miou"] - out["tsp_miou_transegpgd"]
    out.update(tsp_eps=profile.side_eps, tsp_steps=profile.steps, tsp_images=study_images(profile),
               tsp_seeds=len(profile.seeds), tsp_sources=", ".join(sources(profile)),
               tsp_ablation_source=ablation_source(profile), tsp_preset=profile.presets[0])
    return out
