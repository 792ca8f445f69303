"""Where trained checkpoints live (``get_model`` in :mod:`segrepro.train.load` reads and fills them).

A final checkpoint is ``cache_dir("models") / f"{model}-{preset}-{key}.pt"``, where ``key`` hashes
every field of the :class:`~segrepro.train.core.TrainConfig`; a run in progress keeps a per-epoch
checkpoint (weights, optimizer, schedule, history) under ``cache_dir("models", "partial")``.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Callable

from torch import nn

from ..models import release
from ..models.checkpoint import load_checkpoint
from ..paths import cache_dir


def model_path(config) -> Path:
    """Path of the final cached checkpoint for ``config`` (a ``TrainConfig``: its model, preset and key)."""
    return cache_dir("models") / f"{config.model}-{config.preset}-{config.key()}.pt"


def partial_path(config) -> Path:
    """Path of the per-epoch resume checkpoint for ``config``."""
    return cache_dir("models", "partial") / f"{config.model}-{config.preset}-{config.key()}.pt"


def init_path(config) -> Path:
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


def load_cached(path: Path, device, mismatch: Callable[[nn.Module], str | None], what: str) -> nn.Module | None:
    """The checkpoint at ``path`` on ``device``, or ``None`` when it is absent, damaged or not the one wanted.

    A cache entry is regenerable: a damaged one, or one for which ``mismatch(model)`` names what it holds
    instead, gives a warning that ``what`` is retrained, and ``None``.
    """
    if not path.is_file():
        return None
    try:
        model = load_checkpoint(path, map_location=device).to(device)
    except ValueError as err:
        warnings.warn(f"{err}; retraining {what}", stacklevel=3)
        return None
    held = mismatch(model)
    if held:
        warnings.warn(f"{path} holds {held}; retraining", stacklevel=3)
        return None
    return model
