"""The model zoo: a table of name -> builder, and ``build`` / ``available``.

Each entry is a reduced-width stand-in (width 16 = torchvision / 4) for a model of the papers:

=============== ===================================== ==========================
name            architecture                          stands in for
=============== ===================================== ==========================
fcn8s_vgg16     FCN-8s, VGG16-BN                      FCN-8s VGG16
fcn16s_vgg16    FCN-16s, VGG16-BN                     FCN-16s VGG16
psp_r18         PSP head, dilated ResNet-18, OS 8     PSPNet ResNet-50
psp_r34         PSP head, dilated ResNet-34, OS 8     PSPNet ResNet-101
dlv3_r18        ASPP head, dilated ResNet-18, OS 8    DeepLabv3 ResNet-50
dlv3_r34        ASPP head, dilated ResNet-34, OS 8    DeepLabv3 ResNet-101
=============== ===================================== ==========================
"""
from __future__ import annotations

from typing import Callable

from .small_resnet import DilatedResNetSeg
from .small_vgg import FCNVGG16
from .wrap import SegModel, check_build

_ZOO: dict[str, Callable[..., SegModel]] = {
    "fcn8s_vgg16": lambda c, w, **kw: FCNVGG16(c, w, stride=8, name="fcn8s_vgg16", **kw),
    "fcn16s_vgg16": lambda c, w, **kw: FCNVGG16(c, w, stride=16, name="fcn16s_vgg16", **kw),
    "psp_r18": lambda c, w, **kw: DilatedResNetSeg(c, 18, w, head="psp", name="psp_r18", **kw),
    "psp_r34": lambda c, w, **kw: DilatedResNetSeg(c, 34, w, head="psp", name="psp_r34", **kw),
    "dlv3_r18": lambda c, w, **kw: DilatedResNetSeg(c, 18, w, head="aspp", name="dlv3_r18", **kw),
    "dlv3_r34": lambda c, w, **kw: DilatedResNetSeg(c, 34, w, head="aspp", name="dlv3_r34", **kw),
}


def available() -> list[str]:
    """Names accepted by :func:`build`, sorted."""
    return sorted(_ZOO)


def build(name: str, num_classes: int, width: int = 16, **kw) -> SegModel:
    """Build a randomly initialised zoo model.

    Args:
        name: one of :func:`available`.
        num_classes: number of output classes (>= 1).
        width: first-stage channels; 16 is torchvision's width / 4.
        **kw: passed to the model class (none needed for the zoo defaults).

    Returns:
        A :class:`~segrepro.models.wrap.SegModel` whose ``config`` records name, num_classes and width.

    Example:
        >>> model = build("psp_r18", num_classes=10)
        >>> model(torch.rand(2, 3, 96, 96)).shape
        torch.Size([2, 10, 96, 96])
    """
    check_build("model", name, available(), num_classes, width)
    return _ZOO[name](num_classes, width, **kw)
