"""What notebook ``01_dynamic_scaling`` glues into its prose and shows as its claims table.

:func:`headline` gives the numbers its sentences quote (from the study's rows), :func:`claim_glue`
each claim's outcome, value and parts (from ``claims.claims``), :func:`claims_view` the claims table
as the notebook displays it. Glued values are Python floats, ints and strings (strings are Markdown).
"""
from __future__ import annotations

import pandas as pd

from segrepro.report.present import parts_text
from segrepro.report.tables import select
from segrepro.studies.dynamic_scaling.grids import DS, FS, psp_source, vgg_source
from segrepro.studies.dynamic_scaling.report import (_at_mask, _clean, attacked, cost_summary, family_gaps,
                                                     fs_best_ds_last, lambda_table)



def attempt(fn, *args, **kwargs):
    """``(fn(...), None)``, or ``(None, reason)`` when the rows ``fn`` needs are missing (a profile that does
    not run that grid): the table helpers raise ``ValueError`` or ``KeyError`` then."""
    try:
        return fn(*args, **kwargs), None
    except (ValueError, KeyError) as err:
        return None, f"missing rows ({err})"

def _mean(rows: pd.DataFrame, method: str, whitebox: bool) -> float:
    rows = rows[(rows["method"] == method) & ((rows["source"] == rows["target"]) == whitebox)]
    return float(rows["value"].mean() * 100) if len(rows) else float("nan")


def headline(df: pd.DataFrame, profile) -> dict[str, float | int | str]:
    """Numbers the notebook quotes in its prose (glued; Python floats, ints and strings only).

    Keys: ``{fs,ds}_{transfer,whitebox}_p{i}`` and ``gap_p{i}`` (preset ``i``, the paper's eps, every
    source); ``*_side_e0`` / ``*_side_e1``: the same on the first preset from the VGG and PSP sources at
    the paper's eps and at the larger one (NaN without it); ``gap_across_p0`` / ``gap_within_p0``;
    ``clean_p0``; ``lam_gain`` (VGG-target mIoU at ratio 0 minus at the default); ``ds_cost_ratio``;
    the scale (``eps0``, ``eps1``, ``steps``, ``long_steps``, ``ds_images``, ``setup_images``,
    ``cls_images``, ``cls_steps``, ``reference``, ``cls_reference``, ``flat_tolerance``). A missing
    part gives NaN, so every key always exists.
    """
    from segrepro.studies.dynamic_scaling import claims as dsc
    from segrepro.studies.dynamic_scaling import classification as cls
    from segrepro.studies.dynamic_scaling import grids

    nan = float("nan")
    eps0 = profile.paper_eps
    eps1 = float(profile.eps[1]) if len(profile.eps) > 1 and profile.ds_second_eps else nan
    rows = attacked(df, "transfer")
    rows = fs_best_ds_last(rows[~_at_mask(rows)]) if len(rows) else rows
    out: dict[str, float | int | str] = {}
    for i, preset in enumerate(profile.presets[:2]):
        here = select(rows, preset=preset, eps=eps0) if len(rows) else rows
        for m, name in ((FS, "fs"), (DS, "ds")):
            out[f"{name}_transfer_p{i}"] = _mean(here, m, False) if len(here) else nan
            out[f"{name}_whitebox_p{i}"] = _mean(here, m, True) if len(here) else nan
        out[f"gap_p{i}"] = out[f"ds_transfer_p{i}"] - out[f"fs_transfer_p{i}"]
    side = rows[rows["source"].isin(grids.side_sources(profile))] if len(rows) else rows
    for tag, eps in (("e0", eps0), ("e1", eps1)):
        here = select(side, preset=profile.presets[0], eps=eps) if len(side) and eps == eps else side.iloc[0:0]
        for m, name in ((FS, "fs"), (DS, "ds")):
            out[f"{name}_transfer_side_{tag}"] = _mean(here, m, False) if len(here) else nan
            out[f"{name}_whitebox_side_{tag}"] = _mean(here, m, True) if len(here) else nan
        out[f"gap_side_{tag}"] = out[f"ds_transfer_side_{tag}"] - out[f"fs_transfer_side_{tag}"]
    gaps, _ = attempt(family_gaps, select(df, eps=eps0, preset=profile.presets[0]))
    for pair, name in (("across families", "across"), ("within family", "within")):
        key = (profile.presets[0], eps0, pair)
        out[f"gap_{name}_p0"] = float(gaps.loc[key, "DS - FS"]) if gaps is not None and key in gaps.index else nan
    clean = _clean(df, "transfer", profile.presets[0], at=False)
    out["clean_p0"] = float(clean["ours"].mean()) if len(clean) else nan
    default = grids.default_lam(profile)
    lam, _ = attempt(lambda_table, df, eps0, default)
    target = vgg_source(profile)
    found = lam is not None and target in lam.columns and {0.0, default} <= set(lam.index)
    out["lam_gain"] = float(lam.loc[0.0, target] - lam.loc[default, target]) if found else nan
    out["lam_source"], out["lam_target"] = psp_source(profile), target
    cost = cost_summary(select(df, grid="transfer"))
    sec = "seconds_per_example"
    out["ds_cost_ratio"] = (float(cost.loc[("transfer", DS), sec] / cost.loc[("transfer", FS), sec])
                            if sec in cost and ("transfer", DS) in cost.index else nan)
    if eps1 == eps1 and out["gap_side_e1"] == out["gap_side_e1"]:
        out["second_budget"] = (
            f"From the {' and '.join(grids.side_sources(profile))} sources on `{profile.presets[0]}`, the larger "
            f"budget ε = {eps1:g} moves the mean DS - FS transfer gap from {out['gap_side_e0']:+.1f} to "
            f"{out['gap_side_e1']:+.1f} points, and the sources' white-box FS mIoU from "
            f"{out['fs_whitebox_side_e0']:.1f} % to {out['fs_whitebox_side_e1']:.1f} %.")
    else:
        out["second_budget"] = "This run attacks at one budget only."
    n, m = grids.n_images(profile), profile.n_images
    out["clean_note"] = (f"on the same first {n} validation images as the setup chapter's clean mIoU" if n == m else
                         f"on the {n} images attacked here (the setup chapter evaluates the first {m}, so its clean "
                         "mIoU differs by which images are counted)")
    out.update(eps0=float(eps0), eps1=eps1, steps=int(profile.steps), long_steps=int(profile.long_steps),
               ds_images=int(grids.n_images(profile)), setup_images=int(profile.n_images),
               cls_images=int(profile.ds_cls_images), cls_steps=int(profile.ds_cls_steps),
               reference=int(grids.reference_iteration(profile.steps) or 0),
               cls_reference=int(cls.reference_iteration(profile.ds_cls_steps) or 0),
               flat_tolerance=float(dsc.FLAT_TOLERANCE))
    return out


#: How each outcome reads in the prose.
_OUTCOME_TEXT = {"reproduced": "**reproduced**", "contradicted": "**contradicted**",
                 "inconclusive": "**inconclusive**", "not testable here": "**not testable here**"}


def claim_glue(claims: pd.DataFrame) -> dict[str, str | int]:
    """What the notebook glues from its claims table (strings are Markdown; counts are ints).

    Keys per claim id: ``o_<id>`` (the outcome, with the images an inconclusive claim needs),
    ``c_<id>`` (our value and its 95 % interval in the claim's unit), ``p_<id>`` (how its parts came
    out, "" without parts); and ``n_claims``, ``n_reproduced``, ``n_contradicted``, ``n_inconclusive``,
    ``n_not_testable``.
    """
    out: dict[str, str | int] = {}
    heads = claims[claims["part"].astype(object).fillna("") == ""]
    for _, row in heads.iterrows():
        cid, outcome = row["claim_id"], row["outcome"]
        text = _OUTCOME_TEXT.get(outcome, outcome)
        if outcome == "inconclusive":
            n = row["n_needed"]
            text += (f" (about {int(n)} images per cell would decide it at the observed spread)"
                     if pd.notna(n) else " (no interval to size)")
        out[f"o_{cid}"] = text
        value = row["value"]
        if pd.isna(value):
            out[f"c_{cid}"] = "not measured"
        elif pd.isna(row["low"]):
            out[f"c_{cid}"] = f"{float(value):+.2f} {row['unit']} (no interval)"
        else:
            out[f"c_{cid}"] = f"{float(value):+.2f} [{float(row['low']):+.2f}, {float(row['high']):+.2f}] {row['unit']}"
        out[f"p_{cid}"] = parts_text(claims, cid)
    out["n_claims"] = int(len(heads))
    for o, key in (("reproduced", "n_reproduced"), ("contradicted", "n_contradicted"),
                   ("inconclusive", "n_inconclusive"), ("not testable here", "n_not_testable")):
        out[key] = int((heads["outcome"] == o).sum())
    return out


def claims_view(claims: pd.DataFrame) -> pd.DataFrame:
    """The claims table as the notebook shows it: claim and part, our value with its interval, images,
    seeds, outcome, the images an inconclusive claim needs, and why."""
    cols = ["claim_id", "part", "quantity", "unit", "direction", "threshold", "paper_value", "value", "low", "high",
            "n_images", "n_seeds", "outcome", "n_needed", "why"]
    view = claims[cols].copy()
    for c in ("value", "low", "high"):
        view[c] = view[c].map(lambda v: "" if pd.isna(v) else f"{float(v):+.2f}")
    for c in ("n_images", "n_seeds", "n_needed"):
        view[c] = view[c].map(lambda v: "" if pd.isna(v) else str(int(v)))
    return view.set_index(["claim_id", "part"])
