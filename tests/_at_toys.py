"""A per-pixel task where clean training is non-robust and adversarial training is robust, by construction.

Two classes; pixel ``i`` has label ``y_i`` and sign ``s_i = 2 y_i - 1``.

- channel 0 (robust, noisy): ``0.5 + 0.25 * s_i`` on 80 % of the pixels, ``0.5 - 0.25 * s_i`` on the rest;
- channel 1 (non-robust, perfect): ``0.5 + 0.01 * s_i``, a margin three times smaller than eps = 0.03;
- channel 2: 0.5.

:class:`ToyNet` is one 1x1 convolution over inputs normalised to unit scale per feature (std 0.25 and
0.01), so gradient steps move both features' weights alike. Clean training drives the perfect
feature's weight up (it explains every pixel), and an eps = 0.03 attack moves that feature by three
of its units, flipping nearly every pixel. Under attack the perfect feature is reversed, so adversarial
training has to use channel 0 and keeps about 80 % of the pixels under attack.
"""
from __future__ import annotations

import torch
from torch import nn

from segrepro.models.wrap import SegModel


class ToyNet(SegModel):
    """1x1 conv classifier; ``modes`` records ``self.training`` at every forward (eval-mode spy)."""

    def __init__(self, num_classes: int = 2, width: int = 4):
        super().__init__(num_classes, mean=(0.5, 0.5, 0.5), std=(0.25, 0.01, 1.0),
                         config={"name": "toy", "width": width})
        self.head = nn.Conv2d(3, num_classes, 1)
        self.modes: list[bool] = []

    def _run(self, x):
        self.modes.append(self.training)
        return self.head(x), x


class ToyPixels(torch.utils.data.Dataset):
    """The task above: ``length`` images of ``size x size`` pixels, seeded."""

    num_classes, class_names = 2, ["neg", "pos"]

    def __init__(self, length: int, size: int = 8, seed: int = 0, agree: float = 0.8):
        g = torch.Generator().manual_seed(seed)
        self.labels = torch.randint(0, 2, (length, size, size), generator=g)
        sign = 2.0 * self.labels - 1
        flip = torch.where(torch.rand(sign.shape, generator=g) < agree, 1.0, -1.0)
        self.images = torch.stack([0.5 + 0.25 * sign * flip, 0.5 + 0.01 * sign, torch.full_like(sign, 0.5)], 1)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.images[i], self.labels[i]

    def tensors(self, indices=None):
        idx = list(range(len(self))) if indices is None else list(indices)
        return self.images[idx], self.labels[idx]


def install(monkeypatch, tmp_path, val_seed: int = 1):
    """Route ``train_model`` to ToyNet / ToyPixels and the cache to ``tmp_path``."""
    import segrepro.train.core as core

    monkeypatch.setenv("SEGREPRO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(core, "build", lambda name, num_classes, width: ToyNet(num_classes, width))
    monkeypatch.setattr(core, "load_split", lambda config, split: ToyPixels(
        config.train_length if split == "train" else config.val_length,
        seed=config.data_seed if split == "train" else val_seed))
