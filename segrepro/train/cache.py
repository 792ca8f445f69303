"""Where trained checkpoints live, and ``get_model``: load from the cache or train once.

A final checkpoint is ``cache_dir("models") / f"{model}-{preset}-{key}.pt"``, where ``key`` hashes
every field of the :class:`~segrepro.train.core.TrainConfig`; a run in progress keeps a per-epoch
checkpoint (weights, optimizer, schedule, history) under ``cache_dir("models", "partial")``.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ..devices import resolve_device
from ..models import release
from ..models.checkpoint import load_checkpoint
from ..models.wrap import SegModel
from ..paths import cache_dir

if TYPE_CHECKING:
    from .core import TrainConfig


def model_path(config: "TrainConfig") -> Path:
    """Path of the final cached checkpoint for ``config``."""
    return cache_dir("models") / f"{config.model}-{config.preset}-{config.key()}.pt"


def partial_path(config: "TrainConfig") -> Path:
    """Path of the per-epoch resume checkpoint for ``config``."""
    return cache_dir("models", "partial") / f"{config.model}-{config.preset}-{config.key()}.pt"


def init_path(config: "TrainConfig") -> Path:
    """Checkpoint named by ``config.init_from``: a file path, or the key of a cached model of the same name and preset."""
    ref = str(config.init_from)
    if Path(ref).is_file():
        return Path(ref)
    path = cache_dir("models") / f"{config.model}-{config.preset}-{ref}.pt"
    if not path.is_file() and release.find(ref) is not None:
        return release.verified_path(release.find(ref))
    if not path.is_file():
        raise FileNotFoundError(f"init_from={ref!r}: no checkpoint at {path} (train the clean model first)")
    return path


def get_model(config: "TrainConfig", device: torch.device | str | None = None, progress: bool = True) -> SegModel:
    """Return the trained model for ``config``: the released one, the cached one, or train (and cache) it.

    A config whose key matches a released model (``segrepro.models.release``) loads that release
    (sha256 verified; a damaged release is an error, never a silent retrain). A cached file is used
    only when its recorded key, architecture, width and class count are the requested ones; otherwise
    (or when it is damaged) a warning says why and the model is retrained, replacing the file.

    Args:
        config: the training configuration; its ``key()`` names the cache entry.
        device: where the returned model lives (default: CUDA if available, else CPU).
        progress: show a tqdm bar when training.

    Returns:
        The model in eval mode; ``model.checkpoint_meta`` holds the preset, config, history and val mIoU.
    """
    from . import core  # lazy: core imports this module

    device = resolve_device(device)
    released = release.find(config.key())
    if released is not None:
        return release.load(released, device=device)
    path = model_path(config)
    if path.is_file():
        try:
            model = load_checkpoint(path, map_location=device).to(device)
            problem = _mismatch(model, config)
            if problem is None:
                return model
            # the file name is only a hash: a foreign file there must not pass for this config's model
            warnings.warn(f"{path} is not the cached model of {config.model} on {config.preset} "
                          f"(key {config.key()}): {problem}; retraining and replacing it", stacklevel=2)
        except ValueError as err:  # a damaged cache entry is regenerable: say so and retrain
            warnings.warn(f"{err}; retraining {config.model} on {config.preset}", stacklevel=2)
    return core.train_model(config, device=device, progress=progress)


def _expected_classes(config: "TrainConfig") -> int:
    from ..data import available, num_classes

    if config.preset in available():
        return num_classes(config.preset)
    from .core import load_split  # a dataset unknown to segrepro.data: ask the split itself

    return load_split(config, "val").num_classes


def _mismatch(model: SegModel, config: "TrainConfig") -> str | None:
    """What differs between a cached checkpoint and the request (None when it is the one asked for)."""
    meta = getattr(model, "checkpoint_meta", {}) or {}
    found = {"key": meta.get("key"), "architecture": model.config.get("name"), "width": model.config.get("width"),
             "num_classes": model.num_classes}
    wanted = {"key": config.key(), "architecture": config.model, "width": config.width,
              "num_classes": _expected_classes(config)}
    diffs = [f"{k} {found[k]!r} (wanted {wanted[k]!r})" for k in wanted if found[k] != wanted[k]]
    return "it holds " + ", ".join(diffs) if diffs else None
