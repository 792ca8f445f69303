"""Reduced-width dilated ResNet-18/34 with a PSP or an ASPP head (stand-ins for PSPNet / DeepLabv3).

- Backbone: He et al., "Deep Residual Learning for Image Recognition", CVPR 2016 (arXiv:1512.03385),
  BasicBlock layout of ResNet-18/34, channels ``(1, 2, 4, 8) * width`` (``width=16`` is torchvision /
  4). For segmentation, layer3 and layer4 trade their stride for dilation 2 and 4 (output stride 8,
  as PSPNet and DeepLabv3 do). torchvision's ``BasicBlock`` refuses ``dilation > 1``, hence the small
  ``DilatedBasicBlock`` below. Each block's last batch norm starts at zero (Goyal et al., 2017,
  arXiv:1706.02677), which the embedded training budget needs.
- PSP head: Zhao et al., "Pyramid Scene Parsing Network", CVPR 2017 (arXiv:1612.01105), Sec. 3.2:
  pyramid pooling with bins (1, 2, 3, 6), each reduced to 1/4 of the input channels.
- ASPP head: Chen et al., "Rethinking Atrous Convolution for Semantic Image Segmentation"
  (DeepLabv3, arXiv:1706.05587), Sec. 3.3, reusing ``torchvision``'s ``ASPP``. The rates (2, 4, 6)
  scale the paper's (6, 12, 18) to the 12x12 feature map of a 96 px image.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.resnet import conv1x1, conv3x3
from torchvision.models.segmentation.deeplabv3 import ASPP

from .small_vgg import init_weights
from .wrap import SegModel

DEPTHS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}


class DilatedBasicBlock(nn.Module):
    """ResNet BasicBlock (two 3x3 convs and a shortcut) that also accepts ``dilation > 1``."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1, dilation: int = 1):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride, dilation=dilation)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, dilation=dilation)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(conv1x1(inplanes, planes, stride), nn.BatchNorm2d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNetBackbone(nn.Module):
    """ResNet-18/34 trunk (stem + 4 layers), optionally dilated to output stride 8.

    Args:
        depth: 18 or 34.
        width: stem / layer1 channels (torchvision: 64).
        dilated: if True, layer3 and layer4 use dilation 2 and 4 instead of stride 2 (output stride 8);
            else the classification layout (output stride 32).

    Shape:
        ``(N,3,H,W) -> (N, 8*width, H/8, W/8)`` (dilated) or ``(N, 8*width, H/32, W/32)``.
    """

    def __init__(self, depth: int = 18, width: int = 16, dilated: bool = True):
        super().__init__()
        if depth not in DEPTHS:
            raise ValueError(f"ResNet depth must be one of {sorted(DEPTHS)}, got {depth}")
        if width < 1:
            raise ValueError(f"width must be a positive integer, got {width}")
        self.out_channels = 8 * width
        self.stem = nn.Sequential(
            nn.Conv2d(3, width, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        strides = (1, 2, 1, 1) if dilated else (1, 2, 2, 2)
        dilations = (1, 1, 2, 4) if dilated else (1, 1, 1, 1)
        layers, inplanes, previous = [], width, 1
        for i, blocks in enumerate(DEPTHS[depth]):
            planes = width * 2 ** i
            # as torchvision's replace_stride_with_dilation: the first block keeps the previous dilation
            seq = [DilatedBasicBlock(inplanes, planes, strides[i], previous)]
            seq += [DilatedBasicBlock(planes, planes, 1, dilations[i]) for _ in range(blocks - 1)]
            layers.append(nn.Sequential(*seq))
            inplanes, previous = planes, dilations[i]
        self.layers = nn.Sequential(*layers)
        init_weights(self)
        for m in self.modules():
            if isinstance(m, DilatedBasicBlock):
                nn.init.zeros_(m.bn2.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(self.stem(x))


class PyramidPooling(nn.Module):
    """PSPNet's pyramid pooling module (Zhao et al. 2017, Sec. 3.2, Fig. 3).

    Shape: ``(N, C, h, w) -> (N, 2C, h, w)`` (input plus ``len(bins)`` maps of ``C/len(bins)`` channels).
    """

    def __init__(self, in_channels: int, bins: Sequence[int] = (1, 2, 3, 6)):
        super().__init__()
        reduced = max(1, in_channels // len(bins))
        self.branches = nn.ModuleList(
            nn.Sequential(nn.AdaptiveAvgPool2d(b), nn.Conv2d(in_channels, reduced, 1, bias=False),
                          nn.BatchNorm2d(reduced), nn.ReLU(inplace=True))
            for b in bins
        )
        self.out_channels = in_channels + reduced * len(bins)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        pooled = [F.interpolate(b(x), size=size, mode="bilinear", align_corners=False) for b in self.branches]
        return torch.cat([x, *pooled], dim=1)


class DilatedResNetSeg(SegModel):
    """Dilated ResNet-18/34 (output stride 8) with a PSP (``head="psp"``) or ASPP (``head="aspp"``) head.

    Args:
        num_classes: number of output classes.
        depth: 18 or 34.
        width: stem channels (16 = torchvision / 4).
        head: ``"psp"`` (bins 1, 2, 3, 6; bottleneck ``8 * width`` channels, PSPNet's 512 / 4) or
            ``"aspp"`` (rates 2, 4, 6; ``4 * width`` channels, torchvision DeepLabHead's 256 / 4).
        name: the zoo name recorded in ``config``.

    Shape:
        input ``(N,3,H,W)`` in [0,1]; logits ``(N,C,H,W)``; features ``(N, D, H/8, W/8)`` with
        ``D = 8 * width`` (PSP) or ``4 * width`` (ASPP): the input of the final 1x1 classifier.
    """

    def __init__(self, num_classes: int, depth: int = 18, width: int = 16, head: str = "psp",
                 name: str | None = None):
        heads = ("psp", "aspp")
        if head not in heads:
            raise ValueError(f"unknown head {head!r}; valid heads: {list(heads)}")
        name = name or f"{'psp' if head == 'psp' else 'dlv3'}_r{depth}"
        super().__init__(num_classes, config={"name": name, "width": width})
        self.backbone = ResNetBackbone(depth, width, dilated=True)
        c = self.backbone.out_channels
        if head == "psp":
            ppm = PyramidPooling(c)
            mid = 8 * width
            self.head = nn.Sequential(ppm, nn.Conv2d(ppm.out_channels, mid, 3, padding=1, bias=False),
                                      nn.BatchNorm2d(mid), nn.ReLU(inplace=True))
        else:
            mid = 4 * width
            self.head = nn.Sequential(ASPP(c, (2, 4, 6), out_channels=mid),
                                      nn.Conv2d(mid, mid, 3, padding=1, bias=False),
                                      nn.BatchNorm2d(mid), nn.ReLU(inplace=True))
        init_weights(self.head)
        self.dropout = nn.Dropout2d(0.1)
        self.classifier = nn.Conv2d(mid, num_classes, 1)

    def _run(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self.head(self.backbone(x))
        return self.classifier(self.dropout(feats)), feats
