"""Fixtures of the fault battery: a tiny contract model with a BN layer, and a small batch."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from segrepro.models.wrap import SegModel


class TinyBN(SegModel):
    """conv -> BN -> ReLU -> 1x1 classifier at full resolution; 3 classes."""

    def __init__(self, num_classes: int = 3):
        super().__init__(num_classes, config={"name": "tiny_bn", "width": 4})
        self.body = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.head = nn.Conv2d(4, num_classes, 1)

    def _run(self, x):
        feats = self.body(x)
        return self.head(feats), feats


@pytest.fixture
def model():
    torch.manual_seed(0)
    return TinyBN().eval()


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    return torch.rand(2, 3, 16, 16, generator=g), torch.randint(0, 3, (2, 16, 16), generator=g)
