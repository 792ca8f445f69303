"""Tables and headline numbers of notebook ``02_transegpgd`` (mIoU, ASR, MisRatio in %).

Every interval is a 95 % percentile bootstrap over images (stratified by seed) of the per-image counts
(:mod:`segrepro.studies.transegpgd.measure`), the same estimate the claims use.
"""
from __future__ import annotations

import json
import math

import pandas as pd

from segrepro.report import transfer as tt
from segrepro.report.evidence import MissingEvidence
from segrepro.studies.transegpgd.grids import (ABLATION, MAIN, SECOND, ablation_methods, ablation_source, combined,
                                              key, main_eps, methods, second_eps, second_sources, sources,
                                              study_images)
from segrepro.studies.transegpgd.measure import Measure


def main_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The rows of the ``transfer`` grid (the papers' eps) and the clean rows, for figures."""
    return df[(df["grid"] == MAIN) | (df["method"] == "clean")]


def method_row(m: Measure, k, *, metric: str, eps: float, grid: str, srcs) -> dict:
    """One method's mean transfer ``metric`` [interval], per source and white-box (points)."""
    pairs = m.pairs(k, eps=eps, sources=srcs, grid=grid)
    est = Measure.value(pairs, metric)
    rec = {"method": tt.label(*k), "transfer": est.value, "low": est.low, "high": est.high,
           "images": est.n_images, "seeds": pairs.arms[0].n_seeds}
    for s in srcs:
        rec[f"from {s}"] = Measure.point(m.pairs(k, eps=eps, sources=(s,), grid=grid), metric)
    wb = m.pairs(k, eps=eps, sources=srcs, grid=grid, white_box=True)
    rec["white-box"] = Measure.point(wb, metric)
    return rec


def transfer_table(df: pd.DataFrame, profile, metric: str = "miou") -> pd.DataFrame:
    """Mean transfer ``metric`` (%) of every method of the ``transfer`` grid at the papers' eps, with the
    interval over images, per source and white-box (methods without stored counts are left out)."""
    m, out = Measure(profile, df), []
    for name in methods(profile):
        try:
            out.append(method_row(m, key(profile, name), metric=metric, eps=main_eps(profile), grid=MAIN,
                                  srcs=sources(profile)))
        except MissingEvidence:
            continue
    return pd.DataFrame(out)


def eps_table(df: pd.DataFrame, profile, metric: str = "miou") -> pd.DataFrame:
    """Mean transfer ``metric`` (%) from the second-reading sources at the papers' eps and at the second eps."""
    eps2 = second_eps(profile)
    if eps2 is None:
        return pd.DataFrame()
    m, srcs, out = Measure(profile, df), second_sources(profile), []
    for name in methods(profile):
        k = key(profile, name)
        try:
            a = Measure.value(m.pairs(k, eps=main_eps(profile), sources=srcs, grid=MAIN), metric)
            b = Measure.value(m.pairs(k, eps=eps2, sources=srcs, grid=SECOND), metric)
        except MissingEvidence:
            continue
        out.append({"method": tt.label(*k), f"eps {main_eps(profile):g}": a.value, f"eps {eps2:g}": b.value,
                    f"low ({eps2:g})": b.low, f"high ({eps2:g})": b.high})
    return pd.DataFrame(out)


def combination_table(df: pd.DataFrame, profile) -> pd.DataFrame:
    """MI alone and combined with TranSegPGD: mean transfer mIoU (%) and the paired difference [interval]."""
    m, out = Measure(profile, df), []
    for t in combined(profile):
        try:
            alone = m.pairs(key(profile, t), eps=main_eps(profile), sources=sources(profile), grid=MAIN)
            both = m.pairs(key(profile, f"transegpgd+{t}"), eps=main_eps(profile), sources=sources(profile), grid=MAIN)
        except MissingEvidence:
            continue
        d = Measure.diff(both, alone, "miou")
        out.append({"attack": t, "alone": Measure.point(alone, "miou"),
                    "with transegpgd": Measure.point(both, "miou"), "difference": d.value, "low": d.low,
                    "high": d.high})
    return pd.DataFrame(out)


def ablation_table(df: pd.DataFrame, profile) -> pd.DataFrame:
    """The [ours] choices on the ablation source: transfer mIoU and its paired change from the default
    [interval], transfer ASR, and the white-box MisRatio at ``ceil(T/2)`` (the end of stage 1)."""
    m, src, half = Measure(profile, df), (ablation_source(profile),), math.ceil(profile.steps / 2)
    eps, out = main_eps(profile), []
    specs = ablation_methods(profile)
    try:
        default = m.pairs((specs[0].name, specs[0].params_json), eps=eps, sources=src, grid=MAIN)
    except MissingEvidence:
        return pd.DataFrame()
    for i, spec in enumerate(specs):
        k, grid = (spec.name, spec.params_json), MAIN if i == 0 else ABLATION
        try:
            pairs = m.pairs(k, eps=eps, sources=src, grid=grid)
            wb = m.pairs(k, eps=eps, sources=src, grid=grid, iteration=half, white_box=True)
        except MissingEvidence:
            continue
        d = Measure.diff(pairs, default, "miou")
        out.append({"variant": "default" if i == 0 else spec.params_json,
                    "transfer mIoU": Measure.point(pairs, "miou"), "change": d.value, "low": d.low, "high": d.high,
                    "transfer ASR": Measure.point(pairs, "asr"),
                    f"white-box MisRatio at t={half}": Measure.point(wb, "mis_ratio")})
    return pd.DataFrame(out)


#: Reader's words for the ablation variants (``params`` JSON -> text).
VARIANTS = {"stage1_favour": {"wrong": "stage 1 favours the misclassified pixels"},
            "switch": {"all_fooled": "stage 2 only once every pixel is fooled"}}


def variant_label(variant: str) -> str:
    """An ablation row's variant in words: ``"default"`` or its parameters (``"gamma = 0.5"``)."""
    if variant == "default":
        return "default (our reading)"
    return ", ".join(VARIANTS.get(k, {}).get(x, f"{k} = {x}") for k, x in json.loads(variant).items())


def prose(head: dict, random_methods: str = "DS's scales") -> dict[str, str]:
    """Sentences (Markdown) the notebooks glue, from :func:`headline`'s values: the second reading and the seeds."""
    eps2 = head["tsp_eps2"]
    second = ("This run attacks at a single budget, so there is no second reading." if math.isnan(eps2) else
              f"The same methods at this run's second budget, ε = {eps2:g}, from {head['tsp_eps2_sources']} only "
              "(to fit the budget), next to their ε = 0.03 values from the same sources: the second-scale evidence "
              "that each claim's *why* cites.")
    seeds = ("Every method runs once (one attack seed)." if head["tsp_seeds"] == 1 else
             f"Methods with randomness ({random_methods}) run with {head['tsp_seeds']} attack seeds; the "
             "deterministic ones run once.")
    return {"tsp_eps2_text": second, "tsp_seeds_text": seeds}


def headline(df: pd.DataFrame, profile) -> dict:
    """Numbers the notebook glues into its prose (Python floats / ints / str only)."""
    table = transfer_table(df, profile)
    values = dict(zip(table["method"], table["transfer"])) if len(table) else {}
    out = {f"tsp_miou_{name.replace('+', '_')}": float(values.get(tt.label(*key(profile, name)), math.nan))
           for name in methods(profile)}
    eps2 = second_eps(profile)
    out.update(tsp_eps=float(main_eps(profile)), tsp_eps2=float(eps2) if eps2 is not None else math.nan,
               tsp_eps2_sources=", ".join(second_sources(profile)) if eps2 is not None else "-",
               tsp_steps=int(profile.steps), tsp_images=int(study_images(profile)), tsp_seeds=len(profile.seeds),
               tsp_sources=", ".join(sources(profile)), tsp_ablation_source=str(ablation_source(profile)),
               tsp_preset=str(profile.presets[0]),
               tsp_start="random start for every method" if profile.transfer_random_start
               else "no random start for any method")
    return out


def keys(profile) -> list:
    """``(method, params)`` of every method of the transfer grids (for the curves figure)."""
    return [key(profile, m) for m in methods(profile)]
