"""Tables and headline numbers of notebook ``03_segtrans`` (transfer ASR and mIoU in %); intervals are
bootstrap intervals over images (:mod:`segrepro.studies.transegpgd.measure`)."""
from __future__ import annotations

import math

import pandas as pd

from segrepro.report import transfer as tt
from segrepro.report.evidence import MissingEvidence
from segrepro.studies.segtrans.claims import NAMES, passes, present, relative_seconds, seconds, strongest
from segrepro.studies.segtrans.grids import (GRID_SIZE, MAIN, ZOOM, baselines, grid_size_methods, zoom_method,
                                            zoom_steps)
from segrepro.studies.transegpgd import grids as tsp
from segrepro.studies.transegpgd.measure import Measure
from segrepro.studies.transegpgd.report import method_row


def method_names(profile) -> tuple[str, ...]:
    """SegTrans, then the state-of-the-art attacks (BIM, the no-overhead reference, is the PGD cell)."""
    return ("segtrans", *baselines(profile))


def asr_table(df: pd.DataFrame, profile, metric: str = "asr") -> pd.DataFrame:
    """Mean transfer ``metric`` (%) per method at the papers' eps [interval over images], per source, white-box."""
    m, out = Measure(profile, df), []
    for name in method_names(profile):
        try:
            out.append(method_row(m, tsp.key(profile, name), metric=metric, eps=tsp.main_eps(profile), grid=MAIN,
                                  srcs=tsp.sources(profile)))
        except MissingEvidence:
            continue
    return pd.DataFrame(out)


def cost_table(df: pd.DataFrame, profile) -> pd.DataFrame:
    """Seconds per adversarial example (as measured, and relative to BIM timed in the same study's run),
    forward + backward passes per example, and mean transfer ASR (%), per method."""
    m, out = Measure(profile, df), []
    for name in method_names(profile):
        k = tsp.key(profile, name)
        try:
            asr = Measure.point(m.pairs(k, eps=tsp.main_eps(profile), sources=tsp.sources(profile), grid=MAIN), "asr")
            out.append({"method": tt.label(*k), "seconds": seconds(df, k),
                        "vs BIM (same run)": relative_seconds(df, profile, k), "passes": passes(df, k),
                        "transfer ASR": asr})
        except MissingEvidence:
            continue
    return pd.DataFrame(out)


def grid_size_table(df: pd.DataFrame, profile) -> pd.DataFrame:
    """Grid-size ablation on the ablation source: transfer ASR [interval] and mIoU, white-box ASR (%)."""
    m, src, out = Measure(profile, df), (tsp.ablation_source(profile),), []
    for i, spec in enumerate(grid_size_methods(profile)):
        k, grid = (spec.name, spec.params_json), MAIN if i == 0 else GRID_SIZE
        try:
            pairs = m.pairs(k, eps=tsp.main_eps(profile), sources=src, grid=grid)
            wb = m.pairs(k, eps=tsp.main_eps(profile), sources=src, grid=grid, white_box=True)
        except MissingEvidence:
            continue
        asr = Measure.value(pairs, "asr")
        ks = spec.params.get("grid_sizes")
        out.append({"k": "U{2,3,4} (default)" if ks is None else str(ks[0]), "transfer ASR": asr.value,
                    "low": asr.low, "high": asr.high, "seeds": pairs.arms[0].n_seeds,
                    "transfer mIoU": Measure.point(pairs, "miou"), "white-box ASR": Measure.point(wb, "asr")})
    return pd.DataFrame(out)


def zoom_table(df: pd.DataFrame, profile) -> pd.DataFrame:
    """The zoom reading on the ablation source at T (starved) and at ``k^2 * T`` (as many updates per pixel
    as BIM in T), next to BIM and SegTrans at T: transfer ASR [interval] and white-box ASR (%)."""
    if not zoom_steps(profile):
        return pd.DataFrame()
    m, src, eps, T = Measure(profile, df), (tsp.ablation_source(profile),), tsp.main_eps(profile), profile.steps
    k = profile.transfer_zoom_k
    z = zoom_method(profile)
    rows = [("BIM (no random start)" if not profile.transfer_random_start else "PGD", tsp.key(profile, "pgd"), MAIN, T,
             "every pixel, every step"),
            ("SegTrans (region shuffle)", tsp.key(profile, "segtrans"), MAIN, T, "every pixel, every step"),
            (f"segtrans_zoom k={k}, T", (z.name, z.params_json), ZOOM, T, f"1/{k * k} of the pixels per step: starved"),
            (f"segtrans_zoom k={k}, {k * k}T", (z.name, z.params_json), ZOOM, zoom_steps(profile),
             "as many updates per pixel as BIM in T")]
    out = []
    for label, key, grid, it, updates in rows:
        try:
            pairs = m.pairs(key, eps=eps, sources=src, grid=grid, iteration=it)
            wb = m.pairs(key, eps=eps, sources=src, grid=grid, iteration=it, white_box=True)
        except MissingEvidence:
            continue
        asr = Measure.value(pairs, "asr")
        out.append({"attack": label, "iterations": it, "updates": updates, "transfer ASR": asr.value, "low": asr.low,
                    "high": asr.high, "white-box ASR": Measure.point(wb, "asr")})
    return pd.DataFrame(out)


def headline(df: pd.DataFrame, profile) -> dict:
    """Numbers the notebook glues into its prose (Python floats / ints / str only; NaN / "-" when absent)."""
    m, eps, srcs = Measure(profile, df), tsp.main_eps(profile), tsp.sources(profile)
    out = {"st_eps": float(eps), "st_best_baseline": "-", "st_best_asr": math.nan, "st_asr_segtrans": math.nan,
           "st_gain_points": math.nan, "st_gain_relative": math.nan, "st_seconds_segtrans": math.nan,
           "st_seconds_bim": math.nan, "st_zoom_k": int(profile.transfer_zoom_k),
           "st_zoom_steps": int(zoom_steps(profile)), "st_zoom_asr_T": math.nan, "st_zoom_asr_equal": math.nan}
    try:
        st = Measure.point(m.pairs(tsp.key(profile, "segtrans"), eps=eps, sources=srcs, grid=MAIN), "asr")
        base = present(m, profile, eps=eps, grid=MAIN, srcs=srcs)
        best = strongest(base)
        b = Measure.point(base[best], "asr")
        out.update(st_best_baseline=NAMES[best], st_best_asr=b, st_asr_segtrans=st, st_gain_points=st - b,
                   st_gain_relative=float((st / b - 1) * 100) if b > 0 else math.nan,
                   st_seconds_segtrans=seconds(df, tsp.key(profile, "segtrans")),
                   st_seconds_bim=seconds(df, tsp.key(profile, "pgd")))
    except (MissingEvidence, ValueError):
        pass
    zoom = zoom_table(df, profile)
    if len(zoom):
        z = zoom[zoom["attack"].str.startswith("segtrans_zoom")].set_index("iterations")["transfer ASR"]
        out.update(st_zoom_asr_T=float(z.get(profile.steps, math.nan)),
                   st_zoom_asr_equal=float(z.get(zoom_steps(profile), math.nan)))
    return out


def keys(profile) -> list:
    """``(method, params)`` of SegTrans and the state-of-the-art attacks (for the curves figure)."""
    return [tsp.key(profile, m) for m in method_names(profile)]
