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
``at_battery``     (extra) Tables 4-5: ``segrepro.train.robustness`` battery on the clean and AT models.
``false_region``   (extra) Sec. "Region-Based Attack": how many clean-mispredicted pixels PGD restores.
=================  ========================================================================================

Choices at our scale **[ours]**:

- Snapshots of one run: SegPGD and RP-PGD schedule their weights over ``T`` (Eq. 4), so their
  t-th iterate of a T-step run is not a t-step run; the paper does not say which it plots.
- Table 6 swaps the roles: the paper's surrogate is a PGD3-AT PSPNet and its targets DeepLabv3 AT
  models; the profile trains all four AT variants for one architecture (``psp_r18``), so the
  surrogate is the PGD3-AT model of another architecture (``dlv3_r18``) and the targets are the
  ``psp_r18`` variants.
- :data:`SCALES` caps images, seeds and step counts per profile (the AT fine-tunes and the 2-core
  budget of ``embedded``); an unlisted profile runs the paper's settings.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from segrepro.experiments.grid import GridSpec, MethodSpec
from segrepro.experiments.studies import Study
from segrepro.experiments.zoo import parse_name

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


@dataclass(frozen=True)
class Scale:
    """Caps of the study at one profile (``None``: no cap).

    Attributes:
        images: images attacked per cell. seeds: how many of the profile's seeds.
        whitebox_steps: length of the Fig. 2 run (<= 100) and of the Table 6 attacks.
        ablation_steps: iterations of the Tables 1-3 ablations (100 in the paper).
        pgd_steps, strong_steps, bim_steps: step counts of the AT battery (``default_battery``).
        ablation_at: also run the ablations on the PGD3-AT model (the paper's PSPNet-AT column).
        ablation_seeds: cap on the ablations' seeds (their 14 variants are the study's largest grid).
    """

    images: int | None = None
    seeds: int | None = None
    whitebox_steps: int = 100
    ablation_steps: int = 100
    pgd_steps: tuple[int, ...] = (10, 20, 40, 100)
    strong_steps: tuple[int, ...] = (20, 100)
    bim_steps: int = 10
    ablation_at: bool = True
    ablation_seeds: int | None = None


#: Per profile name; a profile not listed (``paper``, or a custom one) gets ``Scale()``: the paper's settings.
SCALES: dict[str, Scale] = {
    "smoke": Scale(images=4, seeds=1, whitebox_steps=4, ablation_steps=3, pgd_steps=(2, 4), strong_steps=(2,),
                   bim_steps=2, ablation_at=False),
    "embedded": Scale(images=16, seeds=2, whitebox_steps=20, ablation_steps=10, pgd_steps=(10, 20),
                      strong_steps=(10,), bim_steps=5, ablation_at=False, ablation_seeds=1),
}


def scale(profile) -> Scale:
    """The :class:`Scale` of a profile (by name; unlisted profiles run the paper's settings)."""
    return SCALES.get(profile.name, Scale())


def study_eps(profile) -> float:
    """The paper's budget: the profile's first eps (0.03 in every built-in profile)."""
    return float(profile.eps[0])


def n_images(profile) -> int:
    """Images attacked per cell: ``profile.n_images`` under the scale's cap."""
    cap = scale(profile).images
    return profile.n_images if cap is None else min(profile.n_images, cap)


def seeds(profile) -> tuple[int, ...]:
    """The first seeds of the profile, as many as the scale allows."""
    cap = scale(profile).seeds
    return tuple(profile.seeds if cap is None else profile.seeds[:cap])


def whitebox_steps(profile) -> int:
    """Length of the Fig. 2 run (and of Table 6's attacks): the scale's cap, at most the paper's 100."""
    return min(scale(profile).whitebox_steps, 100)


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
    """The ablations' models: the clean AT architecture (plus its PGD3-AT model when the scale allows)."""
    src = whitebox_sources(profile)
    return src if scale(profile).ablation_at else src[:1]


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
                    methods=methods, grid=grid, eps=(study_eps(profile),), alpha=profile.alpha, steps=steps,
                    snapshots=snaps, seeds=seeds(profile), n_images=n_images(profile),
                    batch_size=profile.batch_size)


def grids(profile) -> list[GridSpec]:
    """Fig. 2 (white-box only: no other targets), the ablations and Table 6."""
    wb = _spec(profile, "whitebox", whitebox_sources(profile), (), FIG2_METHODS, whitebox_steps(profile),
               snapshots(profile))
    t = min(scale(profile).ablation_steps, 100)
    ab = _spec(profile, "ablation", ablation_sources(profile), (), ablation_methods(), t, (t,))
    ab = dataclasses.replace(ab, seeds=ab.seeds[:scale(profile).ablation_seeds])
    t6 = whitebox_steps(profile)
    bb = _spec(profile, "blackbox", (surrogate(profile),), blackbox_targets(profile), ("segpgd", "rp_pgd"), t6, (t6,))
    return [wb, ab, bb]


def battery(profile, image_shape=(3, 96, 96), full: bool = True):
    """The AT battery of ``segrepro.train.robustness`` with this scale's step counts.

    ``full=False`` keeps Clean and PGD only (the other architectures' AT models: the issue's targets).
    """
    from segrepro.train.robustness import default_battery

    sc = scale(profile)
    if not full:
        items = default_battery(pgd_steps=sc.pgd_steps, strong_steps=(), bim_steps=0, image_shape=image_shape)
        return [i for i in items if i.name in ("Clean", "PGD")]
    return default_battery(pgd_steps=sc.pgd_steps, strong_steps=sc.strong_steps, bim_steps=sc.bim_steps,
                           image_shape=image_shape)


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


def extra(profile, zoo, store, progress: bool = True) -> None:
    """The non-grid steps (:mod:`~segrepro.experiments.studies.rp_pgd_extra`): the AT battery and the False region."""
    from segrepro.experiments.studies import rp_pgd_extra

    rp_pgd_extra.run_battery(profile, zoo, store, progress)
    rp_pgd_extra.run_false_region(profile, zoo, store, progress)


STUDY = Study(name=NAME, title="RP-PGD: white-box strength vs iterations, ablations, AT robustness, black-box",
              grids=grids, extra=extra, notebook="04_rp_pgd")
