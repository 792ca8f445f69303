"""Verdicts on TranSegPGD's claims (``tsp_*``; the summary gives no numbers) from the study's rows."""
from __future__ import annotations

import math

import pandas as pd

from segrepro.report import transfer as tt
from segrepro.report.claims import claim_row, claims_table
from segrepro.studies.transegpgd.grids import (DEFAULT, NAME, ablation_source, attack_baselines, method_spec,
                                              study_images, transform_baselines)


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
    return (f"{profile.presets[0]}, eps {profile.side_eps:g}, T={profile.steps}, {study_images(profile)} images, "
            f"{len(profile.seeds)} seed(s)")


def claims(df: pd.DataFrame, profile) -> pd.DataFrame:
    """The claims table of notebook 02 (our values in mIoU / MisRatio points; lower mIoU = better transfer)."""
    frame, note, rows = claims_frame(), scale_note(profile), []

    def add(cid: str, data: pd.DataFrame, a, b, expect: str, text: str, **kw) -> None:
        v, unit = tt.compare(data, a, b, expect=expect, **kw)
        rows.append(claim_row(cid, v, f"{text}; interval over {unit}; {note}", claims=frame))

    for base in attack_baselines(profile):
        add("tsp_state_of_the_art", df, DEFAULT, tt.key(base), "lower",
            f"transfer mIoU(transegpgd) - mIoU({base}), mean over source/target pairs")
    if "mi" in transform_baselines(profile):
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
    return claims_table(rows, study=NAME, eps=profile.side_eps)
