"""The study runner: profiles, the zoo, the grid runner, its tidy result tables, claims and the book.

The notebooks and the CLI call this package; the names below are the whole public surface.

- Profiles: :func:`get_profile` (``"smoke"``, ``"embedded"``, ``"paper"``; every field overridable).
- Models and data: :func:`prepare` -> :class:`Zoo` (``zoo.model(preset, name)``, ``zoo.data(preset)``,
  ``zoo.clean_table()``); AT models are named ``"psp_r18@PGD3-AT"``.
- Studies: :func:`run_study` (``"setup"``, ``"dynamic_scaling"``, ``"transegpgd"``, ``"segtrans"``,
  ``"rp_pgd"``, ``"comparison"``; grids defined in ``segrepro.experiments.studies``), :func:`load_results`.
- Grids: :class:`GridSpec`, :func:`run_grid` (resumable; examples made once per source, evaluated on
  every target), :class:`ResultStore` (the tidy CSV, written atomically after every cell).
- Tables: :func:`summarise` (mean and 95 % interval over seeds), :func:`pivot_transfer_table`,
  :func:`cost_table`, :func:`with_paper_values`; claims: :func:`verdict`, :func:`claim_row`,
  :func:`claims_table`.

Example (a notebook)::

    from segrepro.experiments import get_profile, run_study, pivot_transfer_table
    profile = get_profile(profile_name, **overrides)
    df = run_study(profile, "dynamic_scaling")        # reads what the runner stored; computes the rest
    pivot_transfer_table(df, preset="shapes", eps=0.03, iteration="last")
"""
from segrepro.experiments.claims import Verdict, claim_row, claims_table, mean_ci, verdict
from segrepro.experiments.grid import Cell, GridReport, GridSpec, MethodSpec, canonical_params, run_grid
from segrepro.experiments.profiles import Profile, get_profile, parse_override
from segrepro.experiments.runner import load_results, prepare, results_path, run_study
from segrepro.experiments.store import ATTACK_METRICS, COLUMNS, COST_METRICS, ResultStore, read_table
from segrepro.experiments.studies import Study, get_study
from segrepro.experiments.tables import (cost_table, paper_name, pivot_transfer_table, select, summarise,
                                         with_paper_values)
from segrepro.experiments.zoo import Zoo, parse_name

__all__ = ["ATTACK_METRICS", "COLUMNS", "COST_METRICS", "Cell", "GridReport", "GridSpec", "MethodSpec",
           "Profile", "ResultStore", "Study", "Verdict", "Zoo", "canonical_params", "claim_row", "claims_table",
           "cost_table", "get_profile", "get_study", "load_results", "mean_ci", "paper_name", "parse_name",
           "parse_override", "pivot_transfer_table", "prepare", "read_table", "results_path", "run_grid",
           "run_study", "select", "summarise", "verdict", "with_paper_values"]
