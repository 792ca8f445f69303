"""SegTrans (Song et al., arXiv 2510.08922, abstract only), notebook ``03_segtrans``: ``grids``, ``claims``,
``report``; its baselines are cells of the TranSegPGD study (``grids.extra`` computes missing ones)."""
from segrepro.studies.segtrans import claims, grids, report
from segrepro.studies.study import Study

STUDY = Study(name=grids.NAME, title="SegTrans: transfer success rate, cost and efficiency, grid-size ablation",
              notebook="03_segtrans", grids=grids.grids, extra=grids.extra, claims=claims.claims,
              headline=report.headline, shared=grids.results)
