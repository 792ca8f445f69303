"""SegTrans (Song et al., arXiv 2510.08922, abstract only): the grids of notebook ``03_segtrans``.

Grids written to ``results/<profile>/segtrans.csv`` (``study="segtrans"``), with the settings of the
TranSegPGD study (:func:`segrepro.studies.transegpgd.grids.specs`: first preset, the transfer sources,
every target, one start policy, deterministic methods one seed):

=================  =====================================================================================
grid               what
=================  =====================================================================================
``transfer``       SegTrans (``segtrans``, the region shuffle) and DI at the papers' eps (0.03).
``transfer_eps2``  SegTrans at the second eps from the second-reading sources (the second scale).
``grid_size``      ``segtrans`` with ``grid_sizes`` fixed at k = 2, 3, 4 on the ablation source (the
                   default k ~ U{2,3,4} is the ``transfer`` cell), ``profile.transfer_ablation_seeds`` seeds.
``zoom``           the ``segtrans_zoom`` reading with k fixed at ``profile.transfer_zoom_k``, run for
                   ``k^2 * T`` iterations and evaluated at T and at ``k^2 * T``: it updates one of k^2
                   regions per step, so it matches BIM's updates per pixel only at ``k^2 * T`` (at T it
                   is starved). Never reported as SegTrans.
``cost``           BIM (PGD under the start policy) on the ablation source, evaluated at T only: the
                   no-overhead reference timed in the same run as SegTrans (wall-clock seconds of cells
                   run in different processes or at different machine load are not comparable).
=================  =====================================================================================

The other state-of-the-art attacks (PGD under the start policy, i.e. BIM by default; DS; TranSegPGD;
MI) are cells of the TranSegPGD study's ``transfer`` and ``transfer_eps2`` grids: the ``extra`` step
computes any that ``transegpgd.csv`` lacks (nothing when that study ran first) and :func:`results`
joins them to this study's rows (the study's ``shared``). The BIM cell is also the no-overhead reference.

Readings **[ours]** (the abstract gives two numbers and no definitions): the success rate is our
``asr`` metric (clean-correct pixels that the example flips), averaged over source/target pairs
with ``target != source``; "state of the art" is the strongest of :data:`BASELINES`.
"""
from __future__ import annotations

import pandas as pd

from segrepro.run.distributed import DistContext
from segrepro.run.runner import run_grids
from segrepro.studies import transegpgd
from segrepro.studies.transegpgd import grids as tsp

NAME = "segtrans"
MAIN, SECOND, GRID_SIZE, ZOOM, COST = tsp.MAIN, tsp.SECOND, "grid_size", "zoom", "cost"
#: The state of the art of the ASR and efficiency claims (``claims.csv``: PGD, DS, TranSegPGD, MI, DI),
#: each under the one start policy of :func:`segrepro.studies.transegpgd.grids.method_spec`.
BASELINES = ("pgd", "ds", "transegpgd", "mi", "di")
#: Fixed grid sizes of the ablation (the default draws k ~ U{2, 3, 4}).
GRID_SIZES = (2, 3, 4)


def shared(profile) -> tuple[str, ...]:
    """Baselines taken from the TranSegPGD study's transfer grids (those its grids run)."""
    have = tsp.methods(profile)
    return tuple(m for m in BASELINES if m in have)


def own_baselines(profile) -> tuple[str, ...]:
    """Baselines of :data:`BASELINES` this study computes (DI: the TranSegPGD study does not run it)."""
    return tuple(m for m in BASELINES if m not in shared(profile) and m in profile.baselines)


def baselines(profile) -> tuple[str, ...]:
    """Every state-of-the-art attack of the claims, in :data:`BASELINES` order."""
    have = {*shared(profile), *own_baselines(profile)}
    return tuple(m for m in BASELINES if m in have)


def ablation_seeds(profile) -> tuple[int, ...]:
    """Seeds of the ablation grids: the first ``profile.transfer_ablation_seeds`` (all when ``None``)."""
    cap = profile.transfer_ablation_seeds
    return tuple(profile.seeds if cap is None else profile.seeds[:cap])


def transfer_grids(profile):
    """SegTrans and DI at the papers' eps; SegTrans at the second eps from the second sources."""
    ms = [tsp.method_spec(profile, m) for m in ("segtrans", *own_baselines(profile))]
    out = tsp.specs(profile, NAME, MAIN, ms, tsp.sources(profile), eps=tsp.main_eps(profile))
    if tsp.second_eps(profile) is not None:
        out += tsp.specs(profile, NAME, SECOND, ms[:1], tsp.second_sources(profile), eps=tsp.second_eps(profile),
                         snaps=tsp.second_snapshots(profile))
    return out


def grid_size_methods(profile):
    """The default SegTrans and one fixed ``grid_sizes=(k,)`` per k of :data:`GRID_SIZES`."""
    return [tsp.method_spec(profile, "segtrans")] + [tsp.method_spec(profile, "segtrans", grid_sizes=(k,))
                                                     for k in GRID_SIZES]


def grid_size_grids(profile):
    """The fixed grid sizes on the TranSegPGD study's ablation source (the default is the transfer cell)."""
    return tsp.specs(profile, NAME, GRID_SIZE, grid_size_methods(profile)[1:], (tsp.ablation_source(profile),),
                     eps=tsp.main_eps(profile), seeds=ablation_seeds(profile))


def zoom_steps(profile) -> int:
    """Iterations of the zoom run: ``k^2 * T`` (as many updates per pixel as BIM in T); 0: no zoom run."""
    k = profile.transfer_zoom_k
    return k * k * profile.steps if k else 0


def zoom_method(profile):
    """``segtrans_zoom`` with its grid fixed at ``k = profile.transfer_zoom_k``."""
    return tsp.method_spec(profile, "segtrans_zoom", grid_sizes=(profile.transfer_zoom_k,))


def zoom_grids(profile):
    """The zoom reading on the ablation source, evaluated at T (starved) and ``k^2 * T`` (equal updates)."""
    if not profile.transfer_zoom_k:
        return []
    return tsp.specs(profile, NAME, ZOOM, [zoom_method(profile)], (tsp.ablation_source(profile),),
                     eps=tsp.main_eps(profile), steps=zoom_steps(profile),
                     snaps=(profile.steps, zoom_steps(profile)), seeds=ablation_seeds(profile))


def cost_grids(profile):
    """BIM on the ablation source, timed in this study's run (the no-overhead reference)."""
    return tsp.specs(profile, NAME, COST, [tsp.method_spec(profile, "pgd")], (tsp.ablation_source(profile),),
                     eps=tsp.main_eps(profile), snaps=(profile.steps,))


def grids(profile):
    """Every grid of the study (the shared baselines are the ``extra`` step's)."""
    return [*transfer_grids(profile), *grid_size_grids(profile), *zoom_grids(profile), *cost_grids(profile)]


def extra(profile, zoo, store, progress: bool = True) -> None:
    """Compute the shared baseline cells missing from ``transegpgd.csv`` (one process; resumable)."""
    run_grids(profile, tsp.NAME, tsp.shared_grids(profile, shared(profile)), zoo, progress=progress,
              dist=DistContext())


def results(profile, df: pd.DataFrame) -> pd.DataFrame:
    """This study's rows plus the shared baseline rows of the TranSegPGD study's transfer grids."""
    base = transegpgd.STUDY.results(profile)
    keys = {tsp.key(profile, m) for m in shared(profile)}
    keep = base["grid"].isin((MAIN, SECOND)) & pd.Series([k in keys for k in zip(base["method"], base["params"])],
                                                         index=base.index, dtype=bool)
    return pd.concat([df, base[keep]], ignore_index=True)
