"""Run a study's grids and extra step into its result table, and read the table back.

A *study* here is anything with ``name``, ``grids(profile) -> list[GridSpec]`` and
``extra(profile, zoo, store, progress)`` (or ``None``): the :class:`segrepro.studies.Study` records.
Results of a study live in ``results_dir(<profile name>) / "<study>.csv"``. Everything is
resumable, so a notebook may call :func:`run_study` after the CLI ran: it then only reads (and
loads no model).

Example::

    zoo = prepare(profile)                                   # trains or loads every model once
    run_study(profile, study, zoo=zoo)                       # computes the missing cells
    df = load_results(profile, study)                        # the tidy table
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Sequence

import pandas as pd
import torch

from segrepro.paths import results_dir
from segrepro.run import distributed
from segrepro.run import evaluate as ev
from segrepro.run.grid import GridReport, GridSpec, clean_key, run_grid
from segrepro.run.profiles import Profile, get_profile
from segrepro.run.store import ResultStore, read_table
from segrepro.run.zoo import Zoo


def as_profile(profile: str | Profile) -> Profile:
    """A profile, or the built-in profile of that name."""
    return profile if isinstance(profile, Profile) else get_profile(profile)


def results_path(profile: str | Profile, study: str) -> Path:
    """The CSV of a study (by name) under ``results_dir(profile.name)``."""
    return results_dir(as_profile(profile).name) / f"{study}.csv"


def prepare(profile: str | Profile, *, device: str | None = None, progress: bool = True,
            loader: Callable | None = None) -> Zoo:
    """Build the data and train (or load) every model of the profile, once; cached afterwards.

    Args:
        profile: A profile or its name.
        device: Where models live (default: ``profile.device``, else CUDA when available).
        progress: tqdm bars.
        loader: Optional model loader (see :class:`~segrepro.run.zoo.Zoo`).

    Returns:
        The :class:`Zoo`: ``zoo.model(preset, name)``, ``zoo.data(preset)``.
    """
    profile = as_profile(profile)
    _threads(profile)
    zoo = Zoo(profile, device=device, progress=progress, loader=loader)
    zoo.prepare()
    return zoo


def run_grids(profile: Profile, study: str, grids: Sequence[GridSpec], zoo: Zoo, *, progress: bool = True,
              attack_fn: Callable | None = None, dist=None) -> GridReport:
    """Run grid specs into the table of ``study`` (by name), skipping stored cells.

    Studies call it from their ``extra`` step to compute cells of another study's table that they
    read (with ``dist=DistContext()``: extra steps run on one process).

    Args:
        profile: The profile (its ``amp``).
        study: Name of the study whose table receives the rows.
        grids: The specs.
        zoo: Models and data (the data is unpacked only when a cell must be computed).
        progress: tqdm bars.
        attack_fn: Replacement for ``segrepro.attacks.attack`` (tests).
        dist: A ``segrepro.run.distributed.DistContext`` (default: from the torchrun variables).
    """
    store = ResultStore(results_path(profile, study))
    report = GridReport()
    for grid in grids:
        models = zoo.models(grid.preset)
        report += run_grid(grid, store, models, _LazyDataset(zoo, grid.preset), attack_fn=attack_fn,
                           device=zoo.device, amp=profile.amp, progress=progress, dist=dist,
                           fingerprint=models.fingerprint)
    return report


def run_study(profile: str | Profile, study, *, zoo: Zoo | None = None, progress: bool = True,
              attack_fn: Callable | None = None, report: GridReport | None = None) -> GridReport:
    """Run the grids (and the extra step) of ``study`` that are not stored yet.

    Args:
        profile: A profile or its name.
        study: A study record (``name``, ``grids``, ``extra``).
        zoo: Models and data (default: a lazy :class:`Zoo` that trains/loads only what a missing cell needs).
        progress: tqdm bars.
        attack_fn: Replacement for ``segrepro.attacks.attack`` (tests).
        report: A :class:`GridReport` to accumulate cells computed/skipped into (the CLI summary).

    Returns:
        The report.
    """
    profile = as_profile(profile)
    _threads(profile)
    zoo = zoo or Zoo(profile, progress=progress)
    report = report if report is not None else GridReport()
    t0 = time.perf_counter()
    report += run_grids(profile, study.name, study.grids(profile), zoo, progress=progress, attack_fn=attack_fn)
    if study.extra is not None:
        ctx = distributed.DistContext.from_env()
        if ctx.rank == 0:  # non-grid steps are not sharded: rank 0 does them while the others wait
            store = ResultStore(results_path(profile, study.name))
            before = len(store)
            study.extra(profile, zoo, store, progress)
            report.rows += len(store) - before
        distributed.barrier(ctx)
    report.seconds = max(report.seconds, time.perf_counter() - t0)
    return report


def load_results(profile: str | Profile, study, *, current_only: bool = True) -> pd.DataFrame:
    """The stored table of ``study`` (a study record; an empty table when nothing was run).

    Args:
        profile: A profile or its name.
        study: A study record (``name``, ``grids``).
        current_only: Drop rows of grid cells that the profile's grids no longer define (e.g. left
            from a run with other ``--set`` overrides). Rows of non-grid steps are always kept.
    """
    profile = as_profile(profile)
    df = read_table(results_path(profile, study.name))
    if not current_only or df.empty:
        return df
    grids = study.grids(profile)
    zoo = Zoo(profile, progress=False)
    fingerprint = lambda preset, name: zoo.fingerprint(preset, name, train=False)  # noqa: E731
    keep_cells = {c.key for g in grids for c in g.cells(lambda name, p=g.preset: fingerprint(p, name))}
    # clean rows too: a run with fewer images or other weights leaves clean rows under another key
    keep_cells |= {clean_key(g, t, ev.scale_name(s), fingerprint(g.preset, t))
                   for g in grids for t in g.all_targets for s in g.eval_scales}
    stale = df["grid"].isin({g.grid for g in grids}) & ~df["cell"].isin(keep_cells)
    return df[~stale].reset_index(drop=True)


def _threads(profile: Profile) -> None:
    if profile.threads:
        torch.set_num_threads(profile.threads)


class _LazyDataset:
    """The validation split of a preset, built only when a cell must read a batch of it."""

    def __init__(self, zoo: Zoo, preset: str):
        self.zoo, self.preset = zoo, preset

    def __len__(self) -> int:
        return len(self.zoo.dataset(self.preset))

    def __getitem__(self, i: int) -> Any:
        return self.zoo.dataset(self.preset)[i]

    def tensors(self, indices):
        ds = self.zoo.dataset(self.preset)
        if callable(getattr(ds, "tensors", None)):
            return ds.tensors(indices)
        items = [ds[i] for i in indices]
        return torch.stack([x for x, _ in items]), torch.stack([torch.as_tensor(y) for _, y in items]).long()
