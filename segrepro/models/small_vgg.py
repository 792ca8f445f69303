"""Reduced-width FCN-8s / FCN-16s on a VGG16-BN backbone (stand-ins for the papers' FCN-VGG16).

Long, Shelhamer & Darrell, "Fully Convolutional Networks for Semantic Segmentation", CVPR 2015
(arXiv:1411.4038). The backbone is torchvision's VGG16 configuration ``"D"`` built with
``torchvision.models.vgg.make_layers(..., batch_norm=True)``, every channel count scaled by
``width / 64`` (``width=16`` is torchvision's width / 4). Batch norm is needed: without it VGG16
does not train from scratch in the embedded budget (design.md, "Measured starting points").

Skip heads as a feature concatenation: FCN-8s sums three 1x1 score maps (from fc7, pool4 and
pool3) after upsampling to stride 8. With fixed bilinear upsampling (FCN's own initialisation of its
upsampling layers) that sum equals one 1x1 convolution applied to the concatenation of the
upsampled feature maps, because the upsampling and the 1x1 convolutions are both linear. We build
the model in that second form so that it has a single final classifier, whose input is the
penultimate feature map the contract exposes (RP-PGD's prototypes are computed on it).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.vgg import cfgs, make_layers

from .wrap import SegModel

_VGG16 = cfgs["D"]


def vgg16_bn_stages(width: int = 16) -> nn.ModuleList:
    """The five VGG16-BN stages, each ending in its 2x2 max-pool (strides 2, 4, 8, 16, 32).

    Args:
        width: channels of the first stage (torchvision: 64); later stages use 2x, 4x, 8x, 8x.

    Returns:
        ``nn.ModuleList`` of five ``nn.Sequential`` stages.
    """
    if width < 1:
        raise ValueError(f"width must be a positive integer, got {width}")
    cfg = [v if v == "M" else max(1, v * width // 64) for v in _VGG16]
    layers = make_layers(cfg, batch_norm=True)
    stages, start = [], 0
    for i, module in enumerate(layers):
        if isinstance(module, nn.MaxPool2d):
            stages.append(layers[start:i + 1])
            start = i + 1
    return nn.ModuleList(stages)


def init_weights(module: nn.Module) -> None:
    """He initialisation for convolutions (as torchvision's ResNet), unit/zero batch norm."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class FCNVGG16(SegModel):
    """FCN-8s (``stride=8``) or FCN-16s (``stride=16``) on a reduced-width VGG16-BN.

    Args:
        num_classes: number of output classes.
        width: first-stage channels (16 = torchvision / 4). fc6/fc7 use ``16 * width`` channels.
        stride: 8 (skips from pool4 and pool3) or 16 (skip from pool4 only).
        name: the zoo name recorded in ``config``.

    Shape:
        input ``(N,3,H,W)`` in [0,1] with H, W >= 32 (five poolings); logits ``(N,C,H,W)``;
        features ``(N, 28*width, H/8, W/8)`` for FCN-8s, ``(N, 24*width, H/16, W/16)`` for FCN-16s.
    """

    def __init__(self, num_classes: int, width: int = 16, stride: int = 8, name: str = "fcn8s_vgg16"):
        if stride not in (8, 16):
            raise ValueError(f"FCN stride must be 8 or 16, got {stride}")
        super().__init__(num_classes, config={"name": name, "width": width})
        self.stride = stride
        self.stages = vgg16_bn_stages(width)
        fc = 16 * width
        # fc6/fc7 of VGG as convolutions (FCN Sec. 3.1); 3x3 instead of 7x7 because pool5 is only
        # 2x2 or 3x3 on the study's 64-96 px images.
        self.fc = nn.Sequential(
            nn.Conv2d(8 * width, fc, 3, padding=1, bias=False), nn.BatchNorm2d(fc), nn.ReLU(inplace=True),
            nn.Conv2d(fc, fc, 1, bias=False), nn.BatchNorm2d(fc), nn.ReLU(inplace=True),
        )
        channels = fc + 8 * width + (4 * width if stride == 8 else 0)
        self.dropout = nn.Dropout2d(0.1)
        self.classifier = nn.Conv2d(channels, num_classes, 1)
        init_weights(self)

    def _run(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        skips = []
        for stage in self.stages:
            x = stage(x)
            skips.append(x)
        pool3, pool4 = skips[2], skips[3]
        parts = [self.fc(x), pool4] + ([pool3] if self.stride == 8 else [])
        size = parts[-1].shape[-2:]
        feats = torch.cat([F.interpolate(p, size=size, mode="bilinear", align_corners=False)
                           if p.shape[-2:] != size else p for p in parts], dim=1)
        return self.classifier(self.dropout(feats)), feats
