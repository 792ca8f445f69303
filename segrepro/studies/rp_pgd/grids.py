"""RP-PGD (Zhang et al., AAAI 2025): the grids and non-grid steps of notebook ``04_rp_pgd``.

Everything is written to ``results/<profile>/rp_pgd.csv`` (``study="rp_pgd"``), on the first preset,
at the paper's budget ``eps = profile.eps[0]`` (0.03) and ``alpha = profile.alpha`` (0.01); every
grid cell also writes per-image counts (``counts/rp_pgd/``) behind the claims' bootstrap intervals.

=================  ========================================================================================
grid               what
=================  ========================================================================================
``whitebox``       Fig. 2: PGD, SegPGD, CosPGD, RP-PGD white-box on the clean model and its PGD3-AT
                   version, read at iterations 1, 2, 3, 5, 7, 10, 20, ... (snapshots of one run). PGD
                   runs to the battery's longest PGD (it is also Table 4's PGD column of these models).
``battery``        Tables 4-5: PGD (one run, read at ``rp_battery_pgd_steps``) on every other AT model and
                   its clean model; CW (margin loss, no random start) and L2 BIM on the AT variants of the
                   AT architecture. The clean column is every grid's ``method="clean"`` row.
``ablation``       Tables 1-3 and ``prototype_grad``: the RP-PGD variants of :data:`ABLATIONS` (the full
                   default, T+B+F, is read from ``whitebox`` when the step counts agree).
``blackbox``       Table 6: SegPGD and RP-PGD made on a PGD3-AT surrogate, evaluated on every AT model.
``false_region``   (extra) Sec. "Region-Based Attack": how many clean-mispredicted pixels PGD restores.
``grad_balance``   (extra) ``prototype_grad=True``: the prototype term's input gradient against the
                   region loss's (norm ratio, fraction of sign components it flips).
=================  ========================================================================================

Choices at our scale **[ours]**:

- Snapshots of one run: SegPGD and RP-PGD schedule their weights over ``T`` (Eq. 4), so their
  t-th iterate of a T-step run is not a t-step run; the paper does not say which it plots.
- Table 6 swaps the roles: the paper's surrogate is a PGD3-AT PSPNet and its targets DeepLabv3 AT
  models; the profile trains all AT variants for one architecture (``psp_r18``), so the surrogate
  is the PGD3-AT model of another architecture (``dlv3_r18``) and the targets are the ``psp_r18`` variants.
- The battery is the paper's Table 4 columns we can run: PGD, L2 BIM (budget ours: the paper's is in
  an appendix we lack) and a CW-margin attack without random start (C&W has none), so BIM and CW
  are deterministic and run one seed; DeepFool does not fit the attack loop.
- ``prototype_grad=False`` is the default (the released code): the prototype term then has no
  gradient, so "T+B+F+Proto" equals "T+B+F" and the prototype-only rows are the random start alone.
  The prototype rows of Tables 1 and 3 therefore run with ``prototype_grad=True`` (the only reading in
  which the term acts), and the chapter shows both readings with the gradient balance.
- The profile's ``rp_*`` fields set images, seeds and step counts (the 2-core budget of ``embedded``);
  their defaults are the paper's settings (``paper``).
"""
from __future__ import annotations

import math

import pandas as pd

from segrepro.run.grid import GridSpec, MethodSpec
from segrepro.run.zoo import parse_name

NAME = "rp_pgd"
FIG2_METHODS = ("pgd", "segpgd", "cospgd", "rp_pgd")
#: The iterations of Fig. 2 (plus 1 and 2 for the convergence claim).
FIG2_ITERATIONS = (1, 2, 3, 5, 7, 10, 20, 40, 100)
#: AT strategies in the papers' row order (Tables 4-6).
AT_ORDER = ("PGD3-AT", "SegPGD3-AT", "CosPGD3-AT", "RP-PGD3-AT", "PGD7-AT", "SegPGD7-AT", "CosPGD7-AT",
            "RP-PGD7-AT")
THREE_STEP = ("PGD3-AT", "SegPGD3-AT", "CosPGD3-AT", "RP-PGD3-AT")
_ALL = ["true", "boundary", "false"]
_GRAD = {"prototype_grad": True}
#: label -> RP-PGD parameters (``prototype_grad=False`` is the default). Region-only rows leave the
#: prototype term out (with detached features it has no gradient, so beta changes nothing); the
#: prototype rows keep its gradient (``prototype_grad=True``); the prototype-only rows set
#: ``regions = []`` (L_R = 0), as the paper's Table 3 equals Table 1 group 5.
ABLATIONS: dict[str, dict] = {
    "T": {"regions": ["true"]},
    "T+B": {"regions": ["true", "boundary"]},
    "T+F": {"regions": ["true", "false"]},
    "T+B+F": {},
    "Proto (T)": {"regions": [], **_GRAD},
    "T+B+F+Proto": dict(_GRAD),
    "fixed 0.4/0.3/0.3": {"schedule": "constant", "lambdas": [0.4, 0.3, 0.3]},
    "fixed 0.4/0.4/0.2": {"schedule": "constant", "lambdas": [0.4, 0.4, 0.2]},
    "fixed 0.6/0.2/0.2": {"schedule": "constant", "lambdas": [0.6, 0.2, 0.2]},
    "fixed 0.2/0.6/0.2": {"schedule": "constant", "lambdas": [0.2, 0.6, 0.2]},
    "Proto (T+B)": {"regions": [], "prototype_regions": ["true", "boundary"], **_GRAD},
    "Proto (T+F)": {"regions": [], "prototype_regions": ["true", "false"], **_GRAD},
    "Proto (T+B+F)": {"regions": [], "prototype_regions": _ALL, **_GRAD},
}
#: The released reading of the full attack: the default parameters, i.e. the "T+B+F" cell.
RELEASED = "T+B+F"
#: Table 1 groups (paper numbering), Table 2 rows (Eq. 4 last), Table 3 rows, prototype_grad rows.
TABLE1 = ("T", "T+B", "T+F", "T+B+F", "Proto (T)", "T+B+F+Proto")
TABLE2 = ("fixed 0.4/0.3/0.3", "fixed 0.4/0.4/0.2", "fixed 0.6/0.2/0.2", "fixed 0.2/0.6/0.2", "T+B+F")
TABLE3 = ("Proto (T)", "Proto (T+B)", "Proto (T+F)", "Proto (T+B+F)")
PROTO_GRAD = ("T+B+F+Proto", "T+B+F")
#: The battery's L2 budget: per-element RMS ``l2_rms``, so ``eps_2 = l2_rms sqrt(3HW)`` [ours], step eps_2/4.
L2_RMS = 0.01


def n_images(profile) -> int:
    """Images per cell: ``profile.rp_images`` (``None``: ``profile.n_images``)."""
    return profile.n_images if profile.rp_images is None else profile.rp_images


def seeds(profile) -> tuple[int, ...]:
    """Seeds of the random methods: the first ``profile.rp_seeds`` seeds of the profile (all when ``None``)."""
    cap = profile.rp_seeds
    return tuple(profile.seeds if cap is None else profile.seeds[:cap])


def ablation_images(profile) -> int:
    """Images per ablation cell: ``profile.rp_ablation_images`` (``None``: :func:`n_images`)."""
    return n_images(profile) if profile.rp_ablation_images is None else profile.rp_ablation_images


def ablation_seeds(profile) -> tuple[int, ...]:
    """Seeds of the ablations: the first ``profile.rp_ablation_seeds`` of :func:`seeds`."""
    cap = profile.rp_ablation_seeds
    return seeds(profile) if cap is None else seeds(profile)[:cap]


def battery_images(profile, full: bool) -> int:
    """Images per battery cell: ``profile.rp_battery_images`` for the AT variants of the AT architecture
    (``full``: Table 4's every column), :func:`n_images` for the PGD-only models and when it is ``None``."""
    return n_images(profile) if not full or profile.rp_battery_images is None else profile.rp_battery_images


def whitebox_steps(profile) -> int:
    """Length of the Fig. 2 runs of SegPGD, CosPGD, RP-PGD (and Table 6's attacks): at most the paper's 100."""
    return min(profile.rp_whitebox_steps, 100)


def ablation_steps(profile) -> int:
    """Iterations of the Tables 1-3 ablations: ``profile.rp_ablation_steps``, at most the paper's 100."""
    return min(profile.rp_ablation_steps, 100)


def pgd_steps(profile) -> int:
    """Length of every PGD run (battery and Fig. 2): the longest of the battery's and Fig. 2's."""
    return max((*profile.rp_battery_pgd_steps, whitebox_steps(profile)))


def snapshots(profile) -> tuple[int, ...]:
    """Fig. 2's iterations of SegPGD, CosPGD and RP-PGD: the paper's up to :func:`whitebox_steps`, and that one."""
    t = whitebox_steps(profile)
    return tuple(sorted({s for s in FIG2_ITERATIONS if s <= t} | {t}))


def pgd_snapshots(profile, fig2: bool) -> tuple[int, ...]:
    """Iterations read from a PGD run: the battery's step counts, plus Fig. 2's on the Fig. 2 models."""
    t = pgd_steps(profile)
    extra = {s for s in FIG2_ITERATIONS if s <= t} | set(snapshots(profile)) if fig2 else set()
    return tuple(sorted(set(profile.rp_battery_pgd_steps) | {t} | extra))


def at_arch(profile) -> str:
    """The architecture with the most AT variants in ``profile.at_models`` (Tables 4-6), else the first source."""
    archs = [parse_name(n)[0] for n in profile.at_models]
    if not archs:  # e.g. the paper profile before AT checkpoints are given: prefer a PSPNet, as the paper
        return next((s for s in profile.sources if s.startswith("psp")), profile.sources[0])
    return max(dict.fromkeys(archs), key=archs.count)


def at_variants(profile, arch: str | None = None) -> tuple[str, ...]:
    """The AT models of ``arch`` (default :func:`at_arch`) in the profile, in :data:`AT_ORDER`."""
    arch = arch or at_arch(profile)
    names = [n for n in profile.at_models if parse_name(n)[0] == arch]
    rank = {s: i for i, s in enumerate(AT_ORDER)}
    return tuple(sorted(names, key=lambda n: rank.get(n.split("@")[1], len(rank))))


def pgd3(arch: str) -> str:
    """The PGD3-AT model name of an architecture."""
    return f"{arch}@PGD3-AT"


def whitebox_sources(profile) -> tuple[str, ...]:
    """Fig. 2's models: the AT architecture, clean and (when the profile has it) PGD3-AT."""
    arch = at_arch(profile)
    return (arch, pgd3(arch)) if pgd3(arch) in profile.at_models else (arch,)


def ablation_sources(profile) -> tuple[str, ...]:
    """The ablations' models: the clean AT architecture (plus its PGD3-AT model when ``profile.rp_ablation_at``)."""
    src = whitebox_sources(profile)
    return src if profile.rp_ablation_at else src[:1]


def surrogate(profile) -> str:
    """Table 6's surrogate: a PGD3-AT model of another architecture, else another clean one."""
    arch = at_arch(profile)
    others = [n for n in profile.at_models if n.endswith("@PGD3-AT") and parse_name(n)[0] != arch]
    clean = [m for m in dict.fromkeys((*profile.models, *profile.sources)) if m != arch]
    if not others and not clean:
        raise ValueError(f"profile {profile.name!r} has no model besides {arch!r} to serve as Table 6's surrogate")
    return (others or clean)[0]


def blackbox_targets(profile) -> tuple[str, ...]:
    """Table 6's targets: the clean AT architecture and its AT variants."""
    return (at_arch(profile), *at_variants(profile))


def battery_models(profile) -> dict[str, bool]:
    """Model -> full battery? The AT variants of the AT architecture get PGD, CW and L2 BIM (Table 4); its
    clean model and, with ``profile.rp_other_archs``, every other architecture with an AT model (clean
    and AT: Table 5, the project's targets) get PGD only."""
    arch = at_arch(profile)
    out = {arch: False, **{m: True for m in at_variants(profile)}}
    if profile.rp_other_archs:
        for name in profile.at_models:
            other = parse_name(name)[0]
            if other != arch:
                out.setdefault(other, False)
                out.setdefault(name, False)
    return out


def l2_budget(profile) -> tuple[float, float]:
    """``(eps_2, step)`` of the battery's L2 BIM at the profile's image size [ours]."""
    side = profile.image_size or 96
    eps2 = L2_RMS * math.sqrt(3 * side * side)
    return eps2, eps2 / 4


def cw_method() -> MethodSpec:
    """The battery's CW: the engine's CW-margin objective, without random start (C&W has none) [ours]."""
    return MethodSpec("cw", {"random_start": False}, label="CW")


def bim_l2_method() -> MethodSpec:
    """The battery's L2 BIM (no random start)."""
    return MethodSpec("bim", {"step": "l2"}, label="BIM")


def ablation_labels(profile) -> tuple[str, ...]:
    """The :data:`ABLATIONS` rows the ablation grid runs: all but :data:`RELEASED` when the Fig. 2 run of
    RP-PGD is that cell already (same steps and seeds, on the ablation source)."""
    reuse = ablation_steps(profile) == whitebox_steps(profile) and ablation_seeds(profile) == seeds(profile)
    return tuple(k for k in ABLATIONS if not (reuse and k == RELEASED))


def ablation_methods(profile=None) -> list[MethodSpec]:
    """One ``rp_pgd`` :class:`MethodSpec` per ablation row (labelled); all rows without a profile."""
    labels = ablation_labels(profile) if profile is not None else tuple(ABLATIONS)
    return [MethodSpec("rp_pgd", ABLATIONS[k], label=k) for k in labels]


def _spec(profile, grid: str, sources, targets, methods, steps: int, snaps, **kw) -> GridSpec:
    base = dict(study=NAME, preset=profile.presets[0], sources=tuple(sources), targets=tuple(targets),
                methods=methods, grid=grid, eps=(profile.paper_eps,), alpha=profile.alpha, steps=steps,
                snapshots=snaps, seeds=seeds(profile), n_images=n_images(profile), batch_size=profile.batch_size)
    return GridSpec(**{**base, **kw})


def grids(profile) -> list[GridSpec]:
    """Fig. 2, the battery and the ablations (white-box: one spec per model, so that no cell is also
    evaluated on a sibling model), and Table 6 (the surrogate's examples on every AT target)."""
    fig2 = whitebox_sources(profile)
    t_pgd, t_wb, t_ab = pgd_steps(profile), whitebox_steps(profile), ablation_steps(profile)
    out = []
    for src in fig2:
        out += [_spec(profile, "whitebox", (src,), (), ["pgd"], t_pgd, pgd_snapshots(profile, True)),
                _spec(profile, "whitebox", (src,), (), FIG2_METHODS[1:], t_wb, snapshots(profile))]
    models = battery_models(profile)
    one = seeds(profile)[:1]
    for src, full in models.items():
        n = battery_images(profile, full)
        if src not in fig2:
            out.append(_spec(profile, "battery", (src,), (), ["pgd"], t_pgd, pgd_snapshots(profile, False),
                             n_images=n))
        if full and profile.rp_battery_cw_steps:
            t = profile.rp_battery_cw_steps
            out.append(_spec(profile, "battery", (src,), (), [cw_method()], t, (t,), seeds=one, n_images=n))
        if full and profile.rp_battery_bim_steps:
            t, (eps2, step) = profile.rp_battery_bim_steps, l2_budget(profile)
            out.append(_spec(profile, "battery", (src,), (), [bim_l2_method()], t, (t,), seeds=one, eps=(eps2,),
                             alpha=step, n_images=n))
    for src in ablation_sources(profile):
        if ablation_labels(profile):
            out.append(_spec(profile, "ablation", (src,), (), ablation_methods(profile), t_ab, (t_ab,),
                             seeds=ablation_seeds(profile), n_images=ablation_images(profile)))
    out.append(_spec(profile, "blackbox", (surrogate(profile),), blackbox_targets(profile), ("segpgd", "rp_pgd"),
                     t_wb, (t_wb,)))
    return out


def cost(profile, ms_step: float = 3.5, ms_eval: float = 1.2) -> pd.DataFrame:
    """The grids' cost by the 2-core rule of thumb: attack steps x images x ``ms_step`` and evaluations
    (targets x (snapshots + 1) x images x ``ms_eval``), per grid, in seconds (the extra steps apart). The
    defaults are an idle 2-core CPU's at 96 px (the study took 211 s where this estimates 229)."""
    rows = []
    for g in grids(profile):
        cells = len(g.sources) * len(g.methods) * len(g.eps) * len(g.seeds)
        attack = cells * g.steps * g.n_images * ms_step / 1000
        evals = cells * len(g.all_targets) * (len(g.snapshots) + 1) * g.n_images * ms_eval / 1000
        rows.append({"grid": g.grid, "sources": ",".join(g.sources), "methods": ",".join(m.display for m in g.methods),
                     "cells": cells, "steps": g.steps, "images": g.n_images, "attack_s": attack, "eval_s": evals})
    t, n, s = whitebox_steps(profile), n_images(profile), len(seeds(profile))
    rows.append({"grid": "false_region", "sources": at_arch(profile), "methods": "pgd", "cells": s, "steps": t,
                 "images": n, "attack_s": s * t * n * (ms_step + ms_eval) / 1000, "eval_s": 0.0})
    ta = ablation_steps(profile)
    rows.append({"grid": "grad_balance", "sources": ",".join(ablation_sources(profile)), "methods": "rp_pgd",
                 "cells": len(ablation_sources(profile)), "steps": ta, "images": n,
                 "attack_s": len(ablation_sources(profile)) * ta * n * 1.5 * ms_step / 1000, "eval_s": 0.0})
    return pd.DataFrame(rows)
