"""RP-PGD (Zhang et al., AAAI 2025), notebook ``04_rp_pgd``: ``grids`` (Fig. 2, the AT battery of
Tables 4-5, ablations, Table 6), ``battery`` (the non-grid steps: the False-region check and the
prototype term's gradient balance), ``claims`` and ``report``."""
from segrepro.studies.rp_pgd import battery, claims, grids, report
from segrepro.studies.study import Study


def extra(profile, zoo, store, progress: bool = True) -> None:
    """The non-grid steps (``battery``): the False region and the gradient balance."""
    battery.run_false_region(profile, zoo, store, progress)
    battery.run_gradient_balance(profile, zoo, store, progress)


STUDY = Study(name=grids.NAME, title="RP-PGD: white-box strength vs iterations, ablations, AT robustness, black-box",
              notebook="04_rp_pgd", grids=grids.grids, extra=extra, claims=claims.claims, headline=report.headline)
