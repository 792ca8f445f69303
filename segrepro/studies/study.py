"""The study record: what one notebook (one chapter of the book) needs computed and how it reads it.

Each paper package defines ``STUDY = Study(...)`` in its ``__init__.py``; :data:`segrepro.studies.STUDIES`
lists them in run order, which is the book's order.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pandas as pd

from segrepro.run import runner
from segrepro.run.grid import GridReport
from segrepro.run.profiles import Profile


def _no_grids(profile) -> list:
    return []


@dataclass(frozen=True)
class Study:
    """One study (one notebook).

    Attributes:
        name: Registry name (also the result file's stem, ``results/<profile>/<name>.csv``).
        title: One line for summaries.
        notebook: The notebook that reads the results, e.g. ``"01_dynamic_scaling"`` (a book chapter).
        grids: ``profile -> list[GridSpec]`` (every spec's ``study`` equals ``name``).
        extra: Optional ``(profile, zoo, store, progress) -> None`` for non-grid work. It must be
            resumable: give each unit of work a ``cell`` key, skip it when ``store.has_cell(key)``, and add
            its rows with ``store.add(rows)`` (schema: ``segrepro.run.store.COLUMNS``).
        claims: ``(df, profile) -> DataFrame`` with ``segrepro.report.verdicts.COLUMNS``: the paper's claims
            with their outcomes, from :meth:`results` (``None``: the study judges no claim).
        headline: ``(df, profile) -> dict`` of the numbers its notebook glues into the prose.
        shared: ``(profile, df) -> df``: this study's rows plus the rows of other studies that its tables
            read (``None``: its own rows only).
    """

    name: str
    title: str
    notebook: str
    grids: Callable = _no_grids
    extra: Callable | None = None
    claims: Callable | None = None
    headline: Callable | None = None
    shared: Callable | None = None

    def run(self, profile: str | Profile, *, zoo=None, progress: bool = True, attack_fn: Callable | None = None,
            report: GridReport | None = None) -> pd.DataFrame:
        """Compute what is not stored yet (grids, then the extra step) and return :meth:`results`."""
        runner.run_study(profile, self, zoo=zoo, progress=progress, attack_fn=attack_fn, report=report)
        return self.results(profile)

    def results(self, profile: str | Profile, *, current_only: bool = True) -> pd.DataFrame:
        """The rows the notebook reads: the stored table (rows of the current grids), plus :attr:`shared`."""
        profile = runner.as_profile(profile)
        own = runner.load_results(profile, self, current_only=current_only)
        return self.shared(profile, own) if self.shared is not None else own

    def judge(self, profile: str | Profile) -> pd.DataFrame:
        """The claims table from the stored results (computes nothing)."""
        profile = runner.as_profile(profile)
        return self.claims(self.results(profile), profile)
