"""Which models a profile uses, and where they come from (trained locally, or loaded from checkpoints).

Model names are zoo names (``"psp_r18"``) or adversarially trained variants written
``"<arch>@<ATTACK><T>-AT"`` after the papers' naming (``"psp_r18@PGD3-AT"``, ``"psp_r18@RP-PGD3-AT"``):
fine-tuned from the cached clean model with ``TrainConfig(at_method=..., at_steps=T,
init_from=<clean key>)`` and the profile's ``at_train`` overrides.

A model named in ``profile.checkpoints`` is loaded from its spec instead (``segrepro.models.sources``), and on
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
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from segrepro.models.sources import REAL_DATASETS, check_contract, load_spec, num_classes, parse_spec
from segrepro.run.names import parse_name
from segrepro.run.profiles import Profile

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


class Zoo:
    """Lazy access to a profile's models and evaluation images, per preset.

    Args:
        profile: The run profile.
        device: Where models live (default: ``profile.device``; ``None`` or ``"auto"``: CUDA when
            available). Resolved by ``segrepro.devices.resolve_device``: CUDA where none exists raises
            ``RuntimeError``.
        progress: tqdm bars while training.
        loader: ``(profile, preset, name, device, progress) -> SegModel``; default: loads
            ``profile.checkpoints[name]`` through ``segrepro.models.sources.load_spec`` when given (then checks the contract),
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
        self._datasets: dict[str, Any] = {}
        self._fingerprints: dict[tuple[str, str], str] = {}

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

    def dataset(self, preset: str):
        """The validation split of ``preset`` as a dataset (batches are read lazily by the grid runner)."""
        if preset not in self._datasets:
            self._datasets[preset] = _val_dataset(self.profile, preset, self.profile.n_images)
        return self._datasets[preset]

    def fingerprint(self, preset: str, name: str, train: bool = True) -> str:
        """A short hash of the weights behind ``name`` on ``preset`` (the released or cached file, or the
        checkpoint file of its spec), without loading the model when a file exists.

        Result cells are keyed by it, so replacing a checkpoint behind a name recomputes its cells.
        A model not trained yet is trained first (``train=False``: ``"untrained"``, for readers).
        """
        if (preset, name) not in self._fingerprints:
            fp = _fingerprint(self, preset, name, train)
            if fp == "untrained":
                return fp
            self._fingerprints[(preset, name)] = fp
        return self._fingerprints[(preset, name)]

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


class LazyModels(Mapping):
    """Mapping name -> model of one preset of a :class:`Zoo`; models load on ``__getitem__``."""

    def __init__(self, zoo: Zoo, preset: str):
        self.zoo, self.preset = zoo, preset

    def __getitem__(self, name: str):
        return self.zoo.model(self.preset, name)

    def fingerprint(self, name: str) -> str:
        return self.zoo.fingerprint(self.preset, name)

    def __iter__(self) -> Iterator[str]:
        return iter(self.zoo.names_for(self.preset))

    def __len__(self) -> int:
        return len(self.zoo.names_for(self.preset))


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


def _val_dataset(profile: Profile, preset: str, n: int):
    """The validation split that evaluation images come from (checked to hold ``n`` images)."""
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
    return ds


def _load_val(profile: Profile, preset: str, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    ds = _val_dataset(profile, preset, n)
    if hasattr(ds, "tensors"):
        return ds.tensors(list(range(n)))
    pairs = [ds[i] for i in range(n)]
    return torch.stack([p[0] for p in pairs]), torch.stack([torch.as_tensor(p[1]) for p in pairs]).long()


def _file_digest(path: Path, _cache: dict = {}) -> str:  # noqa: B006  (memo per process: big files hash once)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _cache:
        from segrepro.models.release import sha256

        _cache[key] = sha256(path)[:16]
    return _cache[key]


def _fingerprint(zoo: Zoo, preset: str, name: str, train: bool) -> str:
    profile = zoo.profile
    if name in profile.checkpoints:
        spec = parse_spec(profile.checkpoints[name])
        files = [Path(p) for p in (spec.path, spec.config) if p and Path(p).is_file()]
        return hashlib.sha1("|".join([profile.checkpoints[name], *map(_file_digest, files)]).encode()).hexdigest()[:16]
    if zoo.loader is not _default_loader:  # an injected loader (tests): hash the weights themselves
        return _state_digest(zoo.model(preset, name))
    from segrepro.models import release
    from segrepro.train.cache import model_path

    config = train_config(profile, preset, name)
    released = release.find(config.key())
    if released is not None:
        return release.entry(released)["sha256"][:16]
    path = model_path(config)
    if not path.is_file():
        if not train:
            return "untrained"
        zoo.model(preset, name)  # trains (and caches) it: its weights are what the cells depend on
    return _file_digest(path)


def _state_digest(model) -> str:
    digest = hashlib.sha1()
    for key, value in sorted(model.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]
