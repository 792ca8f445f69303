"""Dynamic Scaling (Gu et al., arXiv 2111.11368): the grids of notebook ``01_dynamic_scaling``.

Every grid writes to ``results/<profile>/dynamic_scaling.csv`` (``study="dynamic_scaling"``); the
``grid`` column says which part of the paper a row serves:

==============  ====================================================================================
grid            paper (our scale)
==============  ====================================================================================
``transfer``    Tables 1-2, Figs 3, 5, 7: every preset, ``profile.sources`` x ``profile.targets``,
                FS (``bim``) and DS, every ``profile.eps``, snapshots ``profile.snapshots``.
``long``        Fig 4 (and a long DS/ResNet run for Fig 7): FS from the VGG and PSP sources, DS from
                the PSP source, first preset, ``profile.long_steps`` iterations, log-spaced snapshots.
``lambda``      Fig 8: DS scale ratio ``lam`` in 0, 0.1, 0.3, 0.5, 0.7, 0.9 on the PSP source.
``at_targets``  Table 3: FS vs DS from the VGG and PSP sources to ``profile.at_models``.
``scales``      Table 4: the VGG and PSP sources segmenting their own examples at 50 %, 75 %, 100 %
                and multi-scale (``segrepro.run.evaluate.MS_SCALES``).
==============  ====================================================================================

The classification overfitting study (Sec. 4, Figs 1-2) is the study's ``extra`` step
(:mod:`segrepro.studies.dynamic_scaling.classification`).

Choices at our scale **[ours]**:

- FS is BIM (no random start), so it is deterministic: its grids run one seed (the first of
  ``profile.seeds``); DS draws a random scale per iteration and runs every seed. Paired claims
  compare each DS seed with the one FS value.
- The side grids (``long``, ``lambda``, ``at_targets``, ``scales``) run at ``profile.side_eps`` (the
  profile's largest budget: at 0.03 our synthetic-data models leave too much mIoU for ablations
  to show anything) on :func:`ablation_images` images (half of ``n_images``), to fit the budget.
"""
from __future__ import annotations

import dataclasses
import re

from segrepro.run.grid import GridSpec, MethodSpec

NAME = "dynamic_scaling"
#: The paper's scale ratios of Fig. 8 (DS parameter ``lam`` of ``segrepro.attacks``).
LAMBDAS = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9)
#: Candidate snapshots of the long runs (those up to ``profile.long_steps`` are used).
LONG_SNAPSHOTS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
#: Evaluation scales of Table 4 (``"ms"``: multi-scale).
EVAL_SCALES = (0.5, 0.75, 1.0, "ms")
FS, DS = "bim", "ds"


def ablation_images(profile) -> int:
    """Images of the side grids: half of ``profile.n_images`` (at least one).

    Never all of them: a side grid with the transfer grid's images, budget and snapshots would share
    its cells (``Cell.key``), and the runner would then skip the side grid's rows as already stored."""
    return max(1, profile.n_images // 2)


def vgg_source(profile) -> str:
    """The FCN-VGG source (the paper's FCN8s-VGG16); the first source if there is none."""
    return next((s for s in profile.sources if "vgg" in s), profile.sources[0])


def psp_source(profile) -> str:
    """The PSPNet source (the paper's PSPNet-Res50); the first non-VGG source if there is none."""
    others = [s for s in profile.sources if s != vgg_source(profile)] or list(profile.sources)
    return next((s for s in others if s.startswith("psp")), others[0])


def side_sources(profile) -> tuple[str, ...]:
    """Sources of Tables 3-4 and the long run: the VGG and the PSP source, as in the paper."""
    return tuple(dict.fromkeys((vgg_source(profile), psp_source(profile))))


def long_snapshots(profile) -> tuple[int, ...]:
    """Log-spaced snapshots up to ``profile.long_steps`` (always including it)."""
    return tuple(sorted({t for t in LONG_SNAPSHOTS if t <= profile.long_steps} | {profile.long_steps}))


def _ds_params(profile) -> dict:
    return dict(profile.method_params.get(DS, {}))


def _fs_ds(profile, *, methods=None, **kw) -> list[GridSpec]:
    """One spec for FS (first seed only: BIM is deterministic) and one for DS (every seed)."""
    methods = methods or {FS: [MethodSpec(FS, dict(profile.method_params.get(FS, {})))],
                          DS: [MethodSpec(DS, _ds_params(profile))]}
    base = dict(study=NAME, alpha=profile.alpha, batch_size=profile.batch_size)
    specs = []
    for name, ms in methods.items():
        seeds = profile.seeds[:1] if name == FS else profile.seeds
        specs.append(GridSpec(methods=ms, seeds=seeds, **base, **kw))
    return specs


def transfer_grids(profile) -> list[GridSpec]:
    """Tables 1-2 and Figs 3, 5, 7: every preset, every eps, snapshots of ``profile.snapshots``."""
    specs = []
    for preset in profile.presets:
        specs += _fs_ds(profile, grid="transfer", preset=preset, sources=profile.sources,
                        targets=profile.targets, eps=profile.eps, steps=profile.steps,
                        snapshots=profile.snapshots, n_images=profile.n_images,
                        save_examples=min(4, profile.n_images) if preset == profile.presets[0] else 0)
    return specs


def long_grids(profile) -> list[GridSpec]:
    """Fig 4 (FS on the VGG source for ``long_steps``; the PSP source too, for contrast) and DS on the
    PSP source (Fig 7: no overfitting even from a ResNet source). DS on VGG is left out to save time."""
    fs, ds = _fs_ds(profile, grid="long", preset=profile.presets[0], sources=side_sources(profile),
                    targets=profile.targets, eps=(profile.side_eps,), steps=profile.long_steps,
                    snapshots=long_snapshots(profile), n_images=ablation_images(profile))
    return [fs, dataclasses.replace(ds, sources=(psp_source(profile),))]


def lambda_grids(profile) -> list[GridSpec]:
    """Fig 8: DS with ``lam`` in :data:`LAMBDAS` on the PSP source (the paper: PSPNet-Res50 -> FCN8s)."""
    methods = [MethodSpec(DS, {**_ds_params(profile), "lam": lam}, label=f"DS lam={lam:g}") for lam in LAMBDAS]
    return _fs_ds(profile, methods={DS: methods}, grid="lambda", preset=profile.presets[0],
                  sources=(psp_source(profile),), targets=profile.targets, eps=(profile.side_eps,),
                  steps=profile.steps, snapshots=(profile.steps,), n_images=ablation_images(profile))


def at_targets(profile) -> tuple[str, ...]:
    """Table 3's targets: the profile's PGD-trained AT models (standard AT, as the paper's DDC-AT
    setting), or every AT model when none is PGD-trained."""
    pgd = tuple(m for m in profile.at_models if re.search(r"@PGD\d+-AT$", m))
    return pgd or tuple(profile.at_models)


def at_grids(profile) -> list[GridSpec]:
    """Table 3: FS vs DS from the VGG and PSP sources to the adversarially trained targets."""
    if not profile.at_models:
        return []
    return _fs_ds(profile, grid="at_targets", preset=profile.presets[0], sources=side_sources(profile),
                  targets=at_targets(profile), eps=(profile.side_eps,), steps=profile.steps,
                  snapshots=profile.snapshots, n_images=ablation_images(profile))


def scale_grids(profile) -> list[GridSpec]:
    """Table 4: the VGG and PSP sources segment the examples at 50 %, 75 %, 100 % and multi-scale."""
    return _fs_ds(profile, grid="scales", preset=profile.presets[0], sources=side_sources(profile),
                  targets=(), eps=(profile.side_eps,), steps=profile.steps, snapshots=(profile.steps,),
                  n_images=ablation_images(profile), eval_scales=EVAL_SCALES)


def grids(profile) -> list[GridSpec]:
    """Every grid of the study, cheapest-first within the budget order of the notebook."""
    return [*transfer_grids(profile), *long_grids(profile), *lambda_grids(profile), *scale_grids(profile),
            *at_grids(profile)]
