"""Pieces the grid runner needs around the models: prediction at an evaluation scale, pass counting
and saved examples. The metrics themselves are :class:`segrepro.metrics.Counts`.

Multi-scale evaluation (DS Table 4) averages the softmax of the target over :data:`MS_SCALES` and
upsamples back to the label size **[ours: the paper does not list its scales; these are the
usual MMSegmentation test-time scales without flips, capped at 1.5 for the 2-core budget]**.
"""
from __future__ import annotations

import io
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from segrepro.metrics import predict
from segrepro.models.wrap import SegModel
from segrepro.paths import atomic_write_bytes

MS_SCALES = (0.5, 0.75, 1.0, 1.25, 1.5)


def scale_name(scale: float | str) -> str:
    """Canonical text of an evaluation scale: ``"1"``, ``"0.5"``, ``"ms"`` (the ``eval_scale`` column)."""
    if isinstance(scale, str):
        if scale == "ms":
            return scale
        try:
            scale = float(scale)
        except ValueError:
            raise ValueError(f"evaluation scale must be a positive number or 'ms', got {scale!r}") from None
    if not isinstance(scale, (int, float)) or isinstance(scale, bool) or scale <= 0:
        raise ValueError(f"evaluation scale must be a positive number or 'ms', got {scale!r}")
    return f"{float(scale):g}"


class ScaledModel(nn.Module):
    """A model that segments its input at another scale (or multi-scale), logits back at the input size.

    ``scales`` of one value rescales the input by it; several average the softmax over them
    (multi-scale inference). Autocast (``amp``) applies on CUDA only. The wrapper takes the inner
    model's train/eval mode, so ``segrepro.metrics.predict`` restores that mode on it.

    Shape:
        ``(N,3,H,W)`` -> ``(N,C,H,W)`` float32 scores (logits, or summed probabilities for several scales).
    """

    def __init__(self, model: nn.Module, scales: tuple[float, ...] = (1.0,), amp: bool = False):
        super().__init__()
        self.model, self.scales, self.amp = model, tuple(scales), amp
        self.num_classes = getattr(model, "num_classes", None)
        self.train(model.training)

    def _logits_at(self, x: torch.Tensor, scale: float) -> torch.Tensor:
        h, w = x.shape[-2:]
        if scale != 1.0:
            x = F.interpolate(x, size=(round(h * scale), round(w * scale)), mode="bilinear", align_corners=False)
        z = self.model(x)
        if z.shape[-2:] != (h, w):
            z = F.interpolate(z, size=(h, w), mode="bilinear", align_corners=False)
        return z.float()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=x.device.type, enabled=self.amp and x.device.type == "cuda"):
            if len(self.scales) == 1:
                return self._logits_at(x, self.scales[0])
            return sum(self._logits_at(x, s).softmax(1) for s in self.scales)


def segment(model, images: torch.Tensor, scale: float | str = 1.0, batch_size: int = 16,
            amp: bool = False) -> torch.Tensor:
    """Argmax labels of ``model`` on ``images`` segmented at ``scale`` (or multi-scale ``"ms"``).

    ``segrepro.metrics.predict`` on a :class:`ScaledModel`.

    Shape:
        images ``(N,3,H,W)`` -> labels ``(N,H,W)`` int64 at the input size.
    """
    name = scale_name(scale)
    scales = MS_SCALES if name == "ms" else (float(name),)
    return predict(ScaledModel(model, scales, amp), images, batch_size)


class CountingModel(SegModel):
    """Wraps a source model to count forward and backward passes per image (the cost rows).

    A backward pass is counted when a gradient reaches the logits of a forward pass, so transforms
    that run the model several times per iteration, or extra no-grad passes, are all counted.
    """

    def __init__(self, inner: SegModel):
        super().__init__(inner.num_classes, config=dict(getattr(inner, "config", {})))
        self.inner = inner
        self.forwards = 0
        self.backwards = 0

    def forward_with_features(self, x):
        n = x.shape[0]
        self.forwards += n
        logits, feats = self.inner.forward_with_features(x)
        if logits.requires_grad:
            logits.register_hook(lambda g: self._count_backward(n) or g)
        return logits, feats

    def _count_backward(self, n: int) -> None:
        self.backwards += n


def save_examples(path: Path, clean: torch.Tensor, adv: torch.Tensor, labels: torch.Tensor, meta: dict) -> None:
    """Save a few clean/adversarial pairs (float16, CPU) with the cell's row fields, atomically."""
    buf = io.BytesIO()
    torch.save({"clean": clean.detach().half().cpu(), "adv": adv.detach().half().cpu(),
                "labels": labels.detach().to(torch.uint8).cpu(), "meta": meta}, buf)
    atomic_write_bytes(Path(path), buf.getvalue())


def load_examples(path: Path) -> dict:
    """Load examples saved by :func:`save_examples` (float32 images, int64 labels)."""
    data = torch.load(Path(path), map_location="cpu", weights_only=True)
    return {**data, "clean": data["clean"].float(), "adv": data["adv"].float(), "labels": data["labels"].long()}
