"""The study's reduced-width segmentation nets, trained from scratch on the synthetic presets.

Split by backbone to keep modules small: :mod:`segrepro.models.small_vgg` (FCN-8s/16s on VGG16-BN)
and :mod:`segrepro.models.small_resnet` (dilated ResNet-18/34 with PSP or ASPP heads). Build them by
name through :func:`segrepro.models.build`.
"""
from .small_resnet import DilatedBasicBlock, DilatedResNetSeg, PyramidPooling, ResNetBackbone
from .small_vgg import FCNVGG16, vgg16_bn_stages

__all__ = ["DilatedBasicBlock", "DilatedResNetSeg", "FCNVGG16", "PyramidPooling", "ResNetBackbone",
           "vgg16_bn_stages"]
