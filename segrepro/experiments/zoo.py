"""Which models a profile uses, and where they come from (trained locally, or loaded from checkpoints).

Model names are zoo names (``"psp_r18"``) or adversarially trained variants written
``"<arch>@<ATTACK><T>-AT"`` after the papers' naming (``"psp_r18@PGD3-AT"``, ``"psp_r18@RP-PGD3-AT"``):
fine-tuned from the cached clean model with ``TrainConfig(at_method=..., at_steps=T,
init_from=<clean key>)`` and the profile's ``at_train`` overrides.

A model named in ``profile.checkpoints`` is loaded from its spec instead (:func:`parse_spec`), and on
a real dataset (``voc``, ``cityscapes``: the ``paper`` profile) every model must have one: real-data
models are loaded, never trained. Loaded models are checked against the model contract (logits at
the input size, the dataset's class count) on one evaluation image before any attack runs.

Example:
    >>> zoo = Zoo(get_profile("smoke"))                      # nothing is loaded yet
    >>> model = zoo.model("shapes", "psp_r18")                # doctest: +SKIP  (trains once, then cached)
    >>> images, labels = zoo.data("shapes")                   # doctest: +SKIP  (the profile's n_images val images)
"""
from __future__ import annotations

import dataclasses
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable, Iterator

import pandas as pd
import torch

from segrepro.experiments.profiles import Profile

#: Datasets read from disk (``profile.data_root``); their models come from ``profile.checkpoints``.
REAL_DATASETS = ("voc", "cityscapes")
#: Prefixes of a model spec (see :func:`parse_spec`).
SPEC_KINDS = ("zoo", "tv", "mmseg")

#: Paper names of the training attacks -> ``segrepro.attacks`` method names.
AT_ATTACKS = {"PGD": "pgd", "SegPGD": "segpgd", "CosPGD": "cospgd", "RP-PGD": "rp_pgd"}
_AT_RE = re.compile(r"^(?P<arch>[A-Za-z0-9_]+)@(?P<attack>PGD|SegPGD|CosPGD|RP-PGD)(?P<steps>\d+)-AT$")


def parse_name(name: str) -> tuple[str, str | None, int | None]:
    """Split a model name into ``(architecture, training attack or None, training steps or None)``.

    Raises:
        ValueError: A name with ``@`` that is not ``<arch>@<ATTACK><T>-AT`` (lists the valid attacks).
    """
    if "@" not in name:
        return name, None, None
    m = _AT_RE.match(name)
    if not m:
        raise ValueError(f"adversarially trained model {name!r} must read '<arch>@<ATTACK><T>-AT' with ATTACK "
                         f"in {sorted(AT_ATTACKS)}, e.g. 'psp_r18@PGD3-AT'")
    return m["arch"], AT_ATTACKS[m["attack"]], int(m["steps"])


def train_config(profile: Profile, preset: str, name: str):
    """The ``segrepro.train.TrainConfig`` of a model of the profile.

    Raises:
        ValueError: A ``train``/``at_train`` override names no ``TrainConfig`` field.
    """
    from segrepro.train import TrainConfig

    valid = {f.name for f in dataclasses.fields(TrainConfig)}
    for label, over in (("train", profile.train), ("at_train", profile.at_train)):
        bad = sorted(set(over) - valid)
        if bad:
            raise ValueError(f"profile.{label} has unknown TrainConfig field(s) {bad}; valid: {sorted(valid)}")
    arch, at_method, at_steps = parse_name(name)
    clean = TrainConfig(model=arch, preset=preset, size=profile.image_size, **dict(profile.train))
    if at_method is None:
        return clean
    over = {**dict(profile.at_train), "at_method": at_method, "at_steps": at_steps, "init_from": clean.key()}
    return dataclasses.replace(clean, **over)


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A parsed ``profile.checkpoints`` value (see :func:`parse_spec`).

    Attributes:
        kind: ``"zoo"`` (segrepro checkpoint), ``"tv"`` (torchvision) or ``"mmseg"``.
        path: Checkpoint / weights file (``None``: a randomly initialised torchvision model).
        arch: torchvision architecture (``kind="tv"``).
        config: mmseg config file or bundled config name (``kind="mmseg"``).
    """

    kind: str
    path: str | None = None
    arch: str | None = None
    config: str | None = None


def parse_spec(spec: str) -> ModelSpec:
    """Parse a model spec of ``profile.checkpoints``.

    Syntax (``=`` separates an architecture or config from its weights file):

    - ``"zoo:/ckpt/psp_r18.pt"`` or a bare ``"/ckpt/psp_r18.pt"``: a ``segrepro.models.save_checkpoint`` file.
    - ``"tv:deeplabv3_resnet50=/ckpt/dlv3.pth"``: a torchvision model (``segrepro.models.torchvision``)
      with a local state dict; ``"tv:deeplabv3_resnet50"`` alone is randomly initialised (a warning).
    - ``"mmseg:/cfg/pspnet_r50.py=/ckpt/pspnet_r50.pth"``: an MMSegmentation config and checkpoint
      (``segrepro.models.mmseg``); a config that is not an existing file is looked up among the
      configs bundled with mmseg (``"mmseg:pspnet/pspnet_r50-d8_4xb4-40k_voc12aug-512x512.py=..."``).
      The split is at the first ``.py=``, so paths may contain ``=``.

    Raises:
        TypeError: ``spec`` is not a string.
        ValueError: Empty spec, unknown prefix (lists the valid ones), a torchvision architecture that
            does not exist (lists them) or an mmseg spec without ``<config.py>=<checkpoint>``.
    """
    if not isinstance(spec, str):
        raise TypeError(f"a model spec must be a string, got {type(spec).__name__}: {spec!r}")
    text = spec.strip()
    kind, sep, rest = text.partition(":")
    if not sep or kind not in SPEC_KINDS:
        if re.match(r"^[A-Za-z]{2,}:", text) and not Path(text).exists():
            raise ValueError(f"unknown model spec {spec!r}; valid forms: 'zoo:<checkpoint>' (or a bare path), "
                             "'tv:<arch>[=<weights>]', 'mmseg:<config.py>=<checkpoint>'")
        kind, rest = "zoo", text
    if not rest:
        raise ValueError(f"model spec {spec!r} names no file or architecture")
    if kind == "zoo":
        return ModelSpec("zoo", path=rest)
    if kind == "tv":
        from segrepro.models.torchvision import TORCHVISION_MODELS

        arch, _, weights = rest.partition("=")
        if arch not in TORCHVISION_MODELS:
            raise ValueError(f"unknown torchvision model {arch!r} in spec {spec!r}; valid: {list(TORCHVISION_MODELS)}")
        return ModelSpec("tv", path=weights or None, arch=arch)
    config, sep, ckpt = rest.partition(".py=")
    if not sep or not ckpt:
        raise ValueError(f"mmseg spec {spec!r} must read 'mmseg:<config.py>=<checkpoint.pth>'")
    return ModelSpec("mmseg", path=ckpt, config=config + ".py")


def load_spec(spec: str | ModelSpec, num_classes: int, device: str | torch.device = "cpu"):
    """Load the model a spec describes, on ``device``, in eval mode.

    Args:
        spec: A spec string (:func:`parse_spec`) or a :class:`ModelSpec`.
        num_classes: Classes of the dataset (21 VOC, 19 Cityscapes): torchvision models are built
            with it; zoo and mmseg checkpoints must have it.
        device: Where the model goes.

    Returns:
        A ``SegModel`` (``model.config["spec"]`` records the spec).

    Raises:
        FileNotFoundError: Missing checkpoint, weights or config. ValueError: Unreadable file, weights
        that do not fit the architecture or config, or a class count other than ``num_classes``.
        ImportError: An mmseg spec without the ``mmseg`` extra.
    """
    parsed = spec if isinstance(spec, ModelSpec) else parse_spec(spec)
    if parsed.kind == "zoo":
        from segrepro.models import load_checkpoint

        model = load_checkpoint(parsed.path, map_location=device)
    elif parsed.kind == "tv":
        from segrepro.models.torchvision import build_torchvision

        if parsed.path is None:
            warnings.warn(f"model spec {spec!r} gives no weights: {parsed.arch} is randomly initialised", stacklevel=2)
        model = build_torchvision(parsed.arch, num_classes=num_classes, weights=parsed.path)
    else:
        from segrepro.models.mmseg import bundled_config, init_model

        config = parsed.config if Path(parsed.config).is_file() else bundled_config(parsed.config)
        model = init_model(config, parsed.path, device=device)
    if model.num_classes != num_classes:
        raise ValueError(f"model spec {spec!r} has {model.num_classes} classes but the dataset has {num_classes}")
    model.config["spec"] = spec if isinstance(spec, str) else dataclasses.asdict(parsed)
    return model.to(device).eval()


def check_contract(model, images: torch.Tensor, num_classes: int, name: str = "model") -> None:
    """Run ``model`` on ``images`` once and check the model contract (logits ``(N,C,H,W)`` at input size).

    Raises:
        ValueError: Logits of another size or class count (the message names the model).
    """
    from segrepro.validation import check_logits

    with torch.no_grad():
        logits = model(images)
    try:
        check_logits(logits, images, num_classes)
    except ValueError as err:
        raise ValueError(f"model {name!r} breaks the model contract: {err}") from err


class Zoo:
    """Lazy access to a profile's models and evaluation images, per preset.

    Args:
        profile: The run profile.
        device: Where models live (default: ``profile.device``; ``None`` or ``"auto"``: CUDA when
            available). Resolved by ``segrepro.devices.resolve_device``: CUDA where none exists raises
            ``RuntimeError``.
        progress: tqdm bars while training.
        loader: ``(profile, preset, name, device, progress) -> SegModel``; default: loads
            ``profile.checkpoints[name]`` through :func:`load_spec` when given (then checks the contract),
            else trains/loads through ``segrepro.train.get_model`` (synthetic presets only).
    """

    def __init__(self, profile: Profile, device: str | torch.device | None = None, progress: bool = True,
                 loader: Callable[..., Any] | None = None):
        from segrepro.devices import resolve_device

        self.profile = profile
        self.device = resolve_device(device or profile.device)
        self.progress = progress
        self.loader = loader or _default_loader
        self._models: dict[tuple[str, str], Any] = {}
        self._data: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    @property
    def names(self) -> tuple[str, ...]:
        """Every model name the profile uses (zoo, AT variants, sources and targets), in order."""
        p = self.profile
        return tuple(dict.fromkeys((*p.models, *p.at_models, *p.sources, *p.targets)))

    def names_for(self, preset: str) -> tuple[str, ...]:
        """Models prepared for ``preset``: every name on the first preset; no AT models on the others.

        Adversarial fine-tuning is the costliest training, and the papers' AT tables use one dataset
        per table; a grid may still ask for an AT model on another preset (it is then trained on use).
        """
        if self.profile.presets and preset == self.profile.presets[0]:
            return self.names
        return tuple(n for n in self.names if parse_name(n)[1] is None)

    def model(self, preset: str, name: str):
        """The model ``name`` trained on ``preset`` (trained or loaded on first use, then kept)."""
        parse_name(name)
        if (preset, name) not in self._models:
            model = self.loader(self.profile, preset, name, self.device, self.progress)
            if self.loader is _default_loader and name in self.profile.checkpoints:
                images = self.data(preset, 1)[0].to(self.device)
                check_contract(model, images, num_classes(preset), f"{name} = {self.profile.checkpoints[name]}")
            self._models[(preset, name)] = model
        return self._models[(preset, name)]

    def models(self, preset: str) -> "LazyModels":
        """A read-only mapping name -> model for ``preset`` that loads on access (for ``run_grid``)."""
        return LazyModels(self, preset)

    def prepare(self) -> None:
        """Train or load every model of every preset now (so the training time is its own stage).

        Raises:
            ValueError: Models of a real dataset without a checkpoint spec (all of them are named).
        """
        for preset in self.profile.presets:
            missing = [n for n in self.names_for(preset) if n not in self.profile.checkpoints]
            if preset in REAL_DATASETS and missing:
                raise ValueError(_no_spec_message(self.profile, preset, missing))
        for preset in self.profile.presets:
            for name in self.names_for(preset):
                self.model(preset, name)

    def data(self, preset: str, n: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The first ``n`` (default ``profile.n_images``) validation images and labels of ``preset``.

        Shape:
            images ``(n,3,H,W)`` float in [0,1] and labels ``(n,H,W)`` int64, on CPU.
        """
        n = n or self.profile.n_images
        if preset not in self._data or self._data[preset][0].shape[0] < n:
            self._data[preset] = _load_val(self.profile, preset, n)
        images, labels = self._data[preset]
        return images[:n], labels[:n]

    def clean_table(self) -> pd.DataFrame:
        """Clean mIoU / pixel accuracy of every model on the ``n_images`` evaluation images (one row each)."""
        from segrepro.metrics import evaluate

        rows = []
        for preset in self.profile.presets:
            images, labels = self.data(preset)
            for name in self.names_for(preset):
                model = self.model(preset, name)
                rec = evaluate(model, (images, labels), batch_size=self.profile.batch_size)
                meta = getattr(model, "checkpoint_meta", {}) or {}
                rows.append(dict(preset=preset, model=name, miou=rec["miou"], pixel_accuracy=rec["pixel_accuracy"],
                                 val_miou=meta.get("val_miou"), train_seconds=meta.get("train_seconds")))
        return pd.DataFrame(rows)


class LazyModels(Mapping):
    """Mapping name -> model of one preset of a :class:`Zoo`; models load on ``__getitem__``."""

    def __init__(self, zoo: Zoo, preset: str):
        self.zoo, self.preset = zoo, preset

    def __getitem__(self, name: str):
        return self.zoo.model(self.preset, name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.zoo.names_for(self.preset))

    def __len__(self) -> int:
        return len(self.zoo.names_for(self.preset))


def num_classes(preset: str) -> int:
    """Classes of a dataset or synthetic preset (21 for ``voc``, 19 for ``cityscapes``)."""
    if preset == "voc":
        from segrepro.data.voc import VOCSegmentationDataset
        return VOCSegmentationDataset.num_classes
    if preset == "cityscapes":
        from segrepro.data.cityscapes import CityscapesDataset
        return CityscapesDataset.num_classes
    from segrepro.data import available
    from segrepro.data.synthetic import PRESETS

    if preset not in PRESETS:
        raise ValueError(f"unknown dataset {preset!r}; valid datasets: {available()}")
    return len(PRESETS[preset].class_names)


def _no_spec_message(profile: Profile, preset: str, names) -> str:
    return (f"model(s) {list(names)} have no checkpoint spec in profile.checkpoints (given: "
            f"{sorted(profile.checkpoints)}); models of the real dataset {preset!r} are loaded, never trained. "
            "Add them, e.g. --set 'checkpoints={\"psp_r50\": \"mmseg:<config.py>=<checkpoint.pth>\", "
            "\"dlv3_r50\": \"tv:deeplabv3_resnet50=<weights.pth>\"}', or drop them from sources/targets")


def _default_loader(profile: Profile, preset: str, name: str, device, progress: bool):
    if name in profile.checkpoints:
        model = load_spec(profile.checkpoints[name], num_classes(preset), device)
        from segrepro.devices import channels_last

        return channels_last(model, profile.channels_last)
    if preset in REAL_DATASETS:
        raise ValueError(_no_spec_message(profile, preset, [name]))
    if profile.checkpoints:
        raise ValueError(f"profile {profile.name!r} gives checkpoints for {sorted(profile.checkpoints)}, "
                         f"not for {name!r}")
    from segrepro.train import get_model

    return get_model(train_config(profile, preset, name), device=device, progress=progress).eval()


def _load_val(profile: Profile, preset: str, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    from segrepro.data import get_dataset

    if preset in REAL_DATASETS:
        if profile.data_root is None:
            raise ValueError(f"dataset {preset!r} is read from disk: set profile.data_root "
                             f"(e.g. --set data_root=/data/{'VOC' if preset == 'voc' else 'cityscapes'})")
        ds = get_dataset(preset, "val", root=profile.data_root, size=profile.image_size, length=n)
    else:
        from segrepro.train.core import load_split

        ref = profile.models[0] if profile.models else profile.sources[0]
        ds = load_split(train_config(profile, preset, ref), "val")
    if len(ds) < n:
        raise ValueError(f"{preset} val has {len(ds)} images, the profile wants n_images={n}")
    if hasattr(ds, "tensors"):
        return ds.tensors(list(range(n)))
    pairs = [ds[i] for i in range(n)]
    return torch.stack([p[0] for p in pairs]), torch.stack([torch.as_tensor(p[1]) for p in pairs]).long()
