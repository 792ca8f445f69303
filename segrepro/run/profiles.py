"""Run profiles: how big a study run is (``smoke``, ``embedded``, ``paper``).

A profile is a frozen dataclass; every field can be overridden, either in Python
(``get_profile("embedded", steps=50)``) or from the command line (``--set steps=50``, parsed by
:func:`parse_override`). Studies (``segrepro.studies``) read a profile and build their
grids from it, so one profile drives every notebook and the CLI. Every scale knob is a field, the
per-study budgets included (``transfer_*``, ``comparison_*``, ``rp_*``), so ``--set`` reaches all of them.

Example:
    >>> p = get_profile("smoke", seeds=(0, 1))
    >>> p.seeds
    (0, 1)
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from segrepro.train import release as release_recipes

@dataclass(frozen=True)
class Profile:
    """Everything that sets the scale of a study run.

    Attributes:
        name: Profile name; results go to ``results_dir(name)``.
        presets: Datasets: synthetic presets (``shapes``, ``street``) or real ones (``voc``, ``cityscapes``).
        data_root: Root folder of the real dataset in ``presets`` (``voc``: the folder holding
            ``VOCdevkit``; ``cityscapes``: the folder holding ``leftImg8bit`` and ``gtFine``); unused by
            synthetic presets. One real dataset per run (its models are named in ``checkpoints``).
        image_size: Synthetic presets: image side in pixels (``None``: the preset's default). Real
            datasets: the evaluation preprocessing of ``segrepro.data`` (VOC: shorter side to S, centre
            S x S crop; Cityscapes: resize to S x 2S); the papers evaluate at 512.
        models: Clean models to train (or load, ``paper``) per preset (names of ``segrepro.models.available``;
            an adversarially trained one is written ``"<arch>@<ATTACK><T>-AT"``, see ``segrepro.run.zoo``).
        at_models: Adversarially trained models, e.g. ``"psp_r18@PGD3-AT"`` (fine-tuned from the clean one;
            prepared on the first preset only, see ``Zoo.names_for``).
        sources: Models the adversarial examples are made on.
        targets: Models they are evaluated on (each source is also evaluated on itself: white-box).
        baselines: Prior attacks the transfer studies compare the papers' methods with (names of
            ``segrepro.attacks``): TranSegPGD's grid runs each, and combines TranSegPGD with the ones that
            are only a gradient or input transform (MI, DI, TI).
        method_params: Extra keyword parameters per method name, e.g. ``{"ds": {"lam": 0.5}}``.
        eps: L-inf budgets (the papers use 0.03; 0.06 is added because synthetic models are robust).
        alpha: Step size (0.01, DS and RP-PGD papers).
        steps: Iterations of the main grid.
        snapshots: Iterations at which examples are evaluated (one run to ``max(snapshots)``).
        long_steps: Iterations of the long run (DS Fig. 4: FS from the VGG source); studies decide where to use it.
        n_images: Validation images attacked per cell.
        seeds: Attack seeds (random start, DS scales, ...); the 95 % intervals are over these.
        batch_size: Attack and evaluation batch size.
        train: Overrides of ``segrepro.train.TrainConfig`` for the clean zoo.
        at_train: Overrides of ``TrainConfig`` for adversarial fine-tuning (``epochs``, ``at_steps``, ...).
        classifier_train: ``segrepro.train.ClassifierConfig`` fields of the DS Sec. 4 classifiers.
        checkpoints: Model name -> model spec; a model with a spec is loaded, never trained, and on a
            real dataset every model needs one. Specs (see ``segrepro.models.sources.parse_spec``):
            ``"zoo:<path>"`` or a bare path (a ``segrepro.models.save_checkpoint`` file),
            ``"tv:<arch>"`` / ``"tv:<arch>=<weights.pth>"`` (``segrepro.models.torchvision``; without
            weights the model is randomly initialised), ``"mmseg:<config.py>=<checkpoint.pth>"``
            (``segrepro.models.mmseg``; the config may be a file or a bundled config name).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:K"``, ``"auto"`` or ``None`` (CUDA when available);
            resolved by ``segrepro.devices.resolve_device`` (CUDA where none exists is an error).
        amp: Autocast during attacks and evaluation (CUDA only).
        channels_last: Models in the channels_last memory format (faster convolutions on recent GPUs).
        threads: ``torch.set_num_threads`` for CPU runs (``0``: leave torch's default).
        ds_images: Images per cell in every grid of the DS study (``None``: ``n_images``); the side grids
            (long run, lambda, scales, AT targets) attack the same first images as the transfer grid.
        ds_snapshots: Iterations the DS transfer grid evaluates (``None``: ``snapshots``); the overfitting
            claims' reference iteration 5 and ``steps`` are always added.
        ds_lambdas: DS scale ratios of Fig. 8. Ratio 0 (DS without scaling is FS, bit for bit) and the
            DS default ratio are read from the transfer grid; the lambda grid runs the others.
        ds_second_eps: Also attack from the VGG and PSP sources of the first preset at the larger budgets
            ``eps[1:]`` (second-scale evidence for the DS claims judged at ``eps[0]``).
        ds_cls_images: Images of the DS Sec. 4 classifier study (BIM is deterministic: one cell per source).
        ds_cls_steps: BIM iterations of that study (the paper: overfitting beyond about 20, e.g. 100).
        transfer_sources: Sources of the TranSegPGD, SegTrans and comparison transfer grids: the first
            this many of ``sources``.
        transfer_images: At most this many images per cell in those grids (``None``: ``n_images``).
        comparison_seeds: Seeds of the comparison's own random methods: the first this many of
            ``seeds`` (``None``: all); its paired claims pair that seed with each seed of the others.
        rp_images: At most this many images per cell in the RP-PGD study (``None``: ``n_images``).
        rp_seeds: Seeds of the RP-PGD study: the first this many of ``seeds`` (``None``: all).
        rp_whitebox_steps: Length of RP-PGD's Fig. 2 run and of its Table 6 attacks (at most 100, the paper's).
        rp_ablation_steps: Iterations of RP-PGD's Tables 1-3 ablations (at most 100, the paper's).
        rp_ablation_seeds: Seeds of those ablations, the first this many of the study's (``None``: all).
        rp_ablation_at: Also run the ablations on the PGD3-AT model (the paper's PSPNet-AT column).
        rp_battery_pgd_steps: PGD step counts of the AT battery (RP-PGD Tables 4-5; one run to the largest).
        rp_battery_strong_steps: Step counts of the battery's SegPGD, CosPGD, RP-PGD and CW.
        rp_battery_bim_steps: Steps of the battery's L2 BIM (0: leave it out).
    """

    name: str
    presets: tuple[str, ...] = ("shapes", "street")
    data_root: str | None = None
    image_size: int | None = 96
    models: tuple[str, ...] = ("fcn8s_vgg16", "psp_r18", "dlv3_r18")
    at_models: tuple[str, ...] = ()
    sources: tuple[str, ...] = ("fcn8s_vgg16", "psp_r18", "dlv3_r18")
    targets: tuple[str, ...] = ("fcn8s_vgg16", "psp_r18", "dlv3_r18")
    baselines: tuple[str, ...] = ("pgd", "segpgd", "cospgd", "mi", "di", "ti")
    method_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    eps: tuple[float, ...] = (0.03,)
    alpha: float = 0.01
    steps: int = 10
    snapshots: tuple[int, ...] = (10,)
    long_steps: int = 10
    n_images: int = 32
    seeds: tuple[int, ...] = (0,)
    batch_size: int = 16
    train: Mapping[str, Any] = field(default_factory=dict)
    at_train: Mapping[str, Any] = field(default_factory=dict)
    classifier_train: Mapping[str, Any] = field(default_factory=dict)
    checkpoints: Mapping[str, str] = field(default_factory=dict)
    device: str | None = None
    amp: bool = False
    channels_last: bool = False
    threads: int = 0
    # per-study budgets (defaults: the papers' settings, no cap)
    ds_images: int | None = None
    ds_snapshots: tuple[int, ...] | None = None
    ds_lambdas: tuple[float, ...] = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9)
    ds_second_eps: bool = True
    ds_cls_images: int = 256
    ds_cls_steps: int = 100
    transfer_sources: int = 2
    transfer_images: int | None = None
    comparison_seeds: int | None = None
    rp_images: int | None = None
    rp_seeds: int | None = None
    rp_whitebox_steps: int = 100
    rp_ablation_steps: int = 100
    rp_ablation_seeds: int | None = None
    rp_ablation_at: bool = True
    rp_battery_pgd_steps: tuple[int, ...] = (10, 20, 40, 100)
    rp_battery_strong_steps: tuple[int, ...] = (20, 100)
    rp_battery_bim_steps: int = 10

    def with_overrides(self, **overrides: Any) -> "Profile":
        """Return a copy with some fields replaced; unknown fields raise ``ValueError``."""
        _check_fields(overrides)
        return dataclasses.replace(self, **{k: _normalise(k, v) for k, v in overrides.items()})

    @property
    def side_eps(self) -> float:
        """The budget of the studies' side grids and transfer comparisons: the largest of ``eps``.

        At embedded scale 0.03 leaves our synthetic-data models too much mIoU for ablations to show
        anything; at paper scale ``eps`` holds only the papers' 0.03."""
        return float(max(self.eps))

    @property
    def paper_eps(self) -> float:
        """The papers' budget: the first of ``eps`` (0.03 in every built-in profile)."""
        return float(self.eps[0])

    def to_dict(self) -> dict:
        """Plain dict (JSON-serialisable) of every field, e.g. to show in a notebook."""
        return json.loads(json.dumps(dataclasses.asdict(self), default=list))


_SMOKE = Profile(
    name="smoke", presets=("shapes",), image_size=64,
    models=("fcn8s_vgg16", "psp_r18"), at_models=("psp_r18@PGD3-AT",),
    sources=("fcn8s_vgg16", "psp_r18"), targets=("fcn8s_vgg16", "psp_r18"),
    eps=(0.03,), steps=4, snapshots=(2, 4), long_steps=6,
    n_images=8, seeds=(0,), batch_size=8,
    ds_cls_images=16, ds_cls_steps=6,
    train={"epochs": 2, "train_length": 512, "val_length": 64, "width": 8},
    at_train={"epochs": 1, "train_length": 128},
    classifier_train={"width": 4, "epochs": 1, "train_length": 512, "val_length": 64}, threads=1,
    rp_images=4, rp_seeds=1, rp_whitebox_steps=4, rp_ablation_steps=3, rp_ablation_at=False,
    rp_battery_pgd_steps=(2, 4), rp_battery_strong_steps=(2,), rp_battery_bim_steps=2,
)

# The embedded models are the released ones (segrepro/weights, ``segrepro train --release``): the
# profile names their recipes, so ``get_model`` loads them and the main job trains nothing.
_EMBEDDED = Profile(
    name="embedded", presets=("shapes", "street"), image_size=96,
    models=("fcn8s_vgg16", "psp_r18", "dlv3_r18"),
    at_models=("psp_r18@PGD3-AT", "dlv3_r18@PGD3-AT", "fcn8s_vgg16@PGD3-AT",
               "psp_r18@SegPGD3-AT", "psp_r18@CosPGD3-AT", "psp_r18@RP-PGD3-AT", "psp_r18@SegPGD7-AT"),
    sources=("fcn8s_vgg16", "psp_r18", "dlv3_r18"),
    targets=("fcn8s_vgg16", "psp_r18", "dlv3_r18"),
    eps=(0.03, 0.06), steps=20, snapshots=(1, 2, 5, 10, 20), long_steps=50,
    n_images=16, seeds=(0, 1), batch_size=16,
    train={k: v for k, v in release_recipes.CLEAN_RECIPE.items() if k != "size"},
    at_train=dict(release_recipes.AT_RECIPE),
    classifier_train={k: v for k, v in release_recipes.CLASSIFIER_RECIPE.items() if k != "size"},
    threads=0,  # both cores go to one process (torch's default)
    # DS (about 9 of the 2-core minutes, see segrepro.studies.dynamic_scaling.grids): 64 images per cell,
    # four snapshots, lambda 0.3 left out, the classifier study on 256 images for 50 iterations
    ds_images=64, ds_snapshots=(2, 5, 10, 20), ds_lambdas=(0.0, 0.1, 0.5, 0.7, 0.9), ds_cls_steps=50,
    # the 2-core budget: both transfer studies in about 8 of the 40 minutes; RP-PGD's AT battery and 14
    # ablation variants at reduced step counts; the comparison's own random methods on one seed
    transfer_images=16, comparison_seeds=1,
    rp_images=16, rp_seeds=2, rp_whitebox_steps=20, rp_ablation_steps=10, rp_ablation_seeds=1,
    rp_ablation_at=False, rp_battery_pgd_steps=(10, 20), rp_battery_strong_steps=(10,), rp_battery_bim_steps=5,
)

# The papers' settings (spec/methods.md): L-inf eps 0.03 and step 0.01 (DS, RP-PGD), 1000 iterations
# (DS) with snapshots for the curves (DS Figs 3-5, 7), 10 000 for the long VGG run (DS Fig 4), the
# whole VOC 2012 val split (1449 images; Cityscapes val: --set presets=cityscapes --set n_images=500)
# at 512 px (mmseg's test resize), three seeds, CUDA with autocast and channels_last. Every model is
# loaded from ``checkpoints`` (the user's files, given with --set): none is trained.
_PAPER = Profile(
    name="paper", presets=("voc",), data_root=None, image_size=512,
    models=(), at_models=(),
    sources=("fcn8s_vgg16", "psp_r50", "dlv3_r50"),
    targets=("fcn8s_vgg16", "fcn16s_vgg16", "psp_r50", "psp_r101", "dlv3_r50", "dlv3_r101"),
    eps=(0.03,), alpha=0.01, steps=1000,
    snapshots=(1, 5, 10, 20, 50, 100, 200, 500, 1000),
    long_steps=10000, n_images=1449, seeds=(0, 1, 2), batch_size=8,
    checkpoints={}, device="cuda", amp=True, channels_last=True,
)

PROFILES: dict[str, Profile] = {p.name: p for p in (_SMOKE, _EMBEDDED, _PAPER)}


def available() -> list[str]:
    """Names of the built-in profiles."""
    return sorted(PROFILES)


def get_profile(name: str | Profile, **overrides: Any) -> Profile:
    """Return a built-in profile with some fields overridden.

    Args:
        name: ``"smoke"``, ``"embedded"`` or ``"paper"`` (or a :class:`Profile`, returned with overrides).
        **overrides: Field values to replace, e.g. ``steps=50, seeds=(0, 1, 2)``.

    Returns:
        A new :class:`Profile`.

    Raises:
        ValueError: Unknown profile name or field (the message lists the valid ones).
    """
    if isinstance(name, Profile):
        return name.with_overrides(**overrides)
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; valid profiles: {', '.join(available())}")
    return PROFILES[name].with_overrides(**overrides)


def field_names() -> list[str]:
    """Names of the overridable profile fields."""
    return [f.name for f in dataclasses.fields(Profile)]


def parse_override(text: str, base: Profile | None = None) -> tuple[str, Any]:
    """Parse one ``field=value`` command-line override into a typed ``(field, value)`` pair.

    Values are parsed as JSON when possible (``steps=50``, ``train={"epochs":3}``, ``seeds=[0,1]``);
    a comma-separated list fills a tuple field (``eps=0.03,0.06``); ``none`` means ``None``.

    Raises:
        ValueError: Missing ``=``, unknown field, or a value of the wrong type for the field.
    """
    if "=" not in text:
        raise ValueError(f"override {text!r} is not of the form field=value")
    key, raw = (s.strip() for s in text.split("=", 1))
    _check_fields({key: None})
    base = base or PROFILES["smoke"]
    current = getattr(base, key)
    kind = _kind(key)
    if raw.lower() in ("none", "null"):
        return key, None
    if kind is tuple and not raw.startswith("["):
        items = [s for s in raw.split(",") if s != ""]
        value: Any = [_scalar(s) for s in items]
    else:
        value = _scalar(raw)
    if kind is bool and isinstance(value, str):
        if value.lower() not in ("true", "false", "yes", "no", "1", "0"):
            raise ValueError(f"{key} expects true/false, got {raw!r}")
        value = value.lower() in ("true", "yes", "1")
    if kind is tuple and not isinstance(value, (list, tuple)):
        value = [value]
    expected = {tuple: (list, tuple), dict: dict, int: int, float: (int, float), bool: bool, str: str}[kind]
    if kind is int and isinstance(value, bool) or not isinstance(value, expected):
        raise ValueError(f"{key} expects a {kind.__name__} (now {current!r}), got {raw!r}")
    return key, _normalise(key, value)


def _kind(key: str) -> type:
    """The Python type a field holds, read from its annotation string."""
    ann = str(next(f.type for f in dataclasses.fields(Profile) if f.name == key))
    for token, kind in (("tuple", tuple), ("Mapping", dict), ("bool", bool), ("float", float),
                        ("int", int), ("str", str)):
        if ann.startswith(token):
            return kind
    return str


def _scalar(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _check_fields(overrides: Mapping[str, Any]) -> None:
    unknown = sorted(set(overrides) - set(field_names()))
    if unknown:
        raise ValueError(f"unknown profile field(s) {', '.join(unknown)}; valid fields: {', '.join(field_names())}")


def _normalise(key: str, value: Any) -> Any:
    """Lists become tuples (profiles stay hashable-ish and comparable); eps values become floats."""
    if _kind(key) is tuple and isinstance(value, (list, tuple)):
        value = tuple(float(v) for v in value) if key == "eps" else tuple(value)
    return value
