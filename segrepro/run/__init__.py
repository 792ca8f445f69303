"""Running the studies: profiles, the model zoo, the streaming grid runner and its tidy result tables.

- Profiles: :func:`get_profile` (``"smoke"``, ``"embedded"``, ``"paper"``; every field overridable).
- Models and data: :func:`prepare` -> :class:`Zoo` (``zoo.model(preset, name)``, ``zoo.data(preset)``);
  adversarially trained models are named ``"psp_r18@PGD3-AT"``.
- Grids: :class:`GridSpec`, :func:`run_grid` (resumable; examples made once per source, evaluated on
  every target), :class:`ResultStore` (the tidy CSV, written atomically after every cell);
  ``runner.run_study`` / ``runner.load_results`` run and read a study record (``segrepro.studies.run_study``
  and ``load_results`` take its name).
- The robustness battery of the AT study: :mod:`segrepro.run.battery`.
"""
from segrepro.run.grid import Cell, GridReport, GridSpec, MethodSpec, canonical_params, run_grid
from segrepro.run.profiles import Profile, get_profile, parse_override
from segrepro.run.runner import prepare, results_path, run_grids
from segrepro.run.store import ATTACK_METRICS, COLUMNS, COST_METRICS, ResultStore, read_table
from segrepro.run.zoo import Zoo, parse_name

__all__ = ["ATTACK_METRICS", "COLUMNS", "COST_METRICS", "Cell", "GridReport", "GridSpec", "MethodSpec", "Profile",
           "ResultStore", "Zoo", "canonical_params", "get_profile", "parse_name", "parse_override", "prepare",
           "read_table", "results_path", "run_grid", "run_grids"]
