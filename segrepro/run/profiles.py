"""Run profiles: how big a study run is (``smoke``, ``embedded``, ``paper``).

A profile is a frozen dataclass; every field can be overridden, either in Python
(``get_profile("embedded", steps=50)``) or from the command line (``--set steps=50``, parsed by
:func:`parse_override`). Studies (``segrepro.studies``) read a profile and build their
grids from it, so one profile drives every notebook and the CLI. Every scale knob is a field, the
per-study budgets included (``transfer_*``, ``comparison_*``, ``rp_*``), so ``--set`` reaches all of them.

Every profile is checked when it is made (``Profile.__post_init__``, so also ``with_overrides`` and
``dataclasses.replace``): each field's type and range, the names it holds (presets, model name syntax,
attack methods and their parameters, ``TrainConfig`` fields, checkpoint specs, the device) and the fields
that depend on each other (``snapshots`` within ``steps``). A bad value raises ``ValueError`` naming the
field, before any model is trained. Whether the zoo can train or load every named model is
:func:`check_models`, run before a run prepares its models. A scalar where a list is meant becomes a 1-tuple
(``eps=0.06`` -> ``(0.06,)``, papermill's ``-y '{"overrides": {"seeds": 3}}'``); lists become tuples;
a string given for a field that is not a string is read as ``--set`` reads it (``eps="0.03,0.06"``).

Example:
    >>> p = get_profile("smoke", seeds=(0, 1))
    >>> p.seeds
    (0, 1)
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import math
import numbers
import os
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
        snapshots: Iterations at which examples are evaluated (one run to ``max(snapshots)``), within 1..``steps``.
        long_steps: Iterations of the long run (DS Fig. 4: FS from the VGG source); studies decide where to use it.
        n_images: Validation images attacked per cell.
        seeds: Attack seeds (random start, DS scales, ...); the 95 % intervals are over these. Each once:
            a tuple field never lists a value twice.
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
        ds_long_images: Images of the DS long run (Figs 4, 7; ``None``: as ``ds_images``): the VGG source's
            overfitting readings (FS and DS) are judged on it, and one source at ``long_steps`` is cheap
            enough for more images.
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
        transfer_images: Images per cell in those grids (``None``: ``n_images``); their claims want >= 64.
        transfer_snapshots: Snapshots of the TranSegPGD and SegTrans transfer grids (``None``: ``snapshots``);
            ``ceil(steps/2)`` and ``steps`` are always added (end of stage 1; SegTrans at half the cost).
        transfer_random_start: The start policy shared by TranSegPGD, SegTrans and every baseline they are
            judged against: ``False`` none starts at random (PGD becomes BIM; SegPGD and CosPGD run with
            ``random_start=False``), ``True`` all do.
        transfer_second_sources: Sources of the second-eps reading of both studies (the largest ``eps``
            other than the papers' first one): the last this many transfer sources (``0``: no second reading).
        transfer_weights: TranSegPGD's ``gamma`` and ``beta`` values of the ablation (0.5 = a stage of plain
            cross-entropy, which the stage claims read, is always included).
        transfer_ablation_seeds: Seeds of the random methods of the ablation grids (SegTrans grid sizes, the
            zoom run): the first this many of ``seeds`` (``None``: all).
        transfer_zoom_k: Grid size k of the ``segtrans_zoom`` run, which attacks for ``k^2 * steps``
            iterations (as many updates per pixel as BIM in ``steps``; ``0``: no zoom run).
        comparison_seeds: Seeds of the comparison's own random methods: the first this many of
            ``seeds`` (``None``: all); its paired claims pair that seed with each seed of the others.
        rp_images: Images per cell in the RP-PGD study (``None``: ``n_images``); its claims want >= 64.
        rp_seeds: Seeds of the RP-PGD study's random methods (PGD, SegPGD, CosPGD, RP-PGD: random start):
            the first this many of ``seeds`` (``None``: all); deterministic attacks (L2 BIM, CW without
            random start) run the first seed only.
        rp_whitebox_steps: Length of RP-PGD's Fig. 2 runs of SegPGD, CosPGD, RP-PGD and of its Table 6
            attacks (at most 100, the paper's); Fig. 2's PGD is read from the battery's PGD run.
        rp_ablation_steps: Iterations of RP-PGD's Tables 1-3 ablations (at most 100, the paper's).
        rp_ablation_images: Images per cell of those ablations (``None``: as ``rp_images``); at a few
            iterations they are cheap, and their small differences want more images.
        rp_ablation_seeds: Seeds of those ablations, the first this many of the study's (``None``: all).
        rp_ablation_at: Also run the ablations on the PGD3-AT model (the paper's PSPNet-AT column).
        rp_battery_pgd_steps: PGD step counts of the AT battery (RP-PGD Tables 4-5; one run to the largest,
            on every AT model and its clean model: also the project's PGD-20 target).
        rp_battery_cw_steps: Steps of the battery's CW-margin attack (0: leave it out).
        rp_battery_bim_steps: Steps of the battery's L2 BIM (0: leave it out).
        rp_battery_images: Images per battery cell of the AT architecture's AT variants (Table 4; ``None``: as
            ``rp_images``): the gaps between AT strategies are fractions of a point and want more images; the
            claims pair them with the 64-image cells over the images both cover.
        rp_other_archs: Run the battery's PGD on the other architectures' clean and PGD3-AT models too
            (Table 5's DeepLabv3, the VGG model: the project's AT targets).
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
    ds_long_images: int | None = None
    ds_snapshots: tuple[int, ...] | None = None
    ds_lambdas: tuple[float, ...] = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9)
    ds_second_eps: bool = True
    ds_cls_images: int = 256
    ds_cls_steps: int = 100
    transfer_sources: int = 2
    transfer_images: int | None = None
    transfer_snapshots: tuple[int, ...] | None = None
    transfer_random_start: bool = False
    transfer_second_sources: int = 1
    transfer_weights: tuple[float, ...] = (0.0, 0.3, 0.5)
    transfer_ablation_seeds: int | None = None
    transfer_zoom_k: int = 2
    comparison_seeds: int | None = None
    rp_images: int | None = None
    rp_seeds: int | None = None
    rp_whitebox_steps: int = 100
    rp_ablation_steps: int = 100
    rp_ablation_images: int | None = None
    rp_ablation_seeds: int | None = None
    rp_ablation_at: bool = True
    rp_battery_pgd_steps: tuple[int, ...] = (10, 20, 40, 100)
    rp_battery_cw_steps: int = 100
    rp_battery_bim_steps: int = 10
    rp_battery_images: int | None = None
    rp_other_archs: bool = True

    def __post_init__(self):
        for f in dataclasses.fields(self):  # types and ranges, one field at a time
            object.__setattr__(self, f.name, _coerce(f.name, getattr(self, f.name)))
        _check_names(self)
        _check_together(self)

    def with_overrides(self, **overrides: Any) -> "Profile":
        """Return a copy with some fields replaced (checked as every profile is).

        Raises:
            ValueError: Unknown field, or a value of the wrong type or out of range (names the field).
        """
        _check_fields(overrides)
        return dataclasses.replace(self, **overrides)

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


# ---- checks run on every profile (Profile.__post_init__) ------------------------------------------------
#: Smallest value of each integer field (``None`` allowed where the annotation says so).
_INT_MIN = {"image_size": 1, "steps": 1, "long_steps": 1, "n_images": 1, "batch_size": 1, "threads": 0,
            "transfer_sources": 1, "transfer_images": 1, "comparison_seeds": 1, "rp_images": 1, "rp_seeds": 1,
            "rp_whitebox_steps": 1, "rp_ablation_steps": 1, "rp_ablation_seeds": 1, "rp_battery_bim_steps": 0,
            "rp_battery_cw_steps": 0, "transfer_second_sources": 0, "transfer_ablation_seeds": 1,
            "transfer_zoom_k": 0, "ds_images": 1, "ds_cls_images": 1, "ds_cls_steps": 1, "ds_long_images": 1,
            "rp_ablation_images": 1, "rp_battery_images": 1}
#: Smallest value of the items of each tuple-of-integers field.
_INTS_MIN = {"snapshots": 1, "seeds": 0, "rp_battery_pgd_steps": 1, "transfer_snapshots": 1, "ds_snapshots": 1}
#: Tuple-of-fractions fields (each item in [0, 1]).
_FRACTIONS = ("transfer_weights", "ds_lambdas")
#: Tuple fields that may be empty (the others need at least one item).
_MAY_BE_EMPTY = ("models", "at_models", "targets", "baselines")
#: ``TrainConfig`` / ``ClassifierConfig`` fields a profile cannot set: the zoo derives them from the model
#: name and ``image_size`` (``segrepro.run.zoo.train_config``), and would silently override them.
_RESERVED = {"train": {"model", "preset", "size", "at_method", "at_steps", "init_from"},
             "at_train": {"model", "preset", "size", "at_method", "at_steps", "init_from"},
             "classifier_train": {"model"}}


def _optional(key: str) -> bool:
    return "None" in str(next(f.type for f in dataclasses.fields(Profile) if f.name == key))


def _coerce(key: str, value: Any) -> Any:
    """``value`` checked against field ``key``'s type and range (lists -> tuples, a scalar -> a 1-tuple).

    Raises:
        ValueError: Wrong type or out of range; the message names the field.
    """
    kind = _kind(key)
    if isinstance(value, str) and kind is not str:  # e.g. eps="0.06" from the API: read as --set eps=0.06 is
        value = _from_text(key, value)
    if value is None:
        if _optional(key):
            return None
        raise ValueError(f"{key} cannot be None (it expects {_expects(key)})")
    if kind is tuple:
        items = tuple(value) if isinstance(value, (list, tuple, range)) else (value,)
        items = tuple(_item(key, v) for v in items)
        if not items and key not in _MAY_BE_EMPTY:
            raise ValueError(f"{key} needs at least one value, got an empty list")
        repeated = sorted({v for v in items if items.count(v) > 1}, key=str)
        if repeated:
            raise ValueError(f"{key} lists {repeated} more than once; give each value once, got {list(items)}")
        return items
    if kind is dict:
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise ValueError(f"{key} expects {_expects(key)}, got {value!r}")
        return value
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{key} expects true or false, got {value!r}")
        return value
    if kind is int:
        return _int(key, value, _INT_MIN[key])
    if kind is float:
        return _positive(key, value)
    if key == "device" and not isinstance(value, str):
        import torch

        value = str(value) if isinstance(value, torch.device) else value
    if key == "data_root" and isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key} expects {_expects(key)}, got {value!r}")
    return value


def _item(key: str, value: Any) -> Any:
    """One item of a tuple field."""
    if key in _INTS_MIN:
        return _int(key, value, _INTS_MIN[key])
    if key in _FRACTIONS:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
            raise ValueError(f"{key} expects numbers in [0, 1], got {value!r}")
        return float(value)
    if key == "eps":
        eps = _positive(key, value)
        if eps > 1:
            raise ValueError(f"eps is an L-inf budget on images in [0, 1]: each must lie in (0, 1], got {value!r}")
        return eps
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key} expects {_expects(key)}, got {value!r}")
    return value


def _int(key: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{key} expects {_expects(key)}, got {value!r}")
    if value < low:
        raise ValueError(f"{key} must be at least {low}, got {value}")
    return int(value)


def _positive(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{key} expects {_expects(key)}, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{key} must be a positive finite number, got {value!r}")
    return float(value)


def _expects(key: str) -> str:
    """What a field holds, in words (for messages)."""
    kind, opt = _kind(key), " or none" if _optional(key) else ""
    if kind is tuple:
        what = {"eps": "numbers in (0, 1]", "snapshots": "integers >= 1", "seeds": "integers >= 0",
                "rp_battery_pgd_steps": "integers >= 1", "transfer_snapshots": "integers >= 1",
                "transfer_weights": "numbers in [0, 1]"}
        return f"a list of {what.get(key, 'names')} (on the command line: {key}=x,y)"
    if kind is dict:
        return "a mapping of names (JSON object, e.g. {\"key\": ...})"
    if kind is int:
        return f"an integer >= {_INT_MIN[key]}{opt}"
    if kind is float:
        return "a positive number"
    return f"a string{opt}"


def _check_names(p: Profile) -> None:
    """The names a profile holds exist: presets, models, attack methods and their parameters, config fields."""
    from segrepro import data
    from segrepro.attacks import available as methods
    from segrepro.attacks import get_method
    from segrepro.devices import _SPEC as DEVICE_SYNTAX  # the forms resolve_device accepts
    from segrepro.models.sources import REAL_DATASETS, parse_spec
    from segrepro.run.names import parse_name
    from segrepro.train import TrainConfig
    from segrepro.train.classifier import ClassifierConfig

    unknown = [x for x in p.presets if x not in data.available()]
    if unknown:
        raise ValueError(f"presets: unknown dataset(s) {unknown}; valid: {', '.join(data.available())}")
    real = [x for x in p.presets if x in REAL_DATASETS]
    if len(real) > 1:
        raise ValueError(f"presets: one real dataset per run (data_root is one folder), got {real}")
    for key in ("models", "at_models", "sources", "targets"):
        for name in getattr(p, key):
            try:
                arch, at_method, _ = parse_name(name)
            except ValueError as err:
                raise ValueError(f"{key}: {err}") from None
            if key == "at_models" and at_method is None:
                raise ValueError(f"at_models: {name!r} is not an adversarially trained model; write "
                                 f"'<arch>@<ATTACK><T>-AT', e.g. '{name}@PGD3-AT' (clean models go in models)")
    for key, names in (("baselines", p.baselines), ("method_params", tuple(p.method_params))):
        for name in names:
            bad = [part for part in name.split("+") if part not in methods()]
            if bad:
                raise ValueError(f"{key}: unknown attack method(s) {bad} in {name!r}; valid methods: "
                                 f"{', '.join(methods())} (compose them with '+', e.g. 'transegpgd+mi')")
            try:
                method = get_method(name)  # e.g. two pixel objectives cannot compose
                params = p.method_params.get(name, {}) if key == "method_params" else {}
                if not isinstance(params, Mapping):
                    raise ValueError(f"expects a mapping of parameter -> value, got {params!r}")
                method.resolve(dict(params))
            except (TypeError, ValueError) as err:
                raise ValueError(f"{key}[{name!r}]: {err}") from None
    configs = {"train": TrainConfig, "at_train": TrainConfig, "classifier_train": ClassifierConfig}
    for key, config in configs.items():
        valid = {f.name for f in dataclasses.fields(config)} - _RESERVED[key]
        bad = sorted(set(getattr(p, key)) - valid)
        if bad:
            raise ValueError(f"{key} has unknown {config.__name__} field(s) {bad}; valid: {sorted(valid)}"
                             + (f" ({sorted(_RESERVED[key] & set(bad))} come from the model name and image_size)"
                                if _RESERVED[key] & set(bad) else ""))
    for name, spec in p.checkpoints.items():
        try:
            parse_spec(spec)
        except (TypeError, ValueError) as err:
            raise ValueError(f"checkpoints[{name!r}]: {err}") from None
    if p.device is not None and not DEVICE_SYNTAX.match(p.device.strip().lower()):
        raise ValueError(f"device: unknown device {p.device!r}; valid: 'auto', 'cpu', 'cuda', 'cuda:<index>', 'mps'")


def check_models(profile: Profile) -> None:
    """Check that the zoo can provide every model the profile names, before any is trained or loaded.

    A model without a spec in ``checkpoints`` is trained, so its architecture must be a zoo model; when
    ``checkpoints`` is given on a synthetic preset, every model needs a spec (the zoo trains none then);
    real datasets need a spec for every model (``Zoo.prepare`` names the missing ones). Not part of the
    checks of every profile: a profile that only reads stored rows may label its models freely.

    Raises:
        ValueError: The first model that cannot be provided, naming its field.
    """
    from segrepro.models import zoo
    from segrepro.models.sources import REAL_DATASETS
    from segrepro.run.names import parse_name

    if any(x in REAL_DATASETS for x in profile.presets):
        return
    for key in ("models", "at_models", "sources", "targets"):
        for name in getattr(profile, key):
            if name in profile.checkpoints:
                continue
            if profile.checkpoints:
                raise ValueError(f"{key}: model {name!r} has no spec in checkpoints (given for "
                                 f"{sorted(profile.checkpoints)}); with checkpoints, every model is loaded, "
                                 "none trained")
            if parse_name(name)[0] not in zoo.available():
                raise ValueError(f"{key}: unknown model {name!r}; zoo models: {', '.join(zoo.available())} "
                                 "(a model with a spec in checkpoints may have any name)")


def _check_together(p: Profile) -> None:
    """Fields that constrain each other."""
    beyond = [t for t in p.snapshots if t > p.steps]
    if beyond:
        raise ValueError(f"snapshots {list(beyond)} go beyond steps={p.steps}: each snapshot is an iteration of the "
                         f"run, so set snapshots within 1..{p.steps} (e.g. --set snapshots="
                         f"{','.join(str(t) for t in p.snapshots if t <= p.steps) or p.steps}) or raise steps")


def _kind(key: str) -> type:
    """The Python type a field holds, read from its annotation string."""
    ann = str(next(f.type for f in dataclasses.fields(Profile) if f.name == key))
    for token, kind in (("tuple", tuple), ("Mapping", dict), ("bool", bool), ("float", float),
                        ("int", int), ("str", str)):
        if ann.startswith(token):
            return kind
    return str


def _check_fields(overrides: Mapping[str, Any]) -> None:
    unknown = sorted(set(overrides) - set(field_names()))
    if unknown:
        near = sorted({m for k in unknown for m in difflib.get_close_matches(k, field_names(), n=2, cutoff=0.6)})
        hint = f" (did you mean {', '.join(near)}?)" if near else ""
        raise ValueError(f"unknown profile field(s) {', '.join(unknown)}{hint}; "
                         f"valid fields: {', '.join(field_names())}")


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
    rp_battery_pgd_steps=(2, 4), rp_battery_cw_steps=2, rp_battery_bim_steps=2,
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
    # DS (about 10 of the 2-core minutes, see segrepro.studies.dynamic_scaling.grids): 64 images per cell
    # (128 in the one-source long run), four snapshots, lambda 0.3 left out, the classifier study on 1024
    # images for 50 iterations (at 256 both classifier claims were inconclusive, wanting 324 and 1024)
    ds_images=64, ds_long_images=128, ds_snapshots=(2, 5, 10, 20), ds_lambdas=(0.0, 0.1, 0.5, 0.7, 0.9),
    ds_cls_images=1024, ds_cls_steps=50,
    # the 2-core budget: both transfer studies in about 8 of the 30 minutes (64 images per cell, the
    # ablations on one seed and gamma/beta 0.5 only); the comparison's own random methods on one seed.
    # RP-PGD: 64 images and 2 seeds per random cell (its claims' floor), at reduced step counts (Fig. 2 and
    # Table 6: 10 of the paper's 100; ablations: 5, on 128 images; battery: PGD 10/20, CW 5, BIM 5, on 256
    # images for the AT variants)
    transfer_images=64, transfer_snapshots=(5, 10, 20), transfer_weights=(0.5,), transfer_ablation_seeds=1,
    comparison_seeds=1,
    rp_images=64, rp_seeds=2, rp_whitebox_steps=10, rp_ablation_steps=5, rp_ablation_images=128, rp_ablation_seeds=None,
    rp_ablation_at=False, rp_battery_pgd_steps=(10, 20), rp_battery_cw_steps=5, rp_battery_bim_steps=5,
    rp_battery_images=256,
)

# The papers' settings (spec/methods.md): L-inf eps 0.03 and step 0.01 (DS, RP-PGD), 1000 iterations
# (DS) with snapshots for the curves (DS Figs 3-5, 7), 10 000 for the long VGG run (DS Fig 4), the
# whole VOC 2012 val split (1449 images; Cityscapes val: --set presets=cityscapes --set n_images=500)
# at 512 px (mmseg's test resize), three seeds, CUDA with autocast and channels_last. Every model is
# loaded from ``checkpoints`` (the user's files, given with --set): none is trained.
#: Adversarially trained models the papers' AT tables need at paper scale (DS Table 3: the PSPNet and
#: DeepLabV3 targets; RP-PGD Tables 4-6: both architectures with 3- and 7-step AT of every strategy).
#: None is published: make each with ``segrepro train --at <clean spec> --attack X --steps T --out F``
#: and name it in ``checkpoints``; drop the ones you do not have with ``--set at_models=...``.
PAPER_AT_MODELS = tuple(f"{arch}@{attack}{steps}-AT" for arch in ("psp_r50", "dlv3_r50") for steps in (3, 7)
                        for attack in ("PGD", "SegPGD", "CosPGD", "RP-PGD"))

_PAPER = Profile(
    name="paper", presets=("voc",), data_root=None, image_size=512,
    models=(), at_models=PAPER_AT_MODELS,
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
    a comma-separated list fills a tuple field (``eps=0.03,0.06``); ``none`` means ``None``;
    ``true``/``false``/``yes``/``no`` fill a flag. The value is then checked as the profile checks it.

    Args:
        text: ``"field=value"``.
        base: Unused; kept for callers that pass the profile being overridden.

    Raises:
        ValueError: Missing ``=``, unknown field, or a value of the wrong type or out of range for the field.
    """
    if "=" not in text:
        raise ValueError(f"override {text!r} is not of the form field=value")
    key, raw = (s.strip() for s in text.split("=", 1))
    _check_fields({key: None})
    return key, _coerce(key, _from_text(key, raw))


def _from_text(key: str, raw: str) -> Any:
    """A command-line value for field ``key``, before its checks (see :func:`parse_override`)."""
    kind = _kind(key)
    if raw.strip().lower() in ("none", "null"):
        return None
    if kind is tuple and not raw.lstrip().startswith("["):
        return [_scalar(s.strip()) for s in raw.split(",") if s.strip() != ""]
    value = _scalar(raw)
    if kind is bool and isinstance(value, str) and value.strip().lower() in _WORDS:
        return _WORDS[value.strip().lower()]
    return value


_WORDS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def _scalar(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw
