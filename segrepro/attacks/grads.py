"""Gradient transforms: momentum (MI-FGSM) and translation-invariant smoothing (TI-FGSM).

They compose in the order written: ``ti+mi`` smooths then accumulates momentum (Dong et al.
2019's TI-MI order, TI "before the MI normalisation"); ``mi+ti`` smooths the momentum instead.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from segrepro.attacks.parts import GradTransform, Param, in_range


def momentum_update(momentum: torch.Tensor | None, grad: torch.Tensor, decay: float = 1.0) -> torch.Tensor:
    """MI-FGSM momentum (Dong et al., CVPR 2018, Alg. 1; spec "Baselines").

    ``m_t = mu m_{t-1} + g_t / mean(|g_t|)`` per sample.

    The L1 normalisation is the per-sample mean of ``|g|`` over ``(C,H,W)`` (clamped away from 0).

    Shape: ``(N,C,H,W) -> (N,C,H,W)``; ``momentum=None`` means ``m_0 = 0``.
    """
    normed = grad / grad.abs().mean(dim=(1, 2, 3), keepdim=True).clamp(min=1e-12)
    return normed if momentum is None else decay * momentum + normed


def gaussian_kernel(size: int = 7, nsig: float = 3.0, *, device=None, dtype=torch.float32) -> torch.Tensor:
    """TI's normalised 2-D Gaussian: ``outer(g, g) / sum``, ``g = exp(-x^2 / 2)``, ``x = linspace(-nsig, nsig, size)``.

    Shape: ``(size, size)``, sums to 1.
    """
    x = torch.linspace(-nsig, nsig, size, device=device, dtype=dtype)
    g = torch.exp(-x ** 2 / 2)
    kernel = torch.outer(g, g)
    return kernel / kernel.sum()


def ti_smooth(grad: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """TI-FGSM smoothing (Dong et al., CVPR 2019; spec "Baselines").

    Depth-wise convolution of the gradient with ``kernel``.

    Zero padding keeps the size. Shape: ``(N,C,H,W) -> (N,C,H,W)``.
    """
    channels, k = grad.shape[1], kernel.shape[-1]
    weight = kernel.to(grad.dtype).expand(channels, 1, k, k)
    return F.conv2d(grad, weight, padding=k // 2, groups=channels)


def _odd(value) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1 and value % 2 == 1
    return None if ok else f"must be a positive odd int, got {value!r}"


class Momentum(GradTransform):
    """MI: step on ``sign(m_t)`` (Dong et al., CVPR 2018). State: ``ctx.momentum``."""

    name = "mi"
    params = {"decay": Param(1.0, "[ref: Dong et al. 2018]", "momentum factor mu", in_range(0.0, 10.0))}

    def setup(self, ctx):
        ctx.momentum = None

    def apply(self, grad, ctx):
        ctx.momentum = momentum_update(ctx.momentum, grad, ctx.params["decay"])
        return ctx.momentum


class TranslationInvariant(GradTransform):
    """TI: Gaussian smoothing of the gradient (Dong et al., CVPR 2019)."""

    name = "ti"
    params = {"kernel_size": Param(7, "[ref: Dong et al. 2019 use 15; 7 is ours for 96-px images]",
                                   "Gaussian kernel side", _odd)}

    def setup(self, ctx):
        ctx.ti_kernel = gaussian_kernel(ctx.params["kernel_size"], device=ctx.device)

    def apply(self, grad, ctx):
        return ti_smooth(grad, ctx.ti_kernel)
