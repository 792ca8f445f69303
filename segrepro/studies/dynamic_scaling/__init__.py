"""Dynamic Scaling (Gu et al., arXiv 2111.11368), notebook ``01_dynamic_scaling``.

``grids`` (the transfer, long, lambda and scale grids), ``classification`` (Sec. 4, the study's extra
step), ``measures`` (the claims' quantities as bootstrap statistics over images), ``claims`` (the
``ds_*`` claims), ``report`` (tables), ``figures`` and ``prose`` (the notebook's glued numbers).
"""
from segrepro.studies.dynamic_scaling import classification, claims, grids, prose
from segrepro.studies.study import Study


def extra(profile, zoo, store, progress: bool = True) -> None:
    """The classification overfitting study of Sec. 4 (resumable; see ``classification``)."""
    classification.run(profile, store, device=getattr(zoo, "device", None), progress=progress)


def current(profile, df):
    """The rows of the current settings (``Study.shared``): ``load_results`` keeps every clean row, the rows
    of grids the profile no longer has and every extra-step row, so drop those of other settings."""
    return classification.current(df, profile, set(grids.current_cells(profile).values()))


STUDY = Study(name=grids.NAME, title="Dynamic Scaling: transfer FS vs DS, overfitting, ablations",
              notebook="01_dynamic_scaling", grids=grids.grids, extra=extra, claims=claims.claims,
              headline=prose.headline, shared=current)
