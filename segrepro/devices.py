"""Device selection and optional GPU speed-ups (autocast, channels_last).

Every entry point that takes ``device=`` resolves it here, so that a user asking for CUDA on a
machine without it gets one clear error instead of a deep ``torch`` traceback half-way through a run.
"""
from __future__ import annotations

import contextlib
import re
from typing import Iterator, Union

import torch
from torch import nn

DeviceLike = Union[str, torch.device, None]

_SPEC = re.compile(r"^(auto|cpu|cuda(:\d+)?|mps)$")
AUTOCAST_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16}


def resolve_device(spec: DeviceLike = "auto") -> torch.device:
    """Turn a device request into a usable ``torch.device``.

    Args:
        spec: ``"auto"`` (or None): CUDA when available, else CPU. ``"cpu"``, ``"cuda"``, ``"cuda:K"``,
            ``"mps"``, or a ``torch.device``.

    Returns:
        The device; ``"cuda"`` becomes ``cuda:<current index>`` so callers can compare devices.

    Raises:
        TypeError: ``spec`` is neither a string, a ``torch.device`` nor None.
        ValueError: an unknown device string.
        RuntimeError: CUDA (or MPS) requested where none exists, or a CUDA index beyond the visible GPUs.
    """
    if spec is None:
        spec = "auto"
    if isinstance(spec, torch.device):
        spec = str(spec)
    if not isinstance(spec, str):
        raise TypeError(f"device must be a string or torch.device, got {type(spec).__name__}")
    text = spec.strip().lower()
    if not _SPEC.match(text):
        raise ValueError(f"unknown device {spec!r}; valid: 'auto', 'cpu', 'cuda', 'cuda:<index>', 'mps'")
    if text == "auto":
        return torch.device(f"cuda:{torch.cuda.current_device()}") if torch.cuda.is_available() else torch.device("cpu")
    if text == "cpu":
        return torch.device("cpu")
    if text == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise RuntimeError("device 'mps' requested but this PyTorch build or machine has no MPS support; "
                               "use device='cpu' or 'auto'")
        return torch.device("mps")
    if not torch.cuda.is_available():
        raise RuntimeError(
            f"device {spec!r} requested but CUDA is not available (torch {torch.__version__}, "
            f"CUDA build: {torch.version.cuda or 'none'}); use device='cpu' or 'auto', or install a CUDA build "
            "of PyTorch on a machine with an NVIDIA GPU"
        )
    count = torch.cuda.device_count()
    index = int(text.split(":")[1]) if ":" in text else torch.cuda.current_device()
    if index >= count:
        raise RuntimeError(f"device {spec!r} requested but only {count} CUDA device(s) are visible "
                           f"(valid: {', '.join(f'cuda:{i}' for i in range(count))})")
    return torch.device(f"cuda:{index}")


@contextlib.contextmanager
def autocast(device: DeviceLike, enabled: bool = False, dtype: str = "bfloat16") -> Iterator[None]:
    """Mixed precision for forward passes on GPU; a no-op when disabled or on CPU.

    Attacks take the gradient of a loss w.r.t. the input; bfloat16 keeps float32's range, so it is the
    default (float16 may underflow small gradients without a scaler).

    Args:
        device: where the forward runs (anything ``resolve_device`` accepts).
        enabled: turn autocast on (only acts on CUDA).
        dtype: ``"bfloat16"`` or ``"float16"``.
    """
    if dtype not in AUTOCAST_DTYPES:
        raise ValueError(f"unknown autocast dtype {dtype!r}; valid: {sorted(AUTOCAST_DTYPES)}")
    dev = resolve_device(device)
    if not enabled or dev.type != "cuda":
        yield
        return
    with torch.autocast(device_type="cuda", dtype=AUTOCAST_DTYPES[dtype]):
        yield


def channels_last(obj: Union[nn.Module, torch.Tensor], enabled: bool = True):
    """Convert a model or an image batch to the channels_last memory format (faster convs on recent GPUs).

    Returns the converted object (a module is converted in place and returned); unchanged if not enabled.
    A non-4-D tensor is returned unchanged since channels_last only applies to (N,C,H,W).
    """
    if not enabled:
        return obj
    if isinstance(obj, nn.Module):
        return obj.to(memory_format=torch.channels_last)
    if isinstance(obj, torch.Tensor):
        return obj.contiguous(memory_format=torch.channels_last) if obj.dim() == 4 else obj
    raise TypeError(f"channels_last expects an nn.Module or a torch.Tensor, got {type(obj).__name__}")
