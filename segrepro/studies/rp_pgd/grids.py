"""RP-PGD (Zhang et al., AAAI 2025): the grids and non-grid steps of notebook ``04_rp_pgd``.

Everything is written to ``results/<profile>/rp_pgd.csv`` (``study="rp_pgd"``), on the first preset,
at the paper's budget ``eps = profile.eps[0]`` (0.03) and ``alpha = profile.alpha`` (0.01):

=================  ========================================================================================
grid               what
=================  ========================================================================================
``whitebox``       Fig. 2: PGD, SegPGD, CosPGD, RP-PGD white-box on the clean model and its PGD3-AT
                   version, read at iterations 1, 2, 3, 5, 7, 10, 20, 40, 100 (snapshots of one run).
``ablation``       Tables 1-3 and ``prototype_grad``: the RP-PGD variants of :data:`ABLATIONS`.
``blackbox``       Table 6: SegPGD and RP-PGD made on a PGD3-AT surrogate, evaluated on every AT model.
``at_battery``     (extra) Tables 4-5: ``segrepro.run.battery`` on the clean and AT models.
``false_region``   (extra) Sec. "Region-Based Attack": how many clean-mispredicted pixels PGD restores.
=================  ========================================================================================

Choices at our scale **[ours]**:

- Snapshots of one run: SegPGD and RP-PGD schedule their weights over ``T`` (Eq. 4), so their
  t-th iterate of a T-step run is not a t-step run; the paper does not say which it plots.
- Table 6 swaps the roles: the paper's surrogate is a PGD3-AT PSPNet and its targets DeepLabv3 AT
  models; the profile trains all four AT variants for one architecture (``psp_r18``), so the
  surrogate is the PGD3-AT model of another architecture (``dlv3_r18``) and the targets are the
  ``psp_r18`` variants.
- The profile's ``rp_*`` fields cap images, seeds and step counts (the AT fine-tunes and the 2-core
  budget of ``embedded``); their defaults are the paper's settings (``paper``).
"""
from __future__ import annotations

import dataclasses

from segrepro.run.battery import default_battery
from segrepro.run.grid import GridSpec, MethodSpec
from segrepro.run.zoo import parse_name

NAME = "rp_pgd"
FIG2_METHODS = ("pgd", "segpgd", "cospgd", "rp_pgd")
#: The iterations of Fig. 2 (plus 1 and 2 for the convergence claim).
FIG2_ITERATIONS = (1, 2, 3, 5, 7, 10, 20, 40, 100)
#: AT strategies in the papers' row order (Tables 4-6).
AT_ORDER = ("PGD3-AT", "SegPGD3-AT", "CosPGD3-AT", "RP-PGD3-AT", "PGD7-AT", "SegPGD7-AT", "CosPGD7-AT",
            "RP-PGD7-AT")
_ALL = ["true", "boundary", "false"]
_NO_PROTO = {"rp_beta": 1.0}
#: label -> RP-PGD parameters. Tables 1-2 without a prototype term set ``rp_beta = 1``; the
#: prototype-only rows set ``regions = []`` (L_R = 0), as the paper's Table 3 equals Table 1 group 5.
ABLATIONS: dict[str, dict] = {
    "T": {**_NO_PROTO, "regions": ["true"]},
    "T+B": {**_NO_PROTO, "regions": ["true", "boundary"]},
    "T+F": {**_NO_PROTO, "regions": ["true", "false"]},
    "T+B+F": dict(_NO_PROTO),
    "Proto (T)": {"regions": []},
    "T+B+F+Proto": {},
    "fixed 0.4/0.3/0.3": {**_NO_PROTO, "schedule": "constant", "lambdas": [0.4, 0.3, 0.3]},
    "fixed 0.4/0.4/0.2": {**_NO_PROTO, "schedule": "constant", "lambdas": [0.4, 0.4, 0.2]},
    "fixed 0.6/0.2/0.2": {**_NO_PROTO, "schedule": "constant", "lambdas": [0.6, 0.2, 0.2]},
    "fixed 0.2/0.6/0.2": {**_NO_PROTO, "schedule": "constant", "lambdas": [0.2, 0.6, 0.2]},
    "Proto (T+B)": {"regions": [], "prototype_regions": ["true", "boundary"]},
    "Proto (T+F)": {"regions": [], "prototype_regions": ["true", "false"]},
    "Proto (T+B+F)": {"regions": [], "prototype_regions": _ALL},
    "T+B+F+Proto, prototype_grad=False": {"prototype_grad": False},
}
#: Table 1 groups (paper numbering), Table 2 rows (Eq. 4 last), Table 3 rows, prototype_grad rows.
TABLE1 = ("T", "T+B", "T+F", "T+B+F", "Proto (T)", "T+B+F+Proto")
TABLE2 = ("fixed 0.4/0.3/0.3", "fixed 0.4/0.4/0.2", "fixed 0.6/0.2/0.2", "fixed 0.2/0.6/0.2", "T+B+F")
TABLE3 = ("Proto (T)", "Proto (T+B)", "Proto (T+F)", "Proto (T+B+F)")
PROTO_GRAD = ("T+B+F+Proto", "T+B+F+Proto, prototype_grad=False", "T+B+F")


def n_images(profile) -> int:
    """Images attacked per cell: ``profile.n_images``, at most ``profile.rp_images``."""
    cap = profile.rp_images
    return profile.n_images if cap is None else min(profile.n_images, cap)


def seeds(profile) -> tuple[int, ...]:
    """The first ``profile.rp_seeds`` seeds of the profile (all when ``None``)."""
    cap = profile.rp_seeds
    return tuple(profile.seeds if cap is None else profile.seeds[:cap])


def whitebox_steps(profile) -> int:
    """Length of the Fig. 2 run (and of Table 6's attacks): ``profile.rp_whitebox_steps``, at most the paper's 100."""
    return min(profile.rp_whitebox_steps, 100)


def ablation_steps(profile) -> int:
    """Iterations of the Tables 1-3 ablations: ``profile.rp_ablation_steps``, at most the paper's 100."""
    return min(profile.rp_ablation_steps, 100)


def snapshots(profile) -> tuple[int, ...]:
    """Fig. 2's iterations up to :func:`whitebox_steps`, and that last one."""
    t = whitebox_steps(profile)
    return tuple(sorted({s for s in FIG2_ITERATIONS if s <= t} | {t}))


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


def ablation_methods() -> list[MethodSpec]:
    """One ``rp_pgd`` :class:`MethodSpec` per :data:`ABLATIONS` row (labelled)."""
    return [MethodSpec("rp_pgd", params, label=label) for label, params in ABLATIONS.items()]


def _spec(profile, grid: str, sources, targets, methods, steps: int, snaps) -> GridSpec:
    return GridSpec(study=NAME, preset=profile.presets[0], sources=tuple(sources), targets=tuple(targets),
                    methods=methods, grid=grid, eps=(profile.paper_eps,), alpha=profile.alpha, steps=steps,
                    snapshots=snaps, seeds=seeds(profile), n_images=n_images(profile),
                    batch_size=profile.batch_size)


def grids(profile) -> list[GridSpec]:
    """Fig. 2 (white-box only: no other targets), the ablations and Table 6."""
    wb = _spec(profile, "whitebox", whitebox_sources(profile), (), FIG2_METHODS, whitebox_steps(profile),
               snapshots(profile))
    t = ablation_steps(profile)
    ab = _spec(profile, "ablation", ablation_sources(profile), (), ablation_methods(), t, (t,))
    ab = dataclasses.replace(ab, seeds=ab.seeds[:profile.rp_ablation_seeds])
    t6 = whitebox_steps(profile)
    bb = _spec(profile, "blackbox", (surrogate(profile),), blackbox_targets(profile), ("segpgd", "rp_pgd"), t6, (t6,))
    return [wb, ab, bb]


def battery(profile, image_shape=(3, 96, 96), full: bool = True):
    """The AT battery of ``segrepro.run.battery`` with the profile's ``rp_battery_*`` step counts.

    ``full=False`` keeps Clean and PGD only (the other architectures' AT models: the issue's targets).
    """
    pgd = profile.rp_battery_pgd_steps
    if not full:
        items = default_battery(pgd_steps=pgd, strong_steps=(), bim_steps=0, image_shape=image_shape)
        return [i for i in items if i.name in ("Clean", "PGD")]
    return default_battery(pgd_steps=pgd, strong_steps=profile.rp_battery_strong_steps,
                           bim_steps=profile.rp_battery_bim_steps, image_shape=image_shape)


def battery_models(profile) -> dict[str, bool]:
    """Model -> full battery? The AT architecture and its variants get the full one (Table 4); every
    other architecture with an AT model gets Clean and PGD on its clean and AT models (Table 5, issue 5)."""
    arch = at_arch(profile)
    out = {m: True for m in (arch, *at_variants(profile))}
    for name in profile.at_models:
        other = parse_name(name)[0]
        if other != arch:
            out.setdefault(other, False)
            out.setdefault(name, False)
    return out
