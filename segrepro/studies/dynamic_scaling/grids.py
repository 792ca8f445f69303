"""Dynamic Scaling (Gu et al., arXiv 2111.11368): the grids of notebook ``01_dynamic_scaling``.

Every grid writes to ``results/<profile>/dynamic_scaling.csv`` (``study="dynamic_scaling"``); the
``grid`` column says which part of the paper a row serves. Every cell attacks the same first
:func:`n_images` validation images at the paper's budget ``profile.paper_eps`` (0.03), so the
clean rows of every table are one measurement, and the claims pair cells image by image.

==============  ====================================================================================
grid            paper (our scale)
==============  ====================================================================================
``transfer``    Tables 1-3, Figs 3, 5, 7: every preset, ``profile.sources`` x ``profile.targets``, FS
                (``bim``) and DS, snapshots :func:`snapshots`. On the first preset the VGG and PSP
                sources are also evaluated on :func:`at_targets` (Table 3: no second attack), and,
                with ``profile.ds_second_eps``, attacked again at the larger budgets ``eps[1:]``
                (second-scale evidence, never a verdict).
``long``        Figs 4, 7: FS and DS from the VGG source for ``profile.long_steps`` iterations, log-spaced
                snapshots.
``lambda``      Fig 8: DS scale ratios ``profile.ds_lambdas`` on the PSP source. Ratio 0 is FS (the
                transform is then the identity: the examples equal BIM's bit for bit) and the default
                ratio is the transfer grid's DS: both are read from the transfer grid, not rerun.
``scales``      Table 4: the VGG and PSP sources segment their own examples at 50 %, 75 %, 100 % and
                multi-scale (``segrepro.run.evaluate.MS_SCALES``).
==============  ====================================================================================

The classification overfitting study (Sec. 4, Figs 1-2) is the study's ``extra`` step
(:mod:`segrepro.studies.dynamic_scaling.classification`).

Choices at our scale **[ours]**: FS is BIM (no random start), so it is deterministic: it runs one
seed (the first of ``profile.seeds``); DS draws a random scale per iteration and runs every seed.
The claims pair each DS seed with the one FS run on the same images.

Cost at ``embedded``, measured on an idle 2-core CPU (96 px, 64 images, 20 iterations): transfer at
0.03 (2 presets x 3 sources x (FS + 2 DS) = 18 cells; 5 targets on the first preset's VGG/PSP cells, 3
elsewhere) and at 0.06 (6 cells), about 170 s with the evaluations; long (FS and 2 DS seeds, VGG, 50
iterations, 128 images: ``ds_long_images``) about 100 s; lambda (0.1, 0.7, 0.9 x 2 seeds) 32 s; scales
43 s (multi-scale costs 5.6 single-scale passes); the classifiers (1024 images, 50 iterations,
``classification``) about 160 s. About 9 minutes in all; ``classification.estimated_seconds`` plans it.
"""
from __future__ import annotations

import re

from segrepro.run.grid import GridSpec, MethodSpec

NAME = "dynamic_scaling"
#: Candidate snapshots of the long run (those up to ``profile.long_steps`` are used).
LONG_SNAPSHOTS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
#: Evaluation scales of Table 4 (``"ms"``: multi-scale).
EVAL_SCALES = (0.5, 0.75, 1.0, "ms")
#: The overfitting claims compare the last iteration with this one (the paper, Sec. 5: FS from ResNet
#: sources "starts to overfit after only around 5 attack iterations"; the same rule serves the claim
#: that VGG sources do not overfit and DS's Fig. 7).
REFERENCE = 5
FS, DS = "bim", "ds"


def n_images(profile) -> int:
    """Images per cell in every DS grid: ``profile.ds_images``, else ``profile.n_images``."""
    return int(profile.ds_images or profile.n_images)


def reference_iteration(steps: int) -> int | None:
    """The overfitting claims' reference iteration: :data:`REFERENCE`, or, for runs of at most that
    many iterations (smoke scale), half the run (None for a one-iteration run)."""
    if steps > REFERENCE:
        return REFERENCE
    return steps // 2 or None


def snapshots(profile) -> tuple[int, ...]:
    """Snapshots of the transfer grid: ``ds_snapshots`` (or ``snapshots``) up to ``steps``, plus the
    reference iteration and ``steps``."""
    want = profile.ds_snapshots or profile.snapshots
    ref = reference_iteration(profile.steps)
    return tuple(sorted({int(t) for t in want if 1 <= t <= profile.steps} | {profile.steps} | ({ref} if ref else set())))


def long_snapshots(profile) -> tuple[int, ...]:
    """Log-spaced snapshots up to ``profile.long_steps`` (always including it, ``steps`` and the
    transfer grid's reference iteration, so the long run extends the same curve)."""
    ref = reference_iteration(profile.steps)
    return tuple(sorted({t for t in LONG_SNAPSHOTS if t <= profile.long_steps} | {profile.long_steps, profile.steps}
                        | ({ref} if ref else set())))


def vgg_source(profile) -> str:
    """The FCN-VGG source (the paper's FCN8s-VGG16); the first source if there is none."""
    return next((s for s in profile.sources if "vgg" in s), profile.sources[0])


def psp_source(profile) -> str:
    """The PSPNet source (the paper's PSPNet-Res50); the first non-VGG source if there is none."""
    others = [s for s in profile.sources if s != vgg_source(profile)] or list(profile.sources)
    return next((s for s in others if s.startswith("psp")), others[0])


def side_sources(profile) -> tuple[str, ...]:
    """Sources of Tables 3-4: the VGG and the PSP source, as in the paper."""
    return tuple(dict.fromkeys((vgg_source(profile), psp_source(profile))))


def at_targets(profile) -> tuple[str, ...]:
    """Table 3's targets: the PGD-trained AT models of the paper's architectures (its Table 3 has
    PSPNet-Res50 and DeepLabV3-Res50: our non-VGG ones), else every PGD-trained one, else every AT model."""
    pgd = tuple(m for m in profile.at_models if re.search(r"@PGD\d+-AT$", m))
    resnet = tuple(m for m in pgd if "vgg" not in m.partition("@")[0])
    return resnet or pgd or tuple(profile.at_models)


def default_lam(profile) -> float:
    """The DS scale ratio of the transfer grid (``method_params["ds"]["lam"]``, else the attack's default)."""
    from segrepro.attacks.transforms import DynamicScaling

    return float(dict(profile.method_params.get(DS, {})).get("lam", DynamicScaling.params["lam"].default))


def _fs_ds(profile, *, methods=None, **kw) -> list[GridSpec]:
    """One spec for FS (first seed only: BIM is deterministic) and one for DS (every seed)."""
    methods = methods or {FS: [MethodSpec(FS, dict(profile.method_params.get(FS, {})))],
                          DS: [MethodSpec(DS, dict(profile.method_params.get(DS, {})))]}
    base = dict(study=NAME, alpha=profile.alpha, batch_size=profile.batch_size, n_images=n_images(profile))
    return [GridSpec(methods=ms, seeds=profile.seeds[:1] if name == FS else profile.seeds, **{**base, **kw})
            for name, ms in methods.items()]


def transfer_grids(profile) -> list[GridSpec]:
    """Tables 1-3 and Figs 3, 5, 7 (see the module docstring)."""
    specs, first = [], profile.presets[0]
    common = dict(grid="transfer", steps=profile.steps, snapshots=snapshots(profile))
    for preset in profile.presets:
        extra = at_targets(profile) if preset == first else ()
        side = [s for s in profile.sources if s in side_sources(profile)] if extra else []
        rest = [s for s in profile.sources if s not in side]
        examples = min(4, n_images(profile)) if preset == first else 0
        for sources, targets in ((side, (*profile.targets, *extra)), (rest, profile.targets)):
            if sources:
                specs += _fs_ds(profile, preset=preset, sources=tuple(sources), targets=tuple(targets),
                                eps=(profile.paper_eps,), save_examples=examples, **common)
    if profile.ds_second_eps and len(profile.eps) > 1:
        specs += _fs_ds(profile, preset=first, sources=side_sources(profile),
                        targets=(*profile.targets, *at_targets(profile)), eps=tuple(profile.eps[1:]), **common)
    return specs


def long_grids(profile) -> list[GridSpec]:
    """Figs 4 and 7: FS and DS on the VGG source for ``long_steps`` iterations (none when that is not longer
    than ``steps``). The VGG source is the one whose overfitting claims need more images and iterations than
    the transfer grid gives (its 5 -> 20 change is under one point); the ResNet sources settle at 20."""
    if profile.long_steps <= profile.steps:
        return []
    return _fs_ds(profile, grid="long", preset=profile.presets[0], sources=(vgg_source(profile),),
                  targets=profile.targets, eps=(profile.paper_eps,), steps=profile.long_steps,
                  snapshots=long_snapshots(profile), n_images=long_images(profile))


def long_images(profile) -> int:
    """Images of the long run: ``profile.ds_long_images``, else :func:`n_images`."""
    return int(profile.ds_long_images or n_images(profile))


def lambdas_run(profile) -> tuple[float, ...]:
    """The ratios of ``ds_lambdas`` the lambda grid runs: all but 0 (FS) and :func:`default_lam` (the transfer DS)."""
    read = {0.0, round(default_lam(profile), 8)}
    return tuple(float(lam) for lam in profile.ds_lambdas if round(float(lam), 8) not in read)


def lambda_grids(profile) -> list[GridSpec]:
    """Fig 8: DS with the ratios of :func:`lambdas_run` on the PSP source (the paper: PSPNet-Res50 -> FCN8s)."""
    params = dict(profile.method_params.get(DS, {}))
    methods = [MethodSpec(DS, {**params, "lam": lam}, label=f"DS lam={lam:g}") for lam in lambdas_run(profile)]
    if not methods:
        return []
    return _fs_ds(profile, methods={DS: methods}, grid="lambda", preset=profile.presets[0],
                  sources=(psp_source(profile),), targets=profile.targets, eps=(profile.paper_eps,),
                  steps=profile.steps, snapshots=(profile.steps,))


def scale_grids(profile) -> list[GridSpec]:
    """Table 4: the VGG and PSP sources segment their own examples at 50 %, 75 %, 100 % and multi-scale
    (one spec per source: a spec's sources are all its targets, and Table 4 has no transfer column)."""
    return [spec for src in side_sources(profile)
            for spec in _fs_ds(profile, grid="scales", preset=profile.presets[0], sources=(src,), targets=(),
                               eps=(profile.paper_eps,), steps=profile.steps, snapshots=(profile.steps,),
                               eval_scales=EVAL_SCALES)]


#: Seconds per image on the 2-core CPU at 96 px (``shared/design.md``; recalibrated on an idle machine,
#: where the study took 443 s at 64 images, 1024 classifier images, before the long DS run): one attack
#: iteration (forward + backward) of a zoo model, DS's extra share (the resize), one evaluation forward,
#: and one iteration of the Sec. 4 classifiers (VGG16 and ResNet-18 at width 8). A planning number: the
#: estimate stays above the measured time.
COST = {"iteration": 4.5e-3, "ds_extra": 0.2, "evaluation": 2.5e-3, "cls_iteration": (2e-3 + 0.65e-3) / 2,
        "cls_evaluation": 1e-3}


def scale_cost(scale) -> float:
    """Evaluation passes of one evaluation scale, in single-scale passes (pixels: the scale squared)."""
    from segrepro.run.evaluate import MS_SCALES

    return sum(s * s for s in MS_SCALES) if scale == "ms" else float(scale) ** 2


GRIDS = ("transfer", "long", "lambda", "scales")


def current_cells(profile, fingerprint=None) -> dict[tuple, str]:
    """Cell keys of the current grids' rows: ``(preset, source, method, params, eps, seed) -> key`` of every
    attack cell and ``(preset, target, eval scale) -> key`` of the clean rows (the runner's key of a target,
    scale, image count and weights). ``fingerprint(preset, name)`` defaults to the zoo's."""
    from segrepro.run import evaluate as ev
    from segrepro.run.grid import clean_key  # the runner's key: one source of truth

    if fingerprint is None:
        from segrepro.run.zoo import Zoo

        zoo = Zoo(profile, progress=False)
        fingerprint = lambda preset, name: zoo.fingerprint(preset, name, train=False)  # noqa: E731
    out: dict[tuple, str] = {}
    for g in grids(profile):
        for c in g.cells(lambda name, p=g.preset: fingerprint(p, name)):
            out[(g.grid, g.preset, c.source, c.method.name, c.method.params_json, c.eps, c.seed)] = c.key
        for t in g.all_targets:
            for s in g.eval_scales:
                out[(g.preset, t, ev.scale_name(s))] = clean_key(g, t, ev.scale_name(s), fingerprint(g.preset, t))
    return out


def grids(profile) -> list[GridSpec]:
    """Every grid of the study, in run order."""
    return [*transfer_grids(profile), *long_grids(profile), *lambda_grids(profile), *scale_grids(profile)]
