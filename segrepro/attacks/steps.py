"""The step and projection, a named, replaceable part of every method (``step="linf"|"l2"``).

- ``linf`` (the spec's threat model, BIM/PGD; DS Eq. 3, RP-PGD Eq. 9):
  ``x_{t+1} = clip(clip(x_t + alpha sign(g_t), x - eps, x + eps), 0, 1)``;
  random start ``x_0 = clip(x + U(-eps, eps), 0, 1)`` (Madry et al.; RP-PGD Eq. 8).
- ``l2`` (ours, for adversarial training variants): ``x_t + alpha g / ||g||_2`` per sample, then
  the L2 ball of radius ``eps`` around ``x`` and [0,1]; random start ``eps * u * d / ||d||``
  with ``d ~ N(0, I)``, ``u ~ U(0,1)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch


def _per_sample_norm(t: torch.Tensor) -> torch.Tensor:
    return t.flatten(1).norm(dim=1).clamp(min=1e-12).view(-1, *([1] * (t.dim() - 1)))


def linf_bounds(x0: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The box ``[x - eps, x + eps] ∩ [0, 1]``, computed once so each step is one clamp."""
    return (x0 - eps).clamp(min=0.0), (x0 + eps).clamp(max=1.0)


def linf_step(x: torch.Tensor, grad: torch.Tensor, x0: torch.Tensor, eps: float, alpha: float,
              bounds: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """Sign step of size ``alpha`` and projection onto the L-inf ball and [0,1]. Shape: ``(N,3,H,W)``."""
    lo, hi = bounds if bounds is not None else linf_bounds(x0, eps)
    return torch.clamp(x + alpha * grad.sign(), min=lo, max=hi)


def linf_start(x0: torch.Tensor, eps: float, generator: torch.Generator) -> torch.Tensor:
    """``clip(x + U(-eps, eps), 0, 1)`` drawn from ``generator`` (on ``x0``'s device)."""
    noise = torch.rand(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    return (x0 + (2 * noise - 1) * eps).clamp(0.0, 1.0)


def l2_project(x: torch.Tensor, x0: torch.Tensor, eps: float) -> torch.Tensor:
    delta = x - x0
    delta = delta * (eps / _per_sample_norm(delta)).clamp(max=1.0)
    return (x0 + delta).clamp(0.0, 1.0)


def l2_step(x: torch.Tensor, grad: torch.Tensor, x0: torch.Tensor, eps: float, alpha: float,
            bounds=None) -> torch.Tensor:
    """Normalised-gradient step ``alpha g / ||g||_2`` (per sample), L2-ball and [0,1] projection."""
    return l2_project(x + alpha * grad / _per_sample_norm(grad), x0, eps)


def l2_start(x0: torch.Tensor, eps: float, generator: torch.Generator) -> torch.Tensor:
    direction = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)
    radius = torch.rand((x0.shape[0],) + (1,) * (x0.dim() - 1), generator=generator, device=x0.device,
                        dtype=x0.dtype) * eps
    return l2_project(x0 + radius * direction / _per_sample_norm(direction), x0, eps)


@dataclass(frozen=True)
class Step:
    """A step rule: ``update(x, grad, x0, eps, alpha, bounds)``, ``start(x0, eps, generator)``, ``distance``."""

    name: str
    update: Callable
    start: Callable
    bounds: Callable | None
    distance: Callable[[torch.Tensor], torch.Tensor]


STEPS: dict[str, Step] = {
    "linf": Step("linf", linf_step, linf_start, linf_bounds, lambda d: d.flatten(1).abs().amax(1)),
    "l2": Step("l2", l2_step, l2_start, None, lambda d: d.flatten(1).norm(dim=1)),
}


def get_step(name: str) -> Step:
    """The step rule called ``name``; unknown names fail with the valid ones."""
    if name not in STEPS:
        raise ValueError(f"unknown step {name!r}; valid steps: {sorted(STEPS)}")
    return STEPS[name]
