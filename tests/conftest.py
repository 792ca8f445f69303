"""Tiny fakes for the experiment-runner tests: models and an attack injected into the grid runner."""
from __future__ import annotations

import os

import pytest
import torch

from segrepro.models.wrap import SegModel

torch.set_num_threads(1)  # tiny tensors: threads only add overhead on the shared 2-core machine


class ThresholdSeg(SegModel):
    """Two classes: class 1 wherever the red channel exceeds 0.5 (no normalisation)."""

    def __init__(self):
        super().__init__(2, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), config={"name": "threshold"})

    def _run(self, x):
        one = (x[:, :1] - 0.5) * 10.0
        return torch.cat([torch.zeros_like(one), one], 1), x


class TinySeg(SegModel):
    """A 1x1 convolution with a fixed random init: any number of classes, cheap."""

    def __init__(self, num_classes: int = 3, seed: int = 0):
        super().__init__(num_classes, config={"name": f"tiny{seed}"})
        g = torch.Generator().manual_seed(seed)
        self.conv = torch.nn.Conv2d(3, num_classes, 1)
        with torch.no_grad():
            self.conv.weight.copy_(torch.randn(self.conv.weight.shape, generator=g))

    def _run(self, x):
        return self.conv(x), x


class FakeAttack:
    """Follows ``segrepro.attacks.attack``'s signature; adds ``t * eps / steps`` at iteration t.

    Runs the model with a gradient once per iteration so the pass counters see ``steps`` forwards and
    backwards per image. ``calls`` records (source config name, method, eps, seed, batch size).
    """

    def __init__(self, fail_after: int | None = None):
        self.calls: list[tuple] = []
        self.fail_after = fail_after

    def __call__(self, model, images, labels, method, *, eps=0.03, alpha=0.01, steps=10, snapshots=None,
                 seed=0, **params):
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise KeyboardInterrupt("simulated kill")
        self.calls.append((model.config.get("name"), method, eps, seed, images.shape[0]))
        out = {}
        for t in range(1, steps + 1):
            x = images.clone().requires_grad_(True)
            torch.autograd.grad(model(x).sum(), x)
            out[t] = (images + t * eps / steps).clamp(0, 1)
        return {t: out[t] for t in snapshots} if snapshots else out[steps]


@pytest.fixture
def fake_attack():
    return FakeAttack()


@pytest.fixture
def tiny_models():
    return {name: TinySeg(3, seed) for seed, name in enumerate(("src_a", "src_b", "tgt_c", "tgt_d"))}


@pytest.fixture
def tiny_data():
    g = torch.Generator().manual_seed(0)
    return torch.rand(6, 3, 8, 8, generator=g), torch.randint(0, 3, (6, 8, 8), generator=g)


@pytest.fixture
def make_attack():
    """Factory of fresh :class:`FakeAttack` s (``make_attack(fail_after=2)``)."""
    return FakeAttack


@pytest.fixture
def threshold_model():
    return ThresholdSeg()


@pytest.fixture(scope="session")
def smoke_env(tmp_path_factory):
    """SEGREPRO_RESULTS / SEGREPRO_CACHE in one session folder (the setup notebook and DS study tests share it, so
    the smoke zoo trains once)."""
    root = tmp_path_factory.getbasetemp() / "segrepro-smoke-shared"
    old = {k: os.environ.get(k) for k in ("SEGREPRO_RESULTS", "SEGREPRO_CACHE")}
    os.environ["SEGREPRO_RESULTS"], os.environ["SEGREPRO_CACHE"] = str(root / "results"), str(root / "cache")
    yield root
    for k, v in old.items():
        os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
