"""TranSegPGD (arXiv 2312.02207, summary only): the grids, tables and claims of notebook ``02_transegpgd``.

Every grid writes to ``results/<profile>/transegpgd.csv`` (``study="transegpgd"``):

============  ==========================================================================================
grid          what
============  ==========================================================================================
``transfer``  PGD, SegPGD, CosPGD, DS, MI, DI, TI, TranSegPGD and TranSegPGD+MI/DI/TI from the first
              :data:`N_SOURCES` sources to every target of the profile (first preset, one eps).
``ablation``  the **[ours]** choices of TranSegPGD on one source: ``stage1_favour="wrong"``,
              ``switch="all_fooled"``, ``gamma`` in :data:`GAMMAS`, ``beta`` in :data:`BETAS` (the
              default cell is the ``transfer`` one: same key, computed once).
============  ==========================================================================================

Choices at our scale **[ours]**: one preset (the first), one budget :func:`study_eps` (the profile's
largest, as the DS study's side grids; the ``paper`` profile has only 0.03), :func:`study_images` (16 images in ``embedded``), the profile's ``steps`` with
its snapshots plus ``ceil(T/2)`` (the end of stage 1). Deterministic methods (no random start, no input
transform) run one seed, the others every seed of the profile. The ``segtrans`` study reuses the
PGD/DS/MI/DI/TranSegPGD cells of the ``transfer`` grid (:func:`baseline_grids`).
"""
from __future__ import annotations

import math

import pandas as pd

from segrepro.experiments.grid import GridSpec, MethodSpec
from segrepro.experiments.studies import Study
from segrepro.experiments.studies import transfer_tables as tt

NAME = "transegpgd"
#: Prior attacks of the comparison (the paper's are not named in our text; the issue lists these).
BASELINES = ("pgd", "segpgd", "cospgd", "ds", "mi", "di", "ti")
#: TranSegPGD alone and combined with the transfer attacks (the summary: "can combine with MI-FGSM").
OURS = ("transegpgd", "transegpgd+mi", "transegpgd+di", "transegpgd+ti")
METHODS = BASELINES + OURS
#: Sources of the transfer grid: the first ones of ``profile.sources`` (budget).
N_SOURCES = 2
#: Ablation sweeps of the [ours] weights (the default 0.1 is the transfer cell).
GAMMAS = (0.0, 0.3, 0.5)
BETAS = (0.0, 0.3, 0.5)
DEFAULT = tt.key("transegpgd")
#: Images per cell by profile name (budget: both transfer studies in about 8 of the embedded 40 minutes).
IMAGE_CAP = {"embedded": 16}


def study_eps(profile) -> float:
    """The budget of the study: the profile's largest eps (0.03 at paper scale)."""
    return float(max(profile.eps))


def study_images(profile) -> int:
    """Images attacked per cell: ``profile.n_images``, capped by :data:`IMAGE_CAP` for the listed profiles."""
    return min(profile.n_images, IMAGE_CAP.get(profile.name, profile.n_images))


def sources(profile) -> tuple[str, ...]:
    """The sources of the transfer grid: the first :data:`N_SOURCES` of ``profile.sources``."""
    return tuple(profile.sources[:N_SOURCES])


def ablation_source(profile) -> str:
    """The source of the ablations: the last transfer source (a ResNet one in ``embedded``)."""
    return sources(profile)[-1]


def snapshots(profile) -> tuple[int, ...]:
    """The profile's snapshots up to ``steps``, plus ``ceil(T/2)`` (end of stage 1) and ``T``."""
    t = profile.steps
    return tuple(sorted({s for s in profile.snapshots if s <= t} | {math.ceil(t / 2), t}))


def method_spec(profile, name: str, **params) -> MethodSpec:
    """``name`` with the profile's ``method_params`` of it (and of each part of a composition)."""
    merged = {}
    for part in (*name.split("+"), name):
        merged.update(profile.method_params.get(part, {}))
    return MethodSpec(name, {**merged, **params})


def specs(profile, study: str, grid: str, methods, srcs, n_images: int | None = None) -> list[GridSpec]:
    """GridSpecs of ``methods`` with this study's shared settings; deterministic methods get one seed."""
    base = dict(study=study, preset=profile.presets[0], sources=tuple(srcs), targets=profile.targets,
                grid=grid, eps=(study_eps(profile),), alpha=profile.alpha, steps=profile.steps,
                snapshots=snapshots(profile), n_images=n_images or study_images(profile),
                batch_size=profile.batch_size)
    det = [m for m in methods if tt.is_deterministic(m.name)]
    rnd = [m for m in methods if not tt.is_deterministic(m.name)]
    out = [GridSpec(methods=det, seeds=profile.seeds[:1], **base)] if det else []
    return out + ([GridSpec(methods=rnd, seeds=profile.seeds, **base)] if rnd else [])


def transfer_grids(profile) -> list[GridSpec]:
    """Every method of :data:`METHODS` from :func:`sources` to every target."""
    return specs(profile, NAME, "transfer", [method_spec(profile, m) for m in METHODS], sources(profile))


def baseline_grids(profile, methods) -> list[GridSpec]:
    """The cells of :func:`transfer_grids` for some of its methods (same keys: reused by ``segtrans``)."""
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise ValueError(f"{unknown} are not methods of the transegpgd transfer grid; valid: {list(METHODS)}")
    return specs(profile, NAME, "transfer", [method_spec(profile, m) for m in methods], sources(profile))


def ablation_methods(profile) -> list[MethodSpec]:
    """The default TranSegPGD and one change of each [ours] choice."""
    ms = [method_spec(profile, "transegpgd"), method_spec(profile, "transegpgd", stage1_favour="wrong"),
          method_spec(profile, "transegpgd", switch="all_fooled")]
    ms += [method_spec(profile, "transegpgd", gamma=g) for g in GAMMAS]
    return ms + [method_spec(profile, "transegpgd", beta=b) for b in BETAS]


def ablation_grids(profile) -> list[GridSpec]:
    """The ablations of :func:`ablation_methods` on :func:`ablation_source`."""
    return specs(profile, NAME, "ablation", ablation_methods(profile), (ablation_source(profile),))


def grids(profile) -> list[GridSpec]:
    """Every grid of the study."""
    return [*transfer_grids(profile), *ablation_grids(profile)]


# ---------------------------------------------------------------- tables


def transfer_table(df: pd.DataFrame, metric: str = "miou") -> pd.DataFrame:
    """Mean transfer ``metric`` (%) per method of :data:`METHODS`, per source and white-box."""
    return tt.method_table(df, [tt.key(m) for m in METHODS], metric=metric)


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


def combination_table(df: pd.DataFrame, metric: str = "miou") -> pd.DataFrame:
    """MI, DI, TI alone and combined with TranSegPGD: mean transfer ``metric`` (%) and the difference."""
    table = transfer_table(df, metric).set_index("method")["transfer"]
    rows = [{"attack": m, "alone": table.get(m, math.nan), "with transegpgd": table.get(f"transegpgd+{m}", math.nan)}
            for m in ("mi", "di", "ti")]
    out = pd.DataFrame(rows)
    out["difference"] = out["with transegpgd"] - out["alone"]
    return out


def sweep(df: pd.DataFrame, profile, param: str, metric: str = "miou") -> pd.DataFrame:
    """Mean transfer ``metric`` (%) vs ``gamma`` or ``beta`` on the ablation source (default 0.1 included)."""
    from segrepro.attacks.methods import get_method

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


# ---------------------------------------------------------------- claims


def claims_frame() -> pd.DataFrame:
    """``claims.csv`` plus the TranSegPGD summary's claims that it lacks (no numbers: summary only)."""
    from segrepro import paper_values

    claims = paper_values.load("claims")
    extra = paper_values.load("transegpgd_claims")
    extra = extra[~extra["claim_id"].isin(claims["id"])]
    extra = extra.rename(columns={"claim_id": "id"}).assign(paper_value="no number (summary only)")
    return pd.concat([claims, extra[["id", "claim", "paper_value"]]], ignore_index=True)


def scale_note(profile) -> str:
    """One line on the scale of the run, for the claims' comments."""
    return (f"{profile.presets[0]}, eps {study_eps(profile):g}, T={profile.steps}, {study_images(profile)} images, "
            f"{len(profile.seeds)} seed(s)")


def claims(df: pd.DataFrame, profile) -> pd.DataFrame:
    """The claims table of notebook 02 (our values in mIoU / MisRatio points; lower mIoU = better transfer)."""
    from segrepro.experiments.claims import claim_row, claims_table

    frame, note, rows = claims_frame(), scale_note(profile), []

    def add(cid: str, data: pd.DataFrame, a, b, expect: str, text: str, **kw) -> None:
        v, unit = tt.compare(data, a, b, expect=expect, **kw)
        rows.append(claim_row(cid, v, f"{text}; interval over {unit}; {note}", claims=frame))

    for base in ("pgd", "segpgd", "cospgd", "ds"):
        add("tsp_state_of_the_art", df, DEFAULT, tt.key(base), "lower",
            f"transfer mIoU(transegpgd) - mIoU({base}), mean over source/target pairs")
    add("tsp_combines_with_mi", df, tt.key("transegpgd+mi"), tt.key("mi"), "lower",
        "transfer mIoU(transegpgd+mi) - mIoU(mi)")
    src, half = df[df["source"] == ablation_source(profile)], math.ceil(profile.steps / 2)
    uniform1 = tt.key("transegpgd", method_spec(profile, "transegpgd", gamma=0.5).params)
    add("tsp_stage1_fools_all", src, DEFAULT, uniform1, "higher",
        f"white-box MisRatio at t={half} (end of stage 1): default - uniform stage 1 (gamma=0.5)",
        metric="mis_ratio", iteration=half, white_box=True)
    uniform2 = tt.key("transegpgd", method_spec(profile, "transegpgd", beta=0.5).params)
    add("tsp_stage2_kl", src, DEFAULT, uniform2, "lower",
        f"transfer mIoU from {ablation_source(profile)}: default - uniform stage 2 (beta=0.5)")
    return claims_table(rows)


def headline(df: pd.DataFrame, profile) -> dict:
    """Numbers the notebook glues into its prose (mean transfer mIoU in %, per method and deltas)."""
    table = transfer_table(df).set_index("method")["transfer"]
    out = {f"tsp_miou_{m.replace('+', '_')}": float(table.get(m, math.nan)) for m in METHODS}
    baselines = table.reindex(["pgd", "segpgd", "cospgd", "ds"]).dropna()
    out["tsp_best_baseline_miou"] = float(baselines.min()) if len(baselines) else math.nan
    out["tsp_best_baseline"] = str(baselines.idxmin()) if len(baselines) else "-"
    out["tsp_gain_vs_best"] = out["tsp_best_baseline_miou"] - out["tsp_miou_transegpgd"]
    out.update(tsp_eps=study_eps(profile), tsp_steps=profile.steps, tsp_images=study_images(profile),
               tsp_seeds=len(profile.seeds), tsp_sources=", ".join(sources(profile)),
               tsp_ablation_source=ablation_source(profile), tsp_preset=profile.presets[0])
    return out


STUDY = Study(name=NAME, title="TranSegPGD: transfer vs PGD/SegPGD/CosPGD/DS, +MI/DI/TI, ablations of [ours] choices",
              grids=grids, notebook="02_transegpgd")
