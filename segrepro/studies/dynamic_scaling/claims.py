"""Verdicts on the DS paper's claims (``claims.csv`` ids ``ds_*``) from the study's tidy rows.

Each check turns the rows into per-seed numbers (mIoU / accuracy in points), applies the
comparison written in ``claims.csv`` and returns a :class:`~segrepro.report.claims.Verdict`
plus a comment with the numbers it rests on. Claims with several conditions (Figs 8, the ResNet
overfitting) get the worst verdict of their parts. FS is deterministic (one seed), so claims resting
on FS alone have no interval and are at best ``partly`` (the rule of ``segrepro.report.claims``);
paired claims (DS vs FS) compare every DS seed with the one FS value. Every claim is judged at every
eps of the profile (the ``eps`` column).
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from segrepro.report.claims import (NOT_REPRODUCED, NOT_RUN, Missing, claim_row, claims_table, need, not_run_row,
                                    relabel, verdict, worst)
from segrepro.report.tables import select
from segrepro.studies.dynamic_scaling.grids import DS, FS, NAME, vgg_source
from segrepro.studies.dynamic_scaling.report import attacked, fs_best_ds_last

CLAIM_IDS = ("ds_cls_overfit", "ds_cls_resnet_more", "ds_seg_vgg_no_overfit", "ds_seg_resnet_overfit",
             "ds_table1_ds_beats_fs", "ds_table2_ds_beats_fs", "ds_fig7_no_overfit", "ds_fig8_scale_ratio",
             "ds_table3_at_targets", "ds_table4_multiscale", "ds_table4_fs_scale_gap")


def _all_hold(*verdicts):
    """The first verdict's numbers with the worst verdict of all (every condition must hold)."""
    return relabel(verdicts[0], worst([(str(i), v) for i, v in enumerate(verdicts)])[0].verdict)


def _curve(rows: pd.DataFrame) -> pd.DataFrame:
    """Seed x iteration table of the mean over transfer targets (points)."""
    rows = rows[rows["source"] != rows["target"]]
    return rows.groupby(["seed", "iteration"])["value"].mean().unstack("iteration") * 100


def rise_after_min(curve: pd.DataFrame) -> pd.Series:
    """Per seed: value at the last iteration minus the minimum over iterations (>= 0)."""
    return curve[curve.columns.max()] - curve.min(axis=1)


def _longest(df, source, method, eps, grids=("long", "transfer")) -> pd.DataFrame:
    """Rows of the grid with the most iterations for this source/method/eps (long run first)."""
    best = pd.DataFrame()
    for g in grids:
        rows = select(attacked(df, g, eps=eps), source=source, method=method)
        if len(rows) and (best.empty or rows["iteration"].max() > best["iteration"].max()):
            best = rows
    return best


# --- Sec. 4: classifiers -------------------------------------------------------------------------

def _cls_rise(df, eps) -> dict[tuple[str, str], pd.Series]:
    rows = need(select(df, grid="classification", method=FS, metric="accuracy", eps=eps), "classification rows")
    rows = rows[rows["source"] != rows["target"]]
    return {(s, t): rise_after_min(g.groupby(["seed", "iteration"])["value"].mean().unstack() * 100)
            for (s, t), g in rows.groupby(["source", "target"])}


def check_cls_overfit(df, eps):
    rises = _cls_rise(df, eps)
    per_seed = pd.concat(rises, axis=1).min(axis=1)
    parts = ", ".join(f"{s}->{t} +{r.mean():.1f}" for (s, t), r in rises.items())
    return verdict(per_seed.values, expect="higher"), f"accuracy rise from its minimum to the last iteration: {parts}"


def check_cls_resnet_more(df, eps):
    rises = _cls_rise(df, eps)
    res = [r for (s, _), r in rises.items() if "r18" in s or "r50" in s]
    vgg = [r for (s, _), r in rises.items() if "vgg" in s]
    if not res or not vgg:
        raise Missing("a ResNet and a VGG classifier source")
    diff = res[0] - vgg[0]
    return (verdict(diff.values, expect="higher"),
            f"rise from a ResNet source {res[0].mean():.1f} vs from a VGG source {vgg[0].mean():.1f} points")


# --- Sec. 5: overfitting of FS on segmentation ---------------------------------------------------

def check_vgg_no_overfit(df, eps, vgg: str):
    rows = need(_longest(df, vgg, FS, eps), f"FS rows of {vgg}")
    rise = rise_after_min(_curve(rows))
    t = int(rows["iteration"].max())
    return (verdict(rise.values, expect="lower", reference=1.0),
            f"{vgg}, {t} iterations: last minus minimum mean target mIoU {rise.mean():.2f} points")


def check_resnet_overfit(df, eps, sources):
    parts, verdicts = [], []
    for src in sources:
        curve = _curve(need(_longest(df, src, FS, eps), f"FS rows of {src}"))
        mean = curve.mean(axis=0)
        at = int(mean.idxmin())
        rise = rise_after_min(curve)
        v = verdict(rise.values, expect="higher")
        if at > 10:
            v = relabel(v, NOT_REPRODUCED)
        verdicts.append(v)
        parts.append(f"{src}: best iteration {at}, rise after it {rise.mean():.2f} points")
    if not verdicts:
        raise Missing("ResNet sources")
    return _all_hold(*sorted(verdicts, key=lambda v: v.mean)), "; ".join(parts)


# --- Tables 1-4, Figs 7-8: DS vs FS --------------------------------------------------------------

def paired_gap(rows: pd.DataFrame, by=("source", "target")) -> tuple[pd.Series, pd.DataFrame]:
    """Per DS seed, the largest ``DS - FS`` gap (points) over the ``by`` groups, and all gaps.

    FS (one deterministic value per group) is paired with every DS seed.
    """
    picked = fs_best_ds_last(rows)
    by = list(by)
    fs = picked[picked["method"] == FS].groupby(by)["value"].mean()
    ds = picked[picked["method"] == DS].groupby([*by, "seed"])["value"].mean()
    if fs.empty or ds.empty:
        raise Missing("FS and DS rows")
    gaps = (ds - fs.reindex(ds.index.droplevel("seed")).values).mul(100).rename("gap").reset_index()
    gaps = gaps.dropna(subset=["gap"])
    return gaps.groupby("seed")["gap"].max(), gaps


def check_ds_beats_fs(df, eps, preset):
    rows = need(attacked(df, "transfer", preset=preset, eps=eps), f"transfer rows on {preset}")
    rows = rows[rows["source"] != rows["target"]]
    worst_gap, gaps = paired_gap(rows)
    mean_gap = gaps.groupby(["source", "target"])["gap"].mean()
    wins = int((mean_gap < 0).sum())
    return (verdict(worst_gap.values, expect="lower"),
            f"largest DS - FS gap over {len(mean_gap)} transfer pairs (points); DS lower on {wins}; "
            f"mean gap {mean_gap.mean():.2f}")


def check_fig7(df, eps, sources):
    seeds, parts = [], []
    for src in sources:
        for g in ("transfer", "long"):
            rows = select(attacked(df, g, eps=eps), source=src, method=DS)
            if rows.empty:
                continue
            rise = rise_after_min(_curve(rows))
            seeds.append(rise.rename(f"{src}/{g}"))
            parts.append(f"{src} ({g}, {int(rows['iteration'].max())} it.) {rise.mean():.2f}")
    if not seeds:
        raise Missing("DS curves")
    per_seed = pd.concat(seeds, axis=1).max(axis=1)
    return (verdict(per_seed.values, expect="lower", reference=1.0),
            "last minus minimum mean target mIoU (points): " + ", ".join(parts))


def check_fig8(df, eps, target: str):
    rows = need(select(attacked(df, "lambda", eps=eps), target=target), f"lambda rows on {target}")
    lam = np.array([float(json.loads(p).get("lam", 0.5)) for p in rows["params"]])
    m = (rows.assign(lam=lam).groupby(["seed", "lam"])["value"].mean().unstack("lam") * 100)
    for needed in (0.0, 0.1, 0.5):
        if needed not in m.columns:
            raise Missing(f"lam={needed}")
    a = verdict((m[0.1] - m[0.0]).values, expect="lower")
    b = verdict((m[0.5] - m[0.1]).values, expect="lower")
    high = [c for c in m.columns if c > 0.5]
    spread = m[high].sub(m[0.5], axis=0).abs().max(axis=1) if high else pd.Series([0.0] * len(m))
    c = verdict(spread.values, expect="lower", reference=2.0)
    comment = (f"{target}: mIoU(0.1) - mIoU(0) {a.mean:.2f}, mIoU(0.5) - mIoU(0.1) {b.mean:.2f}, "
               f"largest |mIoU(lam) - mIoU(0.5)| for lam > 0.5 {c.mean:.2f} points")
    return _all_hold(a, b, c), comment


def check_at(df, eps):
    rows = need(attacked(df, "at_targets", eps=eps), "at_targets rows")
    rows = rows[rows["target"].str.contains("@")]
    worst_gap, gaps = paired_gap(need(rows, "adversarially trained targets"))
    mean_gap = gaps.groupby(["source", "target"])["gap"].mean()
    return (verdict(worst_gap.values, expect="lower"),
            f"largest DS - FS gap over {len(mean_gap)} (source, AT target) pairs; mean gap {mean_gap.mean():.2f} points")


def check_multiscale(df, eps):
    rows = need(select(df, grid="scales", metric="miou", eps=eps), "scales rows")
    rows = rows[(rows["method"] != "clean") & (rows["source"] == rows["target"]) & (rows["eval_scale"] != "1")]
    worst_gap, gaps = paired_gap(need(rows, "scales rows"), by=("source", "eval_scale"))
    mean_gap = gaps.groupby(["source", "eval_scale"])["gap"].mean()
    parts = ", ".join(f"{s}@{e} {g:.2f}" for (s, e), g in mean_gap.items())
    return verdict(worst_gap.values, expect="lower"), f"DS - FS white-box mIoU by eval scale (points): {parts}"


def check_fs_scale_gap(df, eps):
    rows = need(select(df, grid="scales", metric="miou", method=FS, eps=eps), "FS scales rows")
    rows = rows[rows["source"] == rows["target"]]
    m = rows.groupby(["source", "eval_scale", "seed"])["value"].mean().unstack("eval_scale") * 100
    if "0.5" not in m or "1" not in m:
        raise Missing("eval scales 0.5 and 1")
    gap = (m["0.5"] - m["1"]).groupby("seed").min()
    parts = ", ".join(f"{s} {g:.1f}" for (s, _), g in (m["0.5"] - m["1"]).items())
    return verdict(gap.values, expect="higher", reference=10.0), f"FS mIoU at 50 % minus at 100 % (points): {parts}"


def claims(df: pd.DataFrame, profile) -> pd.DataFrame:
    """Every DS claim at every eps of the profile (claims a grid did not produce say ``not run``).

    Args:
        df: The study's rows.
        profile: The profile the rows come from (sources, presets, eps).

    Returns:
        The claims table (``segrepro.report.claims.COLUMNS``).
    """
    vgg = vgg_source(profile)
    resnets = [s for s in profile.sources if s != vgg]
    presets = list(profile.presets) + [None]
    checks = {
        "ds_cls_overfit": lambda e: check_cls_overfit(df, e),
        "ds_cls_resnet_more": lambda e: check_cls_resnet_more(df, e),
        "ds_seg_vgg_no_overfit": lambda e: check_vgg_no_overfit(df, e, vgg),
        "ds_seg_resnet_overfit": lambda e: check_resnet_overfit(df, e, resnets),
        "ds_table1_ds_beats_fs": lambda e: check_ds_beats_fs(df, e, presets[0]),
        "ds_table2_ds_beats_fs": lambda e: check_ds_beats_fs(df, e, presets[1]) if presets[1] else _missing(),
        "ds_fig7_no_overfit": lambda e: check_fig7(df, e, profile.sources),
        "ds_fig8_scale_ratio": lambda e: check_fig8(df, e, vgg),
        "ds_table3_at_targets": lambda e: check_at(df, e),
        "ds_table4_multiscale": lambda e: check_multiscale(df, e),
        "ds_table4_fs_scale_gap": lambda e: check_fs_scale_gap(df, e),
    }
    note = scale_note(profile)
    out = []
    for eps in profile.eps:
        for cid in CLAIM_IDS:
            try:
                v, comment = checks[cid](eps)
            except Missing as err:
                out.append({"eps": eps, **not_run_row(cid, f"not run at this eps/profile (no {err})")})
                continue
            out.append({"eps": eps, **claim_row(cid, v, comment=f"{comment}. {note}".strip())})
    judged = {r["id"] for r in out if r["verdict"] != NOT_RUN}
    # a side grid runs at one eps only: say "not run" only for claims judged at no eps at all
    return claims_table([r for r in out if r["verdict"] != NOT_RUN or r["id"] not in judged], study=NAME)


def _missing():
    raise Missing("a second preset")


def scale_note(profile) -> str:
    """One sentence on what differs from the paper at this profile's scale (appended to comments)."""
    if profile.data_root is not None:
        return f"{profile.name}: {', '.join(profile.presets)}, {profile.steps} iterations"
    size = profile.image_size or "default"
    return (f"{profile.name}: synthetic {'/'.join(profile.presets)} at {size} px, small models, "
            f"{profile.steps} iterations (long run {profile.long_steps}), {profile.n_images} images "
            f"(paper: VOC/Cityscapes, 1k-10k iterations)")
