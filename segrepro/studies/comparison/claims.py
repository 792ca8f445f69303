"""Every paper's claims in one table (notebook ``05_comparison``): the study judges none itself;
``segrepro.studies.all_claims`` gathers each study's ``claims`` and this module summarises them."""
from __future__ import annotations

import pandas as pd

from segrepro.report.claims import NOT_AVAILABLE, NOT_JUDGED, NOT_REPRODUCED, NOT_RUN, PARTLY, REPRODUCED

VERDICTS = (REPRODUCED, PARTLY, NOT_REPRODUCED, NOT_RUN, NOT_JUDGED, NOT_AVAILABLE)


def verdict_summary(claims: pd.DataFrame) -> pd.DataFrame:
    """Counts of verdicts per study (rows) and verdict (columns), with a total row."""
    t = claims.groupby(["study", "verdict"]).size().unstack("verdict", fill_value=0)
    t.loc["all"] = t.sum()
    return t


def verdict_counts(claims: pd.DataFrame | None) -> dict:
    """``cmp_n_<verdict>`` rows of each verdict, ``cmp_n_claims`` and ``cmp_missing_studies`` (for the prose)."""
    counts = claims["verdict"].value_counts() if claims is not None else pd.Series(dtype=int)
    out = {f"cmp_n_{v.replace(' ', '_')}": int(counts.get(v, 0)) for v in VERDICTS}
    out["cmp_n_claims"] = int((claims["id"] != "-").sum()) if claims is not None else 0
    missing = sorted(set(claims.loc[claims["verdict"] == NOT_AVAILABLE, "study"])) if claims is not None else []
    out["cmp_missing_studies"] = ", ".join(missing) if missing else "none"
    return out
