"""The study runner: profiles, the grid runner and its tidy result tables.

The notebooks and the CLI call this package; the functions below are the whole public surface.

- Profiles: :func:`get_profile` (``"smoke"``, ``"embedded"``, ``"paper"``, each field overridable).
- Grids: :class:`GridSpec` (sources x targets x methods x eps x seeds x snapshots), :func:`run_grid`
  (resumable, adversarial examples made once per source and evaluated on every target),
  :class:`ResultStore` (the tidy CSV, written atomically after every cell).

Example:
    >>> from segrepro.experiments import GridSpec, ResultStore, run_grid
    >>> spec = GridSpec(study="demo", preset="shapes", sources=["psp_r18"], targets=["fcn8s_vgg16"],
    ...                 methods=["bim", ("ds", {"scale_range": 0.3})], steps=10, snapshots=[5, 10])
"""
from segrepro.experiments.grid import Cell, GridReport, GridSpec, MethodSpec, canonical_params, run_grid
from segrepro.experiments.profiles import Profile, get_profile, parse_override
from segrepro.experiments.store import ATTACK_METRICS, COLUMNS, COST_METRICS, ResultStore, read_table

__all__ = ["ATTACK_METRICS", "COLUMNS", "COST_METRICS", "Cell", "GridReport", "GridSpec", "MethodSpec",
           "Profile", "ResultStore", "canonical_params", "get_profile", "parse_override", "read_table",
           "run_grid"]
