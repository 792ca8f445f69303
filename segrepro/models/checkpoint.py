"""Saving and loading model checkpoints safely.

A checkpoint is a plain dict ``{"format", "config", "meta", "state_dict"}`` of tensors and JSON-like
values, so it loads with ``torch.load(..., weights_only=True)`` (no arbitrary code runs on load).
``config`` rebuilds the model (name, num_classes, width); ``meta`` records how it was made (preset,
training config, metrics). Files are written to a temporary sibling and renamed, so a killed run
never leaves a truncated checkpoint behind.
"""
from __future__ import annotations

import io
import json
import pickle
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..paths import atomic_write_bytes

FORMAT = "segrepro-checkpoint/1"


def _jsonable(meta: dict) -> dict:
    """Return ``meta`` as plain JSON types (weights_only loading accepts nothing else)."""
    if not isinstance(meta, dict):
        raise TypeError(f"meta must be a dict, got {type(meta).__name__}")

    def convert(value: Any) -> Any:
        if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
            return value.item()
        raise TypeError(f"checkpoint meta holds a value of type {type(value).__name__} that is not JSON-like")

    return json.loads(json.dumps(meta, default=convert))


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` to a temporary sibling, then rename over ``path``."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    path = Path(path)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _reason(err: Exception) -> str:
    """The telling line of a ``torch.load`` error (its messages run to a dozen lines of advice)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    line = next((x for x in lines if "GLOBAL" in x or "Unsupported operand" in x), lines[0] if lines else "")
    return f"{type(err).__name__}: {line.split('. ')[0][:200]}"


def safe_load(path: str | Path, map_location: Any = "cpu") -> Any:
    """``torch.load(weights_only=True)`` with clear errors, each naming the path.

    Raises:
        FileNotFoundError: no file at ``path``.
        RuntimeError: ``map_location`` asks for CUDA where none is available.
        ValueError: an empty, truncated or garbage file ("corrupt checkpoint"), or a pickle of
            objects other than tensors and plain data ("refused checkpoint"; nothing of it runs).
    """
    from ..devices import resolve_device

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}" + (" (that is a folder)" if path.is_dir() else ""))
    if path.stat().st_size == 0:
        raise ValueError(f"corrupt checkpoint {path}: the file is empty (0 bytes)")
    if isinstance(map_location, (str, torch.device)) and str(map_location).startswith("cuda"):
        try:  # else torch.load's CUDA error would read as a damaged file
            resolve_device(map_location)
        except RuntimeError as err:
            raise RuntimeError(f"cannot load checkpoint {path} with map_location={str(map_location)!r}: "
                               f"{err}") from None
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if "GLOBAL" in str(err):  # the weights-only unpickler met a class or function and ran nothing
            raise ValueError(f"refused checkpoint {path}: it pickles objects other than tensors and plain "
                             f"data, which are never loaded ({_reason(err)})") from err
        raise ValueError(f"corrupt checkpoint {path}: {_reason(err)}") from err
    except Exception as err:  # truncated zip, garbage bytes: both mean "unusable file"
        raise ValueError(f"corrupt checkpoint {path}: {_reason(err)}") from err


def save_checkpoint(model: nn.Module, path: str | Path, meta: dict | None = None) -> Path:
    """Save ``model`` (weights and its ``config``) with ``meta`` atomically.

    Args:
        model: a zoo model or classifier (anything with a ``config`` dict holding ``name``).
        path: destination file; parent folders are created.
        meta: JSON-like record of how the model was made (preset, training config, metrics).

    Returns:
        The path written.
    """
    config = getattr(model, "config", None)
    if not isinstance(config, dict) or "name" not in config:
        raise TypeError("save_checkpoint needs a segrepro model with a config dict holding 'name'")
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    payload = {"format": FORMAT, "config": _jsonable(config), "meta": _jsonable(meta or {}), "state_dict": state}
    return atomic_torch_save(payload, path)


def _build(config: dict) -> nn.Module:
    from .classifiers import available_classifiers, build_classifier
    from .zoo import available, build

    name, kw = config.get("name"), {"num_classes": config.get("num_classes"), "width": config.get("width", 16)}
    if name in available():
        return build(name, **kw)
    if name in available_classifiers():
        return build_classifier(name, **kw)
    raise ValueError(f"checkpoint names an unknown model {name!r}; valid: {available() + available_classifiers()}")


def _describe(config: dict) -> str:
    return f"{config.get('name')} (num_classes={config.get('num_classes')}, width={config.get('width')})"


def load_checkpoint(path: str | Path, model: nn.Module | None = None, map_location: Any = "cpu") -> nn.Module:
    """Load a checkpoint written by :func:`save_checkpoint`.

    Args:
        path: the checkpoint file.
        model: a model to load the weights into; when None, one is rebuilt from the recorded config.
        map_location: passed to ``torch.load``; CUDA where none is available is a RuntimeError.

    Returns:
        The model in eval mode, with the checkpoint's meta as ``model.checkpoint_meta``.

    Raises:
        FileNotFoundError: no file at ``path``.
        RuntimeError: ``map_location`` asks for CUDA where none is available.
        ValueError: the file is empty, corrupt, pickles foreign objects (refused) or is not a segrepro
            checkpoint, or it holds another architecture, class count or width than ``model``.
    """
    payload = safe_load(path, map_location)
    if (not isinstance(payload, dict) or payload.get("format") != FORMAT or "state_dict" not in payload
            or not isinstance(payload.get("config"), dict)):
        raise ValueError(f"corrupt checkpoint {path}: not a {FORMAT} file")
    config = payload["config"]
    if model is None:
        model = _build(config)
    else:
        mine = getattr(model, "config", {})
        keys = ("name", "num_classes", "width")
        if any(mine.get(k) != config.get(k) for k in keys):
            raise ValueError(f"checkpoint {path} holds {_describe(config)}, "
                             f"which does not match the given model {_describe(mine)}")
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as err:
        raise ValueError(f"checkpoint {path} does not fit model {_describe(model.config)}: {err}") from err
    model.checkpoint_meta = payload.get("meta", {})
    return model.eval()
