"""Image classifiers on the zoo's backbones, for DS's overfitting study.

Dynamic Scaling's paper (Sec. 4) contrasts how much segmentation and classification models overfit
to their training data; these classifiers (the same reduced-width VGG16-BN and ResNet-18 trunks, a
global average pool and one linear layer) are the classification side of that comparison. The
ResNet trunk uses the classification layout (output stride 32, no dilation), as torchvision's.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from .small_resnet import ResNetBackbone
from .small_vgg import init_weights, vgg16_bn_stages
from .wrap import IMAGENET_MEAN, IMAGENET_STD, check_build


class Classifier(nn.Module):
    """Backbone + global average pool + linear, normalising its [0,1] input internally.

    Args:
        trunk: maps normalised images ``(N,3,H,W)`` to ``(N, channels, h, w)``.
        channels: output channels of ``trunk``.
        num_classes: number of classes.
        config: what a checkpoint needs to rebuild the model (name, width).

    Shape:
        ``(N,3,H,W)`` in [0,1] -> logits ``(N, num_classes)``.
    """

    def __init__(self, trunk: nn.Module, channels: int, num_classes: int, config: dict):
        super().__init__()
        self.num_classes = int(num_classes)
        self.config = dict(config, num_classes=self.num_classes)
        self.trunk = trunk
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"images must have shape (N,3,H,W), got {tuple(x.shape)}")
        x = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        return self.fc(torch.flatten(self.pool(self.trunk(x)), 1))


def _vgg16_cls(num_classes: int, width: int) -> Classifier:
    trunk = nn.Sequential(*vgg16_bn_stages(width))
    init_weights(trunk)
    return Classifier(trunk, 8 * width, num_classes, {"name": "vgg16_cls", "width": width})


def _r18_cls(num_classes: int, width: int) -> Classifier:
    trunk = ResNetBackbone(18, width, dilated=False)
    return Classifier(trunk, trunk.out_channels, num_classes, {"name": "r18_cls", "width": width})


_CLASSIFIERS: dict[str, Callable[[int, int], Classifier]] = {"vgg16_cls": _vgg16_cls, "r18_cls": _r18_cls}


def available_classifiers() -> list[str]:
    """Names accepted by :func:`build_classifier`."""
    return sorted(_CLASSIFIERS)


def build_classifier(name: str, num_classes: int, width: int = 16) -> Classifier:
    """Build a randomly initialised classifier (``vgg16_cls`` or ``r18_cls``).

    Args:
        name: one of :func:`available_classifiers`.
        num_classes: number of classes.
        width: first-stage channels (16 = torchvision / 4).

    Returns:
        A :class:`Classifier` taking images in [0,1].
    """
    check_build("classifier", name, available_classifiers(), num_classes, width)
    return _CLASSIFIERS[name](num_classes, width)
