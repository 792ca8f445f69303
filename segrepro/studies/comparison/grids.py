"""The four methods side by side (notebook ``05_comparison``): one transfer grid, cost, new combinations,
and one table of every paper claim with its verdict.

The grid is the TranSegPGD study's ``transfer`` grid (first preset, the papers' eps ``profile.paper_eps``, the
transfer sources, every target, ``profile.steps`` iterations): DS, TranSegPGD, the baselines
(``profile.baselines``) and TranSegPGD combined with the transform baselines come from
``transegpgd.csv``, SegTrans (both readings) and BIM from ``segtrans.csv``. This study adds, with the
same settings (``results/<profile>/comparison.csv``, grid ``transfer``):

- ``rp_pgd`` (a white-box attack; its transfer is measured here for the first time),
- combinations none of the papers tried (:data:`NEW_COMBOS`): ``ds+transegpgd`` (DS's rescaling
  around TranSegPGD's weighted objective), ``segtrans+mi``, ``ds+mi``. RP-PGD composes with no
  input transform (its region memory lives on the native pixel grid; the engine refuses it).

Its ``extra`` step computes any cell of the other two studies' transfer grids that is missing, so
the comparison also runs alone. ``profile.comparison_seeds`` caps the seeds of this study's own
random methods (budget); paired claims then pair their one seed with each seed of the others.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from segrepro.run.distributed import DistContext
from segrepro.run.grid import GridSpec
from segrepro.run.runner import load_results, run_grids
from segrepro.studies import segtrans, transegpgd
from segrepro.studies.transegpgd import grids as tsp

NAME = "comparison"
#: Combinations none of the papers tried -> their parts.
NEW_COMBOS = {"ds+transegpgd": ("ds", "transegpgd"), "segtrans+mi": ("segtrans", "mi"), "ds+mi": ("ds", "mi")}
OWN = ("rp_pgd", *NEW_COMBOS)
#: The studies whose ``transfer`` grids this one reads (and completes).
READS = (transegpgd.STUDY, segtrans.STUDY)


def own_seeds(profile) -> tuple[int, ...]:
    """The first ``profile.comparison_seeds`` seeds (all when ``None``)."""
    cap = profile.comparison_seeds
    return tuple(profile.seeds if cap is None else profile.seeds[:cap])


def grids(profile) -> list[GridSpec]:
    """RP-PGD and the new combinations on the TranSegPGD transfer grid's settings (all random: seeds capped).

    Only the last iteration is evaluated: every table and the frontier read that one (saves evaluations).
    """
    methods = [(m, dict(profile.method_params.get(m, {}))) for m in OWN]
    return [GridSpec(study=NAME, preset=profile.presets[0], sources=tsp.sources(profile), targets=profile.targets,
                     methods=methods, grid="transfer", eps=(tsp.main_eps(profile),), alpha=profile.alpha,
                     steps=profile.steps, snapshots=(profile.steps,), seeds=own_seeds(profile),
                     n_images=tsp.study_images(profile), batch_size=profile.batch_size)]


def extra(profile, zoo, store, progress: bool = True) -> None:
    """Compute the cells of the TranSegPGD and SegTrans transfer grids that their tables lack."""
    for study in READS:
        transfer = [g for g in study.grids(profile) if g.grid == "transfer"]
        run_grids(profile, study.name, transfer, zoo, progress=progress, dist=DistContext())


def results(profile, df: pd.DataFrame) -> pd.DataFrame:
    """This study's rows plus the other studies' ``transfer`` rows at the same eps and preset."""
    parts = [df]
    for study in READS:
        other = load_results(profile, study)
        keep = (other["grid"] == "transfer") & (other["params"] == "{}") & (other["preset"] == profile.presets[0])
        parts.append(other[keep])
    out = pd.concat(parts, ignore_index=True)
    eps_ok = np.isclose(out["eps"], tsp.main_eps(profile)) | (out["method"] == "clean")
    return out[eps_ok].drop_duplicates().reset_index(drop=True)
