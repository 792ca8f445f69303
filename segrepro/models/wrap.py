"""The model contract every segrepro model satisfies, whatever its origin.

Input: float ``(N,3,H,W)`` in [0,1]; normalisation happens inside. Output: logits ``(N,C,H,W)``
at the input size. ``features(x)`` returns the penultimate feature map ``(N,D,h,w)`` that
RP-PGD's prototype loss needs; ``forward_with_features`` returns both from one pass.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class SegModel(nn.Module):
    """Base class of the contract. Subclasses implement ``_run(normalised) -> (logits, features)``.

    ``config`` holds what a checkpoint needs to rebuild the model (name, num_classes, width, ...).
    """

    def __init__(self, num_classes: int, mean: Sequence[float] = IMAGENET_MEAN,
                 std: Sequence[float] = IMAGENET_STD, config: dict | None = None):
        super().__init__()
        self.num_classes = int(num_classes)
        self.config = dict(config or {}, num_classes=self.num_classes)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1), persistent=False)

    def _run(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def forward_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits at the input size and the penultimate features, from one forward pass."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"images must have shape (N,3,H,W), got {tuple(x.shape)}")
        logits, feats = self._run((x - self.mean.to(x.dtype)) / self.std.to(x.dtype))
        if logits.shape[-2:] != x.shape[-2:]:
            logits = F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return logits, feats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_features(x)[0]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_with_features(x)[1]


def check_build(kind: str, name: str, valid: list[str], num_classes: int, width: int) -> None:
    """The argument checks of every builder (``build``, ``build_classifier``).

    Raises:
        ValueError: An unknown ``name`` (lists the ``valid`` ones), or a class count or width that is not
            a positive integer.
    """
    if name not in valid:
        raise ValueError(f"unknown {kind} {name!r}; valid names: {valid}")
    for arg, value in (("num_classes", num_classes), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{arg} must be a positive integer, got {value!r}")
