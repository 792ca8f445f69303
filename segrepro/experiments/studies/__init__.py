"""The registry of studies: one module per paper notebook, each defining ``STUDY = Study(...)``.

A study says which grids a notebook needs (built from the profile, so one profile scales every
study) and, optionally, an ``extra`` step for work that is not a source x target grid (e.g. the
classification overfitting study or an adversarial-training battery). ``run_study`` runs the grids
with ``run_grid`` into ``results/<profile>/<study>.csv`` and then calls ``extra``.

To add a study: create ``studies/<name>.py`` with ``STUDY = Study(name="<name>", ...)`` and add one
line to :data:`MODULES` below (explicit, no registration by import side effect). See
``studies/setup.py`` for a worked example.

``extra(profile, zoo, store, progress)`` must be resumable: give each unit of work a ``cell`` key
and skip it when ``store.has_cell(key)``; add its rows with ``store.add(rows)`` (schema:
``segrepro.experiments.store.COLUMNS``).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

#: Study name -> module defining ``STUDY``. The run order of ``segrepro run`` follows this order.
MODULES: dict[str, str] = {
    "setup": "segrepro.experiments.studies.setup",
    "dynamic_scaling": "segrepro.experiments.studies.dynamic_scaling",
    "transegpgd": "segrepro.experiments.studies.transegpgd",
    "segtrans": "segrepro.experiments.studies.segtrans",
    "rp_pgd": "segrepro.experiments.studies.rp_pgd",
    "comparison": "segrepro.experiments.studies.comparison",
}


def _no_grids(profile) -> list:
    return []


@dataclass(frozen=True)
class Study:
    """What one notebook needs computed.

    Attributes:
        name: Registry name (also the result file's stem).
        title: One line for summaries.
        grids: ``profile -> list[GridSpec]`` (every spec's ``study`` should equal ``name``).
        extra: Optional ``(profile, zoo, store, progress) -> None`` for non-grid work (resumable).
        notebook: The notebook that reads the results, e.g. ``"01_dynamic_scaling"``.
    """

    name: str
    title: str
    grids: Callable = _no_grids
    extra: Callable | None = None
    notebook: str | None = None


def available() -> list[str]:
    """Every registered study name (implemented or not), in run order."""
    return list(MODULES)


def implemented() -> list[str]:
    """Registered studies whose module exists, in run order."""
    return [n for n in MODULES if importlib.util.find_spec(MODULES[n]) is not None]


def get_study(name: str) -> Study:
    """The :class:`Study` of a registered name.

    Raises:
        ValueError: Unknown name (lists the valid ones).
        NotImplementedError: Registered, but its module does not exist yet.
    """
    if name not in MODULES:
        raise ValueError(f"unknown study {name!r}; valid studies: {', '.join(MODULES)}")
    if importlib.util.find_spec(MODULES[name]) is None:
        raise NotImplementedError(f"study {name!r} is registered but {MODULES[name]} does not exist yet")
    study = importlib.import_module(MODULES[name]).STUDY
    if study.name != name:
        raise ValueError(f"{MODULES[name]}.STUDY is named {study.name!r}, registered as {name!r}")
    return study
