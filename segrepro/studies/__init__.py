"""The studies: one package per paper (plus the setup chapter and the comparison), and their registry.

Every paper package has the same files: ``__init__.py`` (its :class:`Study`, named ``STUDY``),
``grids.py`` (what it computes, from the profile), ``claims.py`` (the paper's claims with our
verdicts: ``claims(df, profile) -> DataFrame``), ``report.py`` (the tables and figures its notebook
shows, and ``headline``) and extras where a paper needs them (``classification.py`` for DS Sec. 4,
``battery.py`` for RP-PGD's AT battery). :data:`STUDIES` lists them in run order, which is the book's
order: the CLI's notebook list, the book's table-of-contents check and the comparison's claims all
derive from it.

To add a paper: a package here, one line in :data:`STUDIES`, a notebook ``notebooks/<notebook>.ipynb``,
a line in ``book/_toc.yml`` and its claims in ``segrepro/paper_values/claims.csv`` (CONTRIBUTING.md).

Example (a notebook)::

    from segrepro.run import get_profile
    from segrepro.studies import run_study
    df = run_study(get_profile("smoke"), "dynamic_scaling")   # computes what is missing, then reads
"""
from __future__ import annotations

import warnings
from pathlib import Path

from typing import Callable

import pandas as pd

from segrepro.run.grid import GridReport
from segrepro.run.profiles import Profile
from segrepro.studies import comparison, dynamic_scaling, rp_pgd, segtrans, setup, transegpgd
from segrepro.studies.study import Study

#: Every study, in run order (= book order).
STUDIES: tuple[Study, ...] = (setup.STUDY, dynamic_scaling.STUDY, transegpgd.STUDY, segtrans.STUDY, rp_pgd.STUDY,
                              comparison.STUDY)


def names() -> list[str]:
    """Every study name, in run order."""
    return [s.name for s in STUDIES]


def get_study(name: str) -> Study:
    """The :class:`Study` of a name.

    Raises:
        ValueError: Unknown name (lists the valid ones).
    """
    for study in STUDIES:
        if study.name == name:
            return study
    raise ValueError(f"unknown study {name!r}; valid studies: {', '.join(names())}")


def run_study(profile: str | Profile, name: str, *, zoo=None, progress: bool = True,
              attack_fn: Callable | None = None, report: GridReport | None = None) -> pd.DataFrame:
    """Compute what a study lacks and return the rows its notebook reads (:meth:`Study.run`)."""
    return get_study(name).run(profile, zoo=zoo, progress=progress, attack_fn=attack_fn, report=report)


def load_results(profile: str | Profile, name: str, *, current_only: bool = True) -> pd.DataFrame:
    """The rows a study's notebook reads, from what is stored (:meth:`Study.results`; computes nothing)."""
    return get_study(name).results(profile, current_only=current_only)


def all_claims(profile: str | Profile, studies: tuple[Study, ...] | None = None) -> pd.DataFrame:
    """Every study's claims table in one (``segrepro.report.verdicts`` columns; reads stored results only).

    A study whose claims cannot be computed (e.g. its grids were not run at this profile) gives one
    "not testable here" row per claim of its paper, saying why, instead of failing the whole table.
    """
    from segrepro.report.verdicts import COLUMNS, table

    parts = []
    for study in (STUDIES if studies is None else studies):
        if study.claims is None:
            continue
        try:
            parts.append(study.judge(profile))
        except (LookupError, FileNotFoundError, ValueError, KeyError) as err:
            warnings.warn(f"claims of {study.name} could not be computed: {err}", stacklevel=2)
            parts.append(table([{**{c: None for c in COLUMNS}, "paper": study.name, "claim_id": study.name,
                                 "part": "", "claim": f"the claims of {study.title}", "outcome": "not testable here",
                                 "why": f"not measured in this run ({type(err).__name__})", "study": study.name}]))
    return pd.concat(parts, ignore_index=True) if parts else table([])


def write_claims(profile: str | Profile) -> Path:
    """Write every study's claims to ``results/<profile>/claims.csv`` (the book's tables are views of it)."""
    from segrepro.paths import atomic_write_bytes, results_dir
    from segrepro.run.runner import as_profile

    profile = as_profile(profile)
    path = results_dir(profile.name) / "claims.csv"
    atomic_write_bytes(path, all_claims(profile).to_csv(index=False).encode())
    return path


__all__ = ["STUDIES", "Study", "all_claims", "write_claims", "get_study", "load_results", "names", "run_study"]
