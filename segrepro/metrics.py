"""Segmentation metrics of the study (spec/methods.md, "Metrics").

- mIoU: one confusion matrix accumulated over every evaluated pixel (255 ignored),
  ``IoU_c = TP / (TP + FP + FN)``, averaged over the classes whose union is non-zero (as
  MMSegmentation does).
- MisRatio (after SegPGD, Gu et al. 2022): fraction of valid pixels whose prediction differs from
  the label.
- Attack success rate (ours): fraction of valid pixels predicted correctly on the clean image that
  are mispredicted on the adversarial one; relative mIoU drop ``1 - mIoU_adv / mIoU_clean``.

Every metric is computed once, from counts (:class:`Counts`: the confusion matrix plus, against a
clean prediction, the clean-correct and flipped pixel counts). Counts add up over batches, so a
runner can accumulate them and drop the predictions; the grid runner, the robustness battery and
the tensor-level helpers (:func:`mis_ratio`, :func:`attack_success_rate`) all go through them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable

import torch
from torch import nn

from .devices import resolve_device
from .validation import IGNORE_INDEX, check_images, check_labels


def _check_pair(pred: torch.Tensor, target: torch.Tensor, names: tuple[str, str] = ("pred", "target")) -> None:
    for t, name in zip((pred, target), names):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
            raise TypeError(f"{name} must hold integer class ids, got dtype {t.dtype}")
    if pred.shape != target.shape:
        raise ValueError(f"{names[0]} of shape {tuple(pred.shape)} does not match {names[1]} of shape {tuple(target.shape)}")


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int,
                     ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """Confusion matrix of predicted vs. true class ids, ignoring ``ignore_index`` pixels.

    Args:
        pred: predicted class ids, any shape.
        target: true class ids (or ``ignore_index``), same shape as ``pred``.
        num_classes: number of classes ``C``.
        ignore_index: label value excluded from the count.

    Returns:
        int64 tensor ``(C, C)`` on ``target``'s device; entry ``[t, p]`` counts pixels of true class
        ``t`` predicted as ``p`` (rows = target).

    Raises:
        ValueError: on mismatched shapes or class ids outside ``0..C-1``.
    """
    _check_pair(pred, target)
    pred = pred.to(target.device)
    valid = target != ignore_index
    t, p = target[valid].long(), pred[valid].long()
    if t.numel() and (t.min() < 0 or t.max() >= num_classes):
        raise ValueError(f"target holds class ids outside 0..{num_classes - 1} (and {ignore_index} = ignore)")
    if p.numel() and (p.min() < 0 or p.max() >= num_classes):
        raise ValueError(f"pred holds class ids outside 0..{num_classes - 1}")
    counts = torch.bincount(t * num_classes + p, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def per_class_iou(conf: torch.Tensor) -> torch.Tensor:
    """``IoU_c = TP / (TP + FP + FN)`` per class; NaN where the union is 0 (class absent and never predicted).

    Shape: ``(C, C)`` int -> ``(C,)`` float64.
    """
    if not isinstance(conf, torch.Tensor) or conf.dim() != 2 or conf.shape[0] != conf.shape[1]:
        raise ValueError(f"conf must be a square (C,C) tensor, got {getattr(conf, 'shape', type(conf).__name__)}")
    conf = conf.double()
    tp = conf.diag()
    union = conf.sum(0) + conf.sum(1) - tp
    return torch.where(union > 0, tp / union.clamp_min(1), torch.full_like(tp, math.nan))


def miou(conf: torch.Tensor) -> float:
    """Mean IoU over the classes whose union is non-zero; NaN if there is none."""
    iou = per_class_iou(conf)
    present = ~iou.isnan()
    return float(iou[present].mean()) if present.any() else math.nan


def pixel_accuracy(conf: torch.Tensor) -> float:
    """Fraction of counted (non-ignored) pixels predicted correctly; NaN if none is counted."""
    total = conf.sum()
    return float(conf.diag().sum().double() / total) if total > 0 else math.nan


def rate(part: int, whole: int) -> float:
    """``part / whole`` of two pixel counts; NaN when ``whole`` is 0 (nothing to count)."""
    return part / whole if whole else math.nan


def error_rate(conf: torch.Tensor) -> float:
    """MisRatio (SegPGD, Gu et al. 2022) of a confusion matrix: counted pixels off the diagonal / all counted."""
    total = int(conf.sum())
    return rate(total - int(conf.diag().sum()), total)


@dataclass
class Counts:
    """Pixel counts of one prediction set, the source of every metric; ``a + b`` adds two batches.

    Attributes:
        conf: Confusion matrix ``(C, C)`` int64 (rows = target), ignored pixels left out.
        clean_right: Valid pixels that the clean prediction gets right (0 without one).
        flipped: Of those, pixels that this prediction gets wrong (the attack's successes).
    """

    conf: torch.Tensor
    clean_right: int = 0
    flipped: int = 0

    @classmethod
    def of(cls, pred: torch.Tensor, target: torch.Tensor, num_classes: int, clean_pred: torch.Tensor | None = None,
           ignore_index: int = IGNORE_INDEX) -> "Counts":
        """Count ``pred`` against ``target`` (and against ``clean_pred`` when given).

        Shape: ``pred``, ``target`` and ``clean_pred`` the same, any shape, integer class ids.
        """
        conf = confusion_matrix(pred, target, num_classes, ignore_index)
        if clean_pred is None:
            return cls(conf)
        _check_pair(clean_pred, target, ("clean_pred", "target"))
        right = (target != ignore_index) & (clean_pred.to(target.device) == target)
        flipped = right & (pred.to(target.device) != target)
        return cls(conf, int(right.sum()), int(flipped.sum()))

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(self.conf + other.conf, self.clean_right + other.clean_right, self.flipped + other.flipped)

    @property
    def miou(self) -> float:
        return miou(self.conf)

    @property
    def mis_ratio(self) -> float:
        return error_rate(self.conf)

    @property
    def asr(self) -> float:
        """Attack success rate [ours]: ``flipped / clean_right`` (NaN when no pixel was right)."""
        return rate(self.flipped, self.clean_right)


def _classes(ignore_index: int, *labels: torch.Tensor) -> int:
    """Enough classes for every id in ``labels`` (ignored ones aside): the largest id + 1."""
    ids = [t[t != ignore_index] for t in labels]
    return max([1, *(int(t.max()) + 1 for t in ids if t.numel())])


def mis_ratio(pred: torch.Tensor, target: torch.Tensor, ignore_index: int = IGNORE_INDEX) -> float:
    """MisRatio (SegPGD, Gu et al. 2022): fraction of valid pixels with ``pred != target``; NaN if none is valid."""
    _check_pair(pred, target)
    return Counts.of(pred, target, _classes(ignore_index, pred, target), ignore_index=ignore_index).mis_ratio


def attack_success_rate(clean_pred: torch.Tensor, adv_pred: torch.Tensor, target: torch.Tensor,
                        ignore_index: int = IGNORE_INDEX) -> float:
    """Fraction of valid pixels correct on the clean image that the attack makes wrong [ours].

    Returns NaN when no valid pixel is correct on the clean image.
    """
    _check_pair(adv_pred, target, ("adv_pred", "target"))
    n = _classes(ignore_index, clean_pred, adv_pred, target)
    return Counts.of(adv_pred, target, n, clean_pred=clean_pred, ignore_index=ignore_index).asr


def relative_drop(miou_adv: float, miou_clean: float) -> float:
    """Relative mIoU drop ``1 - mIoU_adv / mIoU_clean``; NaN when the clean mIoU is 0 (or NaN)."""
    return 1.0 - miou_adv / miou_clean if miou_clean else math.nan


def _model_device(model: nn.Module, fallback: torch.device) -> torch.device:
    param = next(iter(model.parameters()), None)
    return param.device if param is not None else fallback


def class_argmax(logits: torch.Tensor) -> torch.Tensor:
    """``logits.argmax(1)`` (first maximum on ties), computed through ``amax``.

    On CPU, ``argmax`` over the channel dimension of an ``(N,C,H,W)`` tensor is slow (133 ms at
    32x10x96x96 on one thread, 18 % of a TranSegPGD iteration); this form takes 10 ms: the first
    maximum is the one with the largest reversed index ``C - c``.

    Shape: ``(N,C,H,W) -> (N,H,W)`` int64.
    """
    num = logits.shape[1]
    reversed_ids = torch.arange(num, 0, -1, device=logits.device, dtype=logits.dtype).view(1, -1, 1, 1)
    is_top = logits == logits.amax(1, keepdim=True)
    return (num - (is_top * reversed_ids).amax(1)).long()


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
    """Predicted class ids (argmax of the logits), computed in eval mode without gradients.

    Args:
        model: a contract model (input [0,1], logits ``(N,C,H,W)``).
        images: float ``(N,3,H,W)`` in [0,1], on any device (moved to the model's device per batch).
        batch_size: images per forward pass.

    Returns:
        int64 ``(N,H,W)`` on ``images``'s device.
    """
    check_images(images)
    device = _model_device(model, images.device)
    was_training = model.training
    model.eval()
    try:
        out = [class_argmax(model(images[i:i + batch_size].to(device))).to(images.device)
               for i in range(0, len(images), batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(out) if out else torch.zeros((0, *images.shape[-2:]), dtype=torch.long, device=images.device)


def _batches(data: Any, batch_size: int) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(images, labels)`` batches from a tensor pair, a Dataset, or an iterable of batches."""
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data):
        images, labels = data
        for i in range(0, len(images), batch_size):
            yield images[i:i + batch_size], labels[i:i + batch_size]
    elif hasattr(data, "__getitem__") and hasattr(data, "__len__"):
        for i in range(0, len(data), batch_size):
            idx = list(range(i, min(i + batch_size, len(data))))
            if callable(getattr(data, "tensors", None)):  # SyntheticSegmentation's fast batched path
                yield data.tensors(idx)
            else:
                items = [data[j] for j in idx]
                yield torch.stack([x for x, _ in items]), torch.stack([torch.as_tensor(y) for _, y in items])
    elif isinstance(data, Iterable):  # a DataLoader
        yield from data
    else:
        raise TypeError("data must be a Dataset, a DataLoader or an (images, labels) tensor pair, "
                        f"got {type(data).__name__}")


def evaluate(model: nn.Module, data: Any, batch_size: int = 32, device: torch.device | str | None = None) -> dict:
    """Evaluate ``model`` on a dataset and return a tidy record.

    Args:
        model: a contract model with ``num_classes``.
        data: a Dataset of ``(image, label)``, a DataLoader of batches, or an ``(images, labels)`` pair.
        batch_size: images per forward pass (ignored for a DataLoader).
        device: where to run; default the model's device. The model is moved there.

    Returns:
        ``{"miou", "pixel_accuracy", "mis_ratio", "n_images", "n_pixels", "per_class_iou"}``; the
        last is a list of floats (NaN for classes absent from labels and predictions).
    """
    num_classes = getattr(model, "num_classes", None)
    if not isinstance(num_classes, int):
        raise TypeError("evaluate needs a model with an integer num_classes attribute")
    if device is not None:
        model.to(resolve_device(device))
    device = _model_device(model, torch.device("cpu"))
    conf = torch.zeros(num_classes, num_classes, dtype=torch.long, device=device)
    n_images = 0
    for images, labels in _batches(data, batch_size):
        check_images(images)
        check_labels(labels, num_classes, images=images)
        labels = labels.to(device)
        conf += confusion_matrix(predict(model, images.to(device), batch_size), labels, num_classes)
        n_images += len(images)
    if n_images == 0:
        raise ValueError("evaluate got no images")
    acc = pixel_accuracy(conf)
    return {"miou": miou(conf), "pixel_accuracy": acc, "mis_ratio": 1.0 - acc, "n_images": n_images,
            "n_pixels": int(conf.sum()), "per_class_iou": per_class_iou(conf).tolist()}
