"""Input checks shared by models, metrics, training and attacks.

Value-range checks need a host sync, so they run once at API entry points (``attack``,
``evaluate``), never inside a model's forward or the attack loop.
"""
from __future__ import annotations

import math

import torch

IGNORE_INDEX = 255


def check_images(images: torch.Tensor, *, name: str = "images", check_range: bool = True) -> None:
    """Raise a clear error unless ``images`` is a float (N,3,H,W) tensor of finite values in [0,1]."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(images).__name__}")
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"{name} must have shape (N,3,H,W), got {tuple(images.shape)}")
    if not images.is_floating_point():
        raise TypeError(f"{name} must be a float tensor in [0,1], got dtype {images.dtype}")
    if check_range and images.numel():
        # min/max propagate NaN, so one reduction and one host sync find NaN, Inf and range errors
        lo, hi = torch.aminmax(images.detach())
        lo, hi = lo.item(), hi.item()
        if not (math.isfinite(lo) and math.isfinite(hi)):
            bad = int((~torch.isfinite(images)).sum())
            raise ValueError(f"{name} hold {bad} NaN or Inf value(s); images must be finite, in [0,1]")
        if lo < 0 or hi > 1:
            raise ValueError(f"{name} must lie in [0,1] (normalisation happens inside the model), "
                             f"got [{lo:.3g}, {hi:.3g}]")


def check_labels(labels: torch.Tensor, num_classes: int | None = None, *, images: torch.Tensor | None = None,
                 name: str = "labels") -> None:
    """Raise a clear error unless ``labels`` is an int64 (N,H,W) tensor of class ids or 255.

    Args:
        labels: the label batch.
        num_classes: when given, values must be < num_classes or equal to 255 (ignore).
        images: when given, labels must match its batch size and spatial size.
    """
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(labels).__name__}")
    if labels.dim() != 3:
        raise ValueError(f"{name} must have shape (N,H,W), got {tuple(labels.shape)}")
    if labels.dtype != torch.int64:
        raise TypeError(f"{name} must be int64 class ids, got dtype {labels.dtype}")
    if images is not None and (labels.shape[0] != images.shape[0] or labels.shape[-2:] != images.shape[-2:]):
        raise ValueError(f"{name} of shape {tuple(labels.shape)} do not match images of shape {tuple(images.shape)}")
    if num_classes is not None and labels.numel():
        bad = (labels < 0) | ((labels >= num_classes) & (labels != IGNORE_INDEX))
        if bad.any():
            values = sorted(set(labels[bad].unique().tolist()))[:5]
            raise ValueError(f"{name} hold values {values} outside 0..{num_classes - 1} (255 = ignore)")


def check_logits(logits: torch.Tensor, images: torch.Tensor, num_classes: int | None = None) -> None:
    """Raise if a model broke the contract: logits must be (N,C,H,W) at the input's size (no host sync)."""
    expected = (images.shape[0], num_classes if num_classes else logits.shape[1], *images.shape[-2:])
    if logits.dim() != 4 or tuple(logits.shape) != expected:
        raise ValueError(
            f"model violates the segrepro contract: logits of shape {tuple(logits.shape)} for images "
            f"{tuple(images.shape)}; expected {expected} (logits at the input size)"
        )
