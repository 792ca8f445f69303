"""``get_model``: the released model of a config, else its cached checkpoint, else train it (once)."""
from __future__ import annotations

import torch

from ..devices import resolve_device
from ..models import release
from ..models.wrap import SegModel
from . import core
from .cache import load_cached, model_path
from .core import TrainConfig


def get_model(config: TrainConfig, device: torch.device | str | None = None, progress: bool = True) -> SegModel:
    """Return the trained model for ``config``: the released one, the cached one, or train (and cache) it.

    A config whose key matches a released model (``segrepro.models.release``) loads that release
    (sha256 verified; a damaged release is an error, never a silent retrain).

    Args:
        config: the training configuration; its ``key()`` names the cache entry.
        device: where the returned model lives (default: CUDA if available, else CPU).
        progress: show a tqdm bar when training.

    Returns:
        The model in eval mode; ``model.checkpoint_meta`` holds the preset, config, history and val mIoU.
    """
    device = resolve_device(device)
    released = release.find(config.key())
    if released is not None:
        return release.load(released, device=device)
    model = load_cached(model_path(config), device, lambda m: _mismatch(m, config),
                        f"{config.model} on {config.preset}")
    return model if model is not None else core.train_model(config, device=device, progress=progress)


def _expected_classes(config: TrainConfig) -> int:
    from ..data import available, num_classes

    if config.preset in available():
        return num_classes(config.preset)
    return core.load_split(config, "val").num_classes  # a dataset unknown to segrepro.data: ask the split


def _mismatch(model: SegModel, config: TrainConfig) -> str | None:
    """What a cached checkpoint holds instead of ``config``'s model (``None``: it is that model).

    The file name is only a hash: a foreign file there must not pass for this config's model.
    """
    meta = getattr(model, "checkpoint_meta", {}) or {}
    found = {"key": meta.get("key"), "architecture": model.config.get("name"), "width": model.config.get("width"),
             "num_classes": model.num_classes}
    wanted = {"key": config.key(), "architecture": config.model, "width": config.width,
              "num_classes": _expected_classes(config)}
    diffs = [f"{k} {found[k]!r} (wanted {wanted[k]!r})" for k in wanted if found[k] != wanted[k]]
    return ", ".join(diffs) if diffs else None
