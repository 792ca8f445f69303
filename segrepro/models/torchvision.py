"""torchvision's segmentation models wrapped to the segrepro contract.

``fcn_resnet50/101``, ``deeplabv3_resnet50/101``, ``deeplabv3_mobilenet_v3_large`` and
``lraspp_mobilenet_v3_large`` are built with ``weights=None, weights_backbone=None`` (never a
download) and without the auxiliary head; trained weights come from a local file, e.g. torchvision's
released ``*_coco-*.pth`` (21 VOC classes) copied onto the machine, or a state dict saved by the user.

Normalisation (ImageNet mean/std, as torchvision's weights expect) happens inside the wrapper.
The penultimate features for RP-PGD are the input of the head's final 1x1 convolution, taken from
the same forward pass by running the head's layers explicitly:
FCN / DeepLabV3: all but the last layer of ``classifier`` applied to ``backbone(x)["out"]`` (512 resp. 256 channels, output stride 8
for the ResNets, 16 for MobileNetV3). LR-ASPP has two final 1x1 convs whose outputs are summed; the
logits are one linear map of the concatenation ``[low, upsampled high branch]`` (40 + 128 channels,
stride 8), so that concatenation is returned.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .wrap import SegModel

TORCHVISION_MODELS = (
    "fcn_resnet50", "fcn_resnet101", "deeplabv3_resnet50", "deeplabv3_resnet101",
    "deeplabv3_mobilenet_v3_large", "lraspp_mobilenet_v3_large",
)


def available() -> list[str]:
    """Names accepted by :func:`build_torchvision`."""
    return list(TORCHVISION_MODELS)


class TorchvisionSegModel(SegModel):
    """A torchvision segmentation network (``self.net``) behind the contract.

    Shape:
        input (N,3,H,W) in [0,1] -> logits (N,C,H,W); features (N,D,h,w) with D as in the module docstring.
    """

    def __init__(self, name: str, net: nn.Module, num_classes: int):
        super().__init__(num_classes, config={"name": name, "source": "torchvision"})
        self.net = net
        self.is_lraspp = name.startswith("lraspp")

    def _run(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        parts = self.net.backbone(x)
        head = self.net.classifier
        if self.is_lraspp:
            low, high = parts["low"], parts["high"]
            up = F.interpolate(head.cbr(high) * head.scale(high), size=low.shape[-2:], mode="bilinear",
                               align_corners=False)
            return head.low_classifier(low) + head.high_classifier(up), torch.cat([low, up], dim=1)
        feats = parts["out"]
        for layer in list(head)[:-1]:  # FCNHead/DeepLabHead are Sequentials ending in the 1x1 classifier
            feats = layer(feats)
        return head[-1](feats), feats


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise FileNotFoundError(f"weights file {str(path)!r} does not exist (no download is attempted; "
                                "copy torchvision's .pth or your own state dict there)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # corrupt file or a pickle holding arbitrary objects
        raise ValueError(f"cannot read weights file {str(path)!r} as a PyTorch state dict: {err}") from err
    for key in ("state_dict", "model"):  # segrepro checkpoints and common training-script wrappers
        if isinstance(payload, dict) and isinstance(payload.get(key), dict):
            payload = payload[key]
    if not isinstance(payload, dict) or not all(isinstance(v, torch.Tensor) for v in payload.values()):
        raise ValueError(f"weights file {str(path)!r} does not hold a state dict of tensors")
    state = {}
    for key, value in payload.items():
        key = key.removeprefix("module.").removeprefix("net.")
        if not key.startswith("aux_classifier."):  # released weights carry the training-only aux head
            state[key] = value
    return state


def load_weights(model: TorchvisionSegModel, path: str | Path) -> TorchvisionSegModel:
    """Load a local state dict into ``model.net`` strictly.

    Accepts torchvision's released files, ``model.net.state_dict()``, ``model.state_dict()`` or a
    segrepro checkpoint; ``module.`` prefixes (DataParallel) and ``aux_classifier.*`` keys are dropped.

    Raises:
        FileNotFoundError: no such file. ValueError: unreadable file, or weights that do not fit
        (wrong architecture or class count), naming the first mismatching keys.
    """
    state = _read_state_dict(Path(path))
    own = model.net.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        detail = "; ".join(part for part in (
            f"missing keys {missing[:3]}{' ...' if len(missing) > 3 else ''}" if missing else "",
            f"unexpected keys {unexpected[:3]}{' ...' if len(unexpected) > 3 else ''}" if unexpected else "",
            f"shape mismatch {shapes[:2]}" if shapes else "") if part)
        raise ValueError(f"weights file {str(path)!r} does not fit {model.config['name']} with "
                         f"num_classes={model.num_classes}: {detail}")
    model.net.load_state_dict(state, strict=True)
    return model


def build_torchvision(name: str, num_classes: int = 21, weights: str | Path | None = None) -> TorchvisionSegModel:
    """Build a torchvision segmentation model behind the contract, in eval mode.

    Args:
        name: one of :func:`available` (e.g. ``"deeplabv3_resnet50"``).
        num_classes: output classes (21 for VOC incl. background, 19 for Cityscapes).
        weights: None (random init; backbone not pretrained) or the path of a local state-dict file.

    Returns:
        A :class:`TorchvisionSegModel` in eval mode.

    Raises:
        ValueError: unknown name (lists the valid ones), bad ``num_classes``, or mismatching weights.
        TypeError: ``weights`` given as something other than a path (e.g. a torchvision enum, which
            would trigger a download).
    """
    from torchvision.models import segmentation

    if name not in TORCHVISION_MODELS:
        raise ValueError(f"unknown torchvision model {name!r}; valid: {list(TORCHVISION_MODELS)}")
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    if weights is not None and not isinstance(weights, (str, Path)):
        raise TypeError(f"weights must be None or the path of a local file, got {type(weights).__name__} "
                        "(segrepro never downloads weights)")
    net = getattr(segmentation, name)(weights=None, weights_backbone=None, num_classes=num_classes,
                                      aux_loss=False)
    model = TorchvisionSegModel(name, net, num_classes)
    if weights is not None:
        load_weights(model, weights)
    return model.eval()
