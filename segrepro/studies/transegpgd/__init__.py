"""TranSegPGD (arXiv 2312.02207, summary only), notebook ``02_transegpgd``: ``grids``, ``claims``, ``report``."""
from segrepro.studies.study import Study
from segrepro.studies.transegpgd import claims, grids, report

STUDY = Study(name=grids.NAME,
              title="TranSegPGD: transfer vs PGD/SegPGD/CosPGD/DS, +MI/DI/TI, ablations of [ours] choices",
              notebook="02_transegpgd", grids=grids.grids, claims=claims.claims, headline=report.headline)
