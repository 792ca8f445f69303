"""MI momentum, TI kernel and the L-inf / L2 steps (hand-computed values)."""
import math

import pytest
import torch

from segrepro.attacks import grads as G
from segrepro.attacks import steps as S


def test_momentum_normalises_per_sample():
    g = torch.tensor([[1.0, -3.0], [2.0, 2.0]]).view(2, 1, 1, 2)   # mean |g| = 2 for both samples
    m1 = G.momentum_update(None, g)
    assert torch.allclose(m1.flatten(1), torch.tensor([[0.5, -1.5], [1.0, 1.0]]))
    g2 = torch.tensor([[4.0, 0.0], [0.0, -1.0]]).view(2, 1, 1, 2)  # mean |g| = 2 and 0.5
    m2 = G.momentum_update(m1, g2, decay=0.5)
    assert torch.allclose(m2.flatten(1), torch.tensor([[0.25 + 2.0, -0.75], [0.5, 0.5 - 2.0]]))
    assert torch.equal(G.momentum_update(None, torch.zeros(1, 1, 1, 2)), torch.zeros(1, 1, 1, 2))


def test_gaussian_kernel_values():
    k = G.gaussian_kernel(3, nsig=1.0)                  # g = (e^-1/2, 1, e^-1/2)
    total = (1 + 2 * math.exp(-0.5)) ** 2
    assert k[1, 1].item() == pytest.approx(1 / total)
    assert k[0, 1].item() == pytest.approx(math.exp(-0.5) / total)
    assert k[0, 0].item() == pytest.approx(math.exp(-1.0) / total)
    k7 = G.gaussian_kernel(7)
    assert k7.sum().item() == pytest.approx(1.0) and torch.equal(k7, k7.T) and k7.argmax().item() == 24


def test_ti_smooth_is_depthwise_convolution():
    grad = torch.zeros(1, 3, 7, 7)
    grad[0, 1, 3, 3] = 1.0                               # an impulse in channel 1 only
    kernel = G.gaussian_kernel(3, nsig=1.0)
    out = G.ti_smooth(grad, kernel)
    assert torch.allclose(out[0, 1, 2:5, 2:5], kernel)   # the impulse response is the kernel
    assert out[0, 0].abs().sum() == 0 and out[0, 2].abs().sum() == 0 and out[0, 1].sum() == pytest.approx(1.0)


def test_linf_step_and_projection():
    x0 = torch.tensor([0.5, 0.5, 0.99, 0.01]).view(1, 1, 2, 2)
    x = torch.tensor([0.52, 0.5, 0.99, 0.01]).view(1, 1, 2, 2)
    grad = torch.tensor([1.0, 0.0, 1.0, -1.0]).view(1, 1, 2, 2)
    out = S.linf_step(x, grad, x0, eps=0.03, alpha=0.02)
    # 0.54 clipped to x0 + eps; zero gradient does not move; [0,1] clip at both ends
    assert torch.allclose(out.flatten(), torch.tensor([0.53, 0.5, 1.0, 0.0]))


def test_l2_step_and_projection():
    x0 = torch.full((1, 1, 1, 2), 0.5)
    grad = torch.tensor([3.0, 4.0]).view(1, 1, 1, 2)     # unit direction (0.6, 0.8)
    out = S.l2_step(x0, grad, x0, eps=1.0, alpha=0.1)
    assert torch.allclose(out.flatten(), torch.tensor([0.56, 0.58]))
    far = S.l2_step(x0, grad, x0, eps=0.05, alpha=0.1)  # projected back to radius 0.05
    assert (far - x0).norm().item() == pytest.approx(0.05, abs=1e-6)


def test_random_starts_stay_in_the_ball():
    x0 = torch.rand(2, 3, 8, 8)
    gen = torch.Generator().manual_seed(0)
    start = S.linf_start(x0, 0.03, gen)
    assert (start - x0).abs().max() <= 0.03 + 1e-6 and start.min() >= 0 and start.max() <= 1
    start = S.l2_start(x0, 0.5, gen)
    assert (start - x0).flatten(1).norm(dim=1).max() <= 0.5 + 1e-5


def test_unknown_step_lists_valid_ones():
    with pytest.raises(ValueError, match="linf"):
        S.get_step("l1")
