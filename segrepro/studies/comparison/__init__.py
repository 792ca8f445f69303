"""The comparison (notebook ``05_comparison``): the four methods and the baselines on one transfer grid,
new combinations, and every study's claims (``segrepro.studies.all_claims``) summarised in ``claims``."""
from segrepro.studies.comparison import claims, grids, report
from segrepro.studies.study import Study

STUDY = Study(name=grids.NAME,
              title="Comparison: the four methods and baselines on one grid, new combinations, all claims",
              notebook="05_comparison", grids=grids.grids, extra=grids.extra, headline=report.headline,
              shared=grids.results)
