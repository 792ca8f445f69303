"""TranSegPGD (arXiv 2312.02207, summary only): the grids of notebook ``02_transegpgd``.

Every grid writes to ``results/<profile>/transegpgd.csv`` (``study="transegpgd"``):

============  ==========================================================================================
grid          what
============  ==========================================================================================
``transfer``  the prior attacks of :func:`baselines` (``profile.baselines`` and DS), TranSegPGD and
              TranSegPGD combined with each transform baseline (MI, DI, TI), from :func:`sources` to
              every target of the profile (first preset, one eps).
``ablation``  the **[ours]** choices of TranSegPGD on one source: ``stage1_favour="wrong"``,
              ``switch="all_fooled"``, ``gamma`` in :data:`GAMMAS`, ``beta`` in :data:`BETAS` (the
              default cell is the ``transfer`` one: same key, computed once).
============  ==========================================================================================

Choices at our scale **[ours]**: one preset (the first), one budget ``profile.side_eps`` (the
profile's largest, as the DS study's side grids; the ``paper`` profile has only 0.03),
:func:`study_images` (``profile.transfer_images`` caps them: 16 in ``embedded``), the profile's
``steps`` with its snapshots plus ``ceil(T/2)`` (the end of stage 1). Deterministic methods (no
random start, no input transform) run one seed, the others every seed of the profile. The
``segtrans`` and ``comparison`` studies reuse cells of the ``transfer`` grid (:func:`baseline_grids`).
"""
from __future__ import annotations

import math

from segrepro.report import transfer as tt
from segrepro.run.grid import GridSpec, MethodSpec

NAME = "transegpgd"
#: The paper method of the DS study, a prior transfer attack for TranSegPGD.
PRIOR_PAPERS = ("ds",)
#: Ablation sweeps of the [ours] weights (the default 0.1 is the transfer cell).
GAMMAS = (0.0, 0.3, 0.5)
BETAS = (0.0, 0.3, 0.5)
DEFAULT = tt.key("transegpgd")


def attack_baselines(profile) -> tuple[str, ...]:
    """The prior attacks TranSegPGD replaces: ``profile.baselines`` with their own objective or random
    start (PGD, SegPGD, CosPGD), then :data:`PRIOR_PAPERS` (DS)."""
    return (*(b for b in profile.baselines if not tt.is_transform(b)), *PRIOR_PAPERS)


def transform_baselines(profile) -> tuple[str, ...]:
    """The baselines that are only a gradient or input transform (MI, DI, TI): TranSegPGD combines with them."""
    return tuple(b for b in profile.baselines if tt.is_transform(b))


def baselines(profile) -> tuple[str, ...]:
    """Every prior attack of the transfer grid: the attacks, then the transforms."""
    return (*attack_baselines(profile), *transform_baselines(profile))


def ours(profile) -> tuple[str, ...]:
    """TranSegPGD alone and combined with each transform (the summary: "can combine with MI-FGSM")."""
    return ("transegpgd", *(f"transegpgd+{t}" for t in transform_baselines(profile)))


def methods(profile) -> tuple[str, ...]:
    """Every method of the transfer grid."""
    return (*baselines(profile), *ours(profile))


def study_images(profile) -> int:
    """Images attacked per cell: ``profile.n_images``, at most ``profile.transfer_images``."""
    cap = profile.transfer_images
    return profile.n_images if cap is None else min(profile.n_images, cap)


def sources(profile) -> tuple[str, ...]:
    """The sources of the transfer grid: the first ``profile.transfer_sources`` of ``profile.sources``."""
    return tuple(profile.sources[:profile.transfer_sources])


def ablation_source(profile) -> str:
    """The source of the ablations: the last transfer source (a ResNet one in ``embedded``)."""
    return sources(profile)[-1]


def snapshots(profile) -> tuple[int, ...]:
    """The profile's snapshots up to ``steps``, plus ``ceil(T/2)`` (end of stage 1) and ``T``."""
    t = profile.steps
    return tuple(sorted({s for s in profile.snapshots if s <= t} | {math.ceil(t / 2), t}))


def method_spec(profile, name: str, **params) -> MethodSpec:
    """``name`` with the profile's ``method_params`` of it (and of each part of a composition)."""
    merged = {}
    for part in (*name.split("+"), name):
        merged.update(profile.method_params.get(part, {}))
    return MethodSpec(name, {**merged, **params})


def specs(profile, study: str, grid: str, methods, srcs, n_images: int | None = None) -> list[GridSpec]:
    """GridSpecs of ``methods`` with this study's shared settings; deterministic methods get one seed."""
    base = dict(study=study, preset=profile.presets[0], sources=tuple(srcs), targets=profile.targets,
                grid=grid, eps=(profile.side_eps,), alpha=profile.alpha, steps=profile.steps,
                snapshots=snapshots(profile), n_images=n_images or study_images(profile),
                batch_size=profile.batch_size)
    det = [m for m in methods if tt.is_deterministic(m.name)]
    rnd = [m for m in methods if not tt.is_deterministic(m.name)]
    out = [GridSpec(methods=det, seeds=profile.seeds[:1], **base)] if det else []
    return out + ([GridSpec(methods=rnd, seeds=profile.seeds, **base)] if rnd else [])


def transfer_grids(profile) -> list[GridSpec]:
    """Every method of :func:`methods` from :func:`sources` to every target."""
    return baseline_grids(profile, methods(profile))


def baseline_grids(profile, names) -> list[GridSpec]:
    """The cells of :func:`transfer_grids` for some of its methods (same keys: reused by other studies)."""
    unknown = sorted(set(names) - set(methods(profile)))
    if unknown:
        raise ValueError(f"{unknown} are not methods of the transegpgd transfer grid; valid: {list(methods(profile))}")
    return specs(profile, NAME, "transfer", [method_spec(profile, m) for m in names], sources(profile))


def ablation_methods(profile) -> list[MethodSpec]:
    """The default TranSegPGD and one change of each [ours] choice."""
    ms = [method_spec(profile, "transegpgd"), method_spec(profile, "transegpgd", stage1_favour="wrong"),
          method_spec(profile, "transegpgd", switch="all_fooled")]
    ms += [method_spec(profile, "transegpgd", gamma=g) for g in GAMMAS]
    return ms + [method_spec(profile, "transegpgd", beta=b) for b in BETAS]


def ablation_grids(profile) -> list[GridSpec]:
    """The ablations of :func:`ablation_methods` on :func:`ablation_source`."""
    return specs(profile, NAME, "ablation", ablation_methods(profile), (ablation_source(profile),))


def grids(profile) -> list[GridSpec]:
    """Every grid of the study."""
    return [*transfer_grids(profile), *ablation_grids(profile)]
