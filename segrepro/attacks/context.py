"""The explicit state object the attack engine threads through one run.

Everything that persists across iterations lives here as a named field (no closures, no hidden
attributes on the parts): the clean batch, the schedule position ``t`` of ``T = steps``, the two
seeded generators and the per-method state (MI momentum, TranSegPGD's clean logits and stage
flags, RP-PGD's region masks). A part that needs state reads and writes its own fields.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from segrepro.validation import check_logits


@dataclass
class AttackContext:
    """State of one attack run.

    Attributes:
        model: the source model (in eval mode for the duration of the run).
        images: clean images ``(N,3,H,W)`` in [0,1].
        labels: clean labels ``(N,H,W)`` int64, 255 = ignore.
        num_classes: number of classes ``C`` of the model.
        eps: L-inf (or L2) radius.
        alpha: step size.
        steps: ``T``, the schedule length (SegPGD's ``lambda_t``, TranSegPGD's switch, RP-PGD's ``N``).
        params: the resolved keyword parameters of every part of the method.
        generator: seeded ``torch.Generator`` on the images' device (random start noise).
        host_generator: seeded CPU ``torch.Generator`` for host-side draws (DS scale, DI size and
            offset, SegTrans grid and permutation). Sizes must be known on the host, so drawing them
            on the device would force a sync every iteration.
        amp: run forwards under ``torch.autocast`` (float16 on CUDA, bfloat16 elsewhere).
        t: the current iteration, ``1..T`` (0 before the loop).
        momentum: MI's accumulated gradient ``m_{t-1}`` ``(N,3,H,W)``.
        ti_kernel: TI's Gaussian kernel ``(k,k)`` on the device, built once.
        clean_logits: logits of the clean images ``(N,C,H,W)``, computed once without gradient.
        clean_probs: ``softmax(clean_logits)`` ``(N,C,H,W)``, cached by TranSegPGD.
        clean_log_probs: ``log_softmax(clean_logits)`` ``(N,C,H,W)``, cached by TranSegPGD.
        stage2: TranSegPGD's per-image stage flag ``(N,)`` bool (sticky once True).
        clean_correct: RP-PGD, pixels correctly predicted on the clean image ``(N,H,W)`` bool.
        ever_wrong: RP-PGD, pixels mispredicted on some iterate so far ``(N,H,W)`` bool.
        extra: free slot for experimental parts; documented parts use the named fields above.
    """

    model: nn.Module
    images: torch.Tensor
    labels: torch.Tensor
    num_classes: int
    eps: float
    alpha: float
    steps: int
    params: dict[str, Any]
    generator: torch.Generator
    host_generator: torch.Generator
    amp: bool = False
    t: int = 0
    momentum: torch.Tensor | None = None
    ti_kernel: torch.Tensor | None = None
    clean_logits: torch.Tensor | None = None
    clean_probs: torch.Tensor | None = None
    clean_log_probs: torch.Tensor | None = None
    stage2: torch.Tensor | None = None
    clean_correct: torch.Tensor | None = None
    ever_wrong: torch.Tensor | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def device(self) -> torch.device:
        return self.images.device

    def autocast(self):
        """The autocast context of this run's forwards (a no-op context when ``amp`` is off)."""
        dtype = torch.float16 if self.device.type == "cuda" else torch.bfloat16
        return torch.autocast(device_type=self.device.type, dtype=dtype, enabled=self.amp)

    def clean_logits_once(self) -> torch.Tensor:
        """Logits of the clean images, computed once without gradient and cached in ``clean_logits``."""
        if self.clean_logits is None:
            with torch.no_grad(), self.autocast():
                logits = self.model(self.images)
            check_logits(logits, self.images, self.num_classes)
            self.clean_logits = logits.float()
        return self.clean_logits

    def host_randint(self, low: int, high: int) -> int:
        """An integer uniform in ``low..high`` inclusive, from the host generator (no device sync)."""
        return int(torch.randint(low, high + 1, (1,), generator=self.host_generator).item())

    def host_rand(self) -> float:
        """A float uniform in [0,1), from the host generator (no device sync)."""
        return float(torch.rand((1,), generator=self.host_generator).item())
