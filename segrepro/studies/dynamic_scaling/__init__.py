"""Dynamic Scaling (Gu et al., arXiv 2111.11368), notebook ``01_dynamic_scaling``.

``grids`` (the transfer, long, lambda, AT-target and scale grids), ``classification`` (Sec. 4, the
study's extra step), ``claims`` (the ``ds_*`` claims) and ``report`` (tables, headline, Fig 6 examples).
"""
from segrepro.studies.dynamic_scaling import classification, claims, grids, report
from segrepro.studies.study import Study


def extra(profile, zoo, store, progress: bool = True) -> None:
    """The classification overfitting study of Sec. 4 (resumable; see ``classification``)."""
    classification.run(profile, store, device=getattr(zoo, "device", None), progress=progress)


def current(profile, df):
    """The rows of the current settings (``Study.shared``): ``load_results`` keeps every clean row and every
    extra-step row, so drop clean rows of other image counts or weights and classifier rows of other settings."""
    return classification.current(df, profile, set(grids.current_clean_cells(profile).values()))


STUDY = Study(name=grids.NAME, title="Dynamic Scaling: transfer FS vs DS, overfitting, ablations",
              notebook="01_dynamic_scaling", grids=grids.grids, extra=extra, claims=claims.claims,
              headline=report.headline, shared=current)
