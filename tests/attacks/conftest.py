"""Fixtures for the attack tests: a tiny SegModel (random and trained) and a small batch."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from segrepro.models.wrap import SegModel


class TinyNet(SegModel):
    """Two convs at half resolution: features ``(N,8,H/2,W/2)``, logits upsampled by the contract."""

    def __init__(self, num_classes: int = 3, width: int = 8):
        super().__init__(num_classes, config={"name": "tiny", "width": width})
        self.body = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(width, width, 3, stride=2, padding=1), nn.ReLU(),
                                  nn.Conv2d(width, width, 3, padding=1), nn.ReLU())
        self.head = nn.Conv2d(width, num_classes, 1)

    def _run(self, x):
        feats = self.body(x)
        return self.head(feats), feats


def make_toy(n: int, size: int = 32, seed: int = 0):
    """Easy task: background (class 0) plus a red square (1) and a blue disc-ish square (2), noise 0.05."""
    g = torch.Generator().manual_seed(seed)
    images = torch.full((n, 3, size, size), 0.5)
    labels = torch.zeros((n, size, size), dtype=torch.int64)
    for i in range(n):
        for cls, colour in ((1, (0.9, 0.1, 0.1)), (2, (0.1, 0.1, 0.9))):
            side = int(torch.randint(size // 4, size // 2, (1,), generator=g))
            r, c = (int(v) for v in torch.randint(0, size - side, (2,), generator=g))
            images[i, :, r:r + side, c:c + side] = torch.tensor(colour)[:, None, None]
            labels[i, r:r + side, c:c + side] = cls
    images = (images + 0.05 * torch.randn(images.shape, generator=g)).clamp(0, 1)
    return images, labels


@pytest.fixture(scope="session")
def make_toy_data():
    """The toy-task generator :func:`make_toy` (fixtures cannot be imported across test modules)."""
    return make_toy


@pytest.fixture
def tiny_model():
    torch.manual_seed(0)
    return TinyNet()


@pytest.fixture
def batch():
    images, labels = make_toy(2, size=32, seed=1)
    labels[:, :2] = 255  # some ignored pixels
    return images, labels


@pytest.fixture(scope="session")
def trained_model():
    """A TinyNet trained for a few seconds to high clean mIoU on the toy task."""
    torch.manual_seed(0)
    model = TinyNet(width=16)
    images, labels = make_toy(256, size=32, seed=2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for epoch in range(6):
        perm = torch.randperm(len(images))
        for i in range(0, len(images), 32):
            idx = perm[i:i + 32]
            loss = nn.functional.cross_entropy(model(images[idx]), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    return model
