"""SegTrans (Song et al., arXiv 2510.08922, abstract only): the grids of notebook ``03_segtrans``.

Grids written to ``results/<profile>/segtrans.csv`` (``study="segtrans"``), with the settings of the
TranSegPGD study (:func:`segrepro.studies.transegpgd.grids.specs`: first preset, one eps, the
transfer sources, every target, deterministic methods one seed):

=============  ==========================================================================================
grid           what
=============  ==========================================================================================
``transfer``   both readings of SegTrans (``segtrans`` region shuffle, ``segtrans_zoom``) and BIM (the
               no-overhead reference).
``grid_size``  ``segtrans`` with ``grid_sizes`` fixed at k = 2, 3, 4 on one source (the default
               U{2,3,4} is the ``transfer`` cell).
=============  ==========================================================================================

The baselines PGD, DS, TranSegPGD, MI, DI (and TranSegPGD+MI/DI) are the cells of the TranSegPGD
study's ``transfer`` grid: the ``extra`` step computes any that ``transegpgd.csv`` lacks (nothing when
that study ran first) and :func:`results` joins them to this study's rows (the study's ``shared``).

Readings **[ours]** (the abstract gives two numbers and no definitions): the success rate is our
``asr`` metric (clean-correct pixels that the example flips), averaged over source/target pairs
with ``target != source``; "state of the art" is the best of :data:`BASELINES` by that mean; the
+8.55 % is read both as points and relative; the efficiency (">100 %") is read three ways, see
:func:`efficiency`.
"""
from __future__ import annotations

import pandas as pd

from segrepro.report import transfer as tt
from segrepro.run.distributed import DistContext
from segrepro.run.runner import run_grids
from segrepro.studies import transegpgd
from segrepro.studies.transegpgd import grids as tsp

NAME = "segtrans"
VARIANTS = ("segtrans", "segtrans_zoom")
#: The state of the art of the ASR and efficiency claims: the reading of ``claims.csv`` (``st_asr_gain``:
#: "max over baselines (PGD, DS, TranSegPGD, MI, DI)"), cells of the TranSegPGD study's transfer grid.
BASELINES = ("pgd", "ds", "transegpgd", "mi", "di")
#: Fixed grid sizes of the ablation (the default draws k ~ U{2, 3, 4}).
GRID_SIZES = (2, 3, 4)
SEGTRANS = tt.key("segtrans")


def shared(profile) -> tuple[str, ...]:
    """Cells taken from the TranSegPGD study: :data:`BASELINES` and TranSegPGD+MI/DI, those its grid runs."""
    have = tsp.methods(profile)
    return tuple(m for m in (*BASELINES, "transegpgd+mi", "transegpgd+di") if m in have)


def transfer_grids(profile):
    """SegTrans (both readings) and BIM from the transfer sources to every target."""
    methods = [tsp.method_spec(profile, m) for m in (*VARIANTS, "bim")]
    return tsp.specs(profile, NAME, "transfer", methods, tsp.sources(profile))


def grid_size_methods(profile):
    """The default SegTrans and one fixed ``grid_sizes=(k,)`` per k of :data:`GRID_SIZES`."""
    return [tsp.method_spec(profile, "segtrans")] + [tsp.method_spec(profile, "segtrans", grid_sizes=(k,))
                                                     for k in GRID_SIZES]


def grid_size_grids(profile):
    """The grid-size ablation on the TranSegPGD study's ablation source."""
    return tsp.specs(profile, NAME, "grid_size", grid_size_methods(profile), (tsp.ablation_source(profile),))


def grids(profile):
    """Every grid of the study (the shared baselines are the ``extra`` step's)."""
    return [*transfer_grids(profile), *grid_size_grids(profile)]


def extra(profile, zoo, store, progress: bool = True) -> None:
    """Compute the shared baseline cells missing from ``transegpgd.csv`` (one process; resumable)."""
    run_grids(profile, tsp.NAME, tsp.baseline_grids(profile, shared(profile)), zoo, progress=progress,
              dist=DistContext())


def results(profile, df: pd.DataFrame) -> pd.DataFrame:
    """This study's rows plus the shared baseline rows of the TranSegPGD study."""
    base = transegpgd.STUDY.results(profile)
    keep = base["method"].isin(shared(profile)) & (base["params"] == "{}") & (base["grid"] == "transfer")
    return pd.concat([df, base[keep]], ignore_index=True)
