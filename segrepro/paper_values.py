"""The papers' reported numbers, as data.

Each table or figure of the four source papers that gives numbers is transcribed into one tidy CSV
under ``segrepro/paper_values/`` (see the README there for every file, its columns and the places
where the text extraction was ambiguous). ``claims.csv`` lists the claims the study checks, one row
per claim id; the notebooks compute our value and a verdict for each id.

Example:
    >>> from segrepro import paper_values
    >>> t1 = paper_values.load("ds_table1_voc")
    >>> t1.attrs["source"]
    'Gu et al. 2111.11368, Table 1'
"""
from __future__ import annotations

from importlib import resources

import pandas as pd

#: Columns every transcribed file carries: which paper, which table/section, and a free-text note.
REQUIRED_COLUMNS: tuple[str, ...] = ("paper", "source_table", "note")
#: Extra columns of the numeric tables (every file except the ``*claims`` files).
NUMERIC_COLUMNS: tuple[str, ...] = ("metric", "value")
#: Extra columns of ``claims.csv``.
CLAIM_COLUMNS: tuple[str, ...] = ("id", "claim", "paper_value", "comparison", "notebook")
#: Short paper keys used in the ``paper`` column.
PAPERS: dict[str, str] = {
    "ds": "Gu et al., Adversarial Examples on Segmentation Models Can be Easy to Transfer (arXiv 2111.11368)",
    "transegpgd": "TranSegPGD (arXiv 2312.02207), summary only",
    "segtrans": "Song et al., SegTrans (arXiv 2510.08922), abstract only",
    "rppgd": "Zhang et al., RP-PGD (AAAI 2025)",
}

_FOLDER = "paper_values"


def _folder():
    return resources.files("segrepro").joinpath(_FOLDER)


def available() -> list[str]:
    """Names of the transcribed tables (file names without ``.csv``), sorted.

    Returns:
        A list such as ``["claims", "ds_table1_voc", ...]``.
    """
    return sorted(p.name[: -len(".csv")] for p in _folder().iterdir() if p.name.endswith(".csv"))


def _required_for(name: str) -> tuple[str, ...]:
    if name == "claims":
        return REQUIRED_COLUMNS + CLAIM_COLUMNS
    if name.endswith("claims"):
        return REQUIRED_COLUMNS + ("claim_id", "claim")
    return REQUIRED_COLUMNS + NUMERIC_COLUMNS


def load(name: str) -> pd.DataFrame:
    """Load one transcribed table.

    Args:
        name: a name from :func:`available` (a trailing ``.csv`` is accepted).

    Returns:
        A tidy DataFrame, one row per reported number (or per claim). ``df.attrs["source"]`` holds
        the paper table(s) it was transcribed from, ``df.attrs["name"]`` the table name. Empty notes
        read as ``""``.

    Raises:
        TypeError: if ``name`` is not a string.
        ValueError: if ``name`` is unknown (the message lists the valid names), or the file lacks a
            required column or has a non-numeric ``value``.
    """
    if not isinstance(name, str):
        raise TypeError(f"paper_values.load expects a table name (str), got {type(name).__name__}")
    stem = name[: -len(".csv")] if name.endswith(".csv") else name
    names = available()
    if stem not in names:
        raise ValueError(f"unknown paper-values table {name!r}; valid names: {', '.join(names)}")
    with _folder().joinpath(stem + ".csv").open("r", encoding="utf-8") as fh:
        df = pd.read_csv(fh)
    missing = [c for c in _required_for(stem) if c not in df.columns]
    if missing:
        raise ValueError(f"paper-values table {stem!r} lacks required columns {missing}")
    if "value" in df.columns and not stem.endswith("claims"):
        if not pd.api.types.is_numeric_dtype(df["value"]) or df["value"].isna().any():
            raise ValueError(f"paper-values table {stem!r}: column 'value' must be numeric and complete")
    df["note"] = df["note"].fillna("")
    df.attrs["name"] = stem
    df.attrs["source"] = "; ".join(dict.fromkeys(df["source_table"].astype(str)))
    return df


def claims() -> pd.DataFrame:
    """The study's claim list (``claims.csv``): id, paper, claim, source table, paper value, comparison.

    Returns:
        The claims table, indexed by row; ``claims().set_index("id")`` gives lookup by claim id.
    """
    return load("claims")
