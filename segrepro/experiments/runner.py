"""What notebooks and the CLI call: ``prepare``, ``run_study``, ``load_results``.

Results of a study live in ``results_dir(<profile name>) / "<study>.csv"``. ``run_study`` is
resumable, so a notebook may call it after the CLI ran: it then only reads (and loads no model).

Example (a notebook cell)::

    profile = get_profile(profile_name)            # papermill parameter
    df = run_study(profile, "dynamic_scaling")     # computes what is missing, returns the tidy table
    pivot_transfer_table(df, iteration=profile.steps)
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import torch

from segrepro.experiments import evaluation as ev
from segrepro.experiments import studies
from segrepro.experiments.grid import GridReport, run_grid
from segrepro.experiments.profiles import Profile, get_profile
from segrepro.experiments.store import ResultStore, read_table
from segrepro.experiments.zoo import Zoo
from segrepro.paths import results_dir


def _profile(profile: str | Profile) -> Profile:
    return profile if isinstance(profile, Profile) else get_profile(profile)


def results_path(profile: str | Profile, study: str) -> Path:
    """The CSV of a study under ``results_dir(profile.name)``."""
    if study not in studies.MODULES:
        raise ValueError(f"unknown study {study!r}; valid studies: {', '.join(studies.MODULES)}")
    return results_dir(_profile(profile).name) / f"{study}.csv"


def prepare(profile: str | Profile, *, device: str | None = None, progress: bool = True,
            loader: Callable | None = None) -> Zoo:
    """Build the data and train (or load) every model of the profile, once; cached afterwards.

    Args:
        profile: A profile or its name.
        device: Where models live (default: ``profile.device``, else CUDA when available).
        progress: tqdm bars.
        loader: Optional model loader (see :class:`~segrepro.experiments.zoo.Zoo`).

    Returns:
        The :class:`Zoo`: ``zoo.model(preset, name)``, ``zoo.data(preset)``, ``zoo.clean_table()``.
    """
    profile = _profile(profile)
    _threads(profile)
    zoo = Zoo(profile, device=device, progress=progress, loader=loader)
    zoo.prepare()
    return zoo


def run_study(profile: str | Profile, study: str, *, zoo: Zoo | None = None, progress: bool = True,
              attack_fn: Callable | None = None, report: GridReport | None = None) -> pd.DataFrame:
    """Run the grids (and extra step) of a study that are not stored yet; return its tidy table.

    Args:
        profile: A profile or its name.
        study: A name of ``segrepro.experiments.studies.available()``: ``"setup"``,
            ``"dynamic_scaling"``, ``"transegpgd"``, ``"segtrans"``, ``"rp_pgd"``, ``"comparison"``.
        zoo: Models and data (default: a lazy :class:`Zoo` that trains/loads only what a missing cell needs).
        progress: tqdm bars.
        attack_fn: Replacement for ``segrepro.attacks.attack`` (tests).
        report: A :class:`GridReport` to accumulate cells computed/skipped into (the CLI summary).

    Returns:
        The rows of this study for the profile's current grids (see :func:`load_results`).
    """
    profile = _profile(profile)
    _threads(profile)
    spec = studies.get_study(study)
    zoo = zoo or Zoo(profile, progress=progress)
    store = ResultStore(results_path(profile, study))
    report = report if report is not None else GridReport()
    t0 = time.perf_counter()
    for grid in spec.grids(profile):
        report += run_grid(grid, store, zoo.models(grid.preset), _LazyData(zoo, grid.preset, grid.n_images),
                           attack_fn=attack_fn, device=zoo.device, amp=profile.amp, progress=progress)
    if spec.extra is not None:
        ctx = ev.dist_context()
        if ctx.rank == 0:  # non-grid steps are not sharded: rank 0 does them while the others wait
            before = len(store)
            spec.extra(profile, zoo, store, progress)
            report.rows += len(store) - before
        ev.barrier(ctx)
    report.seconds = max(report.seconds, time.perf_counter() - t0)
    return load_results(profile, study)


def load_results(profile: str | Profile, study: str, *, current_only: bool = True) -> pd.DataFrame:
    """The stored table of a study (an empty table when nothing was run).

    Args:
        profile: A profile or its name.
        study: Study name.
        current_only: Drop rows of grid cells that the profile's grids no longer define (e.g. left
            from a run with other ``--set`` overrides). Rows of non-grid steps are always kept.
    """
    profile = _profile(profile)
    df = read_table(results_path(profile, study))
    if not current_only or df.empty:
        return df
    grids = studies.get_study(study).grids(profile)
    keep_cells = {c.key for g in grids for c in g.cells()}
    names = {g.grid for g in grids}
    stale = df["grid"].isin(names) & ~df["cell"].isin(keep_cells) & (df["method"] != "clean")
    return df[~stale].reset_index(drop=True)


def _threads(profile: Profile) -> None:
    if profile.threads:
        torch.set_num_threads(profile.threads)


class _LazyData:
    """``(images, labels)`` that the grid runner unpacks only when a cell must be computed."""

    def __init__(self, zoo: Zoo, preset: str, n: int):
        self.zoo, self.preset, self.n = zoo, preset, n

    def __iter__(self):
        return iter(self.zoo.data(self.preset, self.n))

    def __getitem__(self, i: int) -> Any:
        return self.zoo.data(self.preset, self.n)[i]
