"""The model contract every segrepro model satisfies, whatever its origin.

Input: float ``(N,3,H,W)`` in [0,1]; normalisation happens inside. Output: logits ``(N,C,H,W)``
at the input size. ``features(x)`` returns the penultimate feature map ``(N,D,h,w)`` that
RP-PGD's prototype loss needs; ``forward_with_features`` returns both from one pass.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
MIN_VGG_SIDE = 32  # five 2x2 max-poolings


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put every submodule in eval mode, then restore each one's own mode (frozen BN stays frozen).

    ``model.train(was_training)`` would set every submodule to the model's flag, undoing a user's
    BN layers frozen in eval mode inside a model in train mode.
    """
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, training in modes:
            m.training = training


def param_dtype(model: nn.Module, fallback: torch.dtype = torch.float32) -> torch.dtype:
    """The dtype of the model's first floating-point parameter (``fallback`` when it has none)."""
    return next((p.dtype for p in model.parameters() if p.is_floating_point()), fallback)


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
        try:
            logits, feats = self._run((x - self.mean.to(x.dtype)) / self.std.to(x.dtype))
        except (RuntimeError, ValueError) as err:
            # a net that pools five times runs out of pixels below 32 px and fails deep inside torch
            # (a pooling's "output size is too small", or BN on a 1x1 map): say what the input lacked
            if min(x.shape[-2:]) >= MIN_VGG_SIDE:
                raise
            raise ValueError(f"{self.config.get('name', type(self).__name__)} failed on {tuple(x.shape[-2:])} "
                             f"images ({err}); inputs below {MIN_VGG_SIDE} px per side are too small for nets "
                             "that pool five times, such as the zoo's VGG nets") from err
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
