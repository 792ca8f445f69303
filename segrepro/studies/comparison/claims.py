"""Every paper's claims in one table (notebook ``05_comparison``): the study judges none itself;
``segrepro.studies.all_claims`` gathers each study's ``claims`` and this module summarises them."""
from __future__ import annotations

import math

import pandas as pd

from segrepro.report.outcomes import OUTCOMES
from segrepro.report.verdicts import PROJECT, counts, decisive_share


def outcome_summary(claims: pd.DataFrame) -> pd.DataFrame:
    """Claims per paper (rows; the project's own targets last, apart) and outcome (columns), with a papers' total."""
    t = counts(claims)
    papers = t.drop(index=PROJECT, errors="ignore")
    out = pd.concat([papers, pd.DataFrame([papers.sum()], index=["all papers"])])
    if PROJECT in t.index:
        out = pd.concat([out, t.loc[[PROJECT]].rename(index={PROJECT: "project targets (not paper claims)"})])
    return out.astype(int)


def outcome_counts(claims: pd.DataFrame | None) -> dict:
    """``cmp_n_<outcome>`` over the papers' claims, ``cmp_n_claims``, ``cmp_n_targets`` and ``cmp_decisive`` (%)."""
    out = {f"cmp_n_{o.replace(' ', '_')}": 0 for o in OUTCOMES}
    out.update(cmp_n_claims=0, cmp_n_targets=0, cmp_decisive=math.nan)
    if claims is None or claims.empty:
        return out
    rows = claims[claims["part"].astype(object).fillna("") == ""]
    papers = rows[rows["paper"] != PROJECT]
    for o, n in papers["outcome"].value_counts().items():
        out[f"cmp_n_{o.replace(' ', '_')}"] = int(n)
    out.update(cmp_n_claims=int(len(papers)), cmp_n_targets=int((rows["paper"] == PROJECT).sum()),
               cmp_decisive=100 * decisive_share(claims))
    return out
