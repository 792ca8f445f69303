"""The four kinds of part a method is composed of, and the parameter record each part declares.

A part is a stateless object: its keyword parameters are resolved once per run into
``ctx.params`` and any state it keeps across iterations lives in the
:class:`~segrepro.attacks.context.AttackContext`. The engine calls

- ``InputTransform.apply(x, y, ctx) -> (x', y', geometry)``: ``geometry`` (or ``None`` for the
  identity) replays the same geometric change on other native-grid maps (clean logits);
- ``Objective.setup(ctx)`` once, then ``Objective.loss(logits, labels, features, ctx, geometry)``;
- ``GradTransform.setup(ctx)`` once, then ``GradTransform.apply(grad, ctx)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import torch

from segrepro.attacks.context import AttackContext


@dataclass(frozen=True)
class Param:
    """One keyword parameter of a part.

    Attributes:
        default: the default value.
        source: where the default comes from: ``[paper: ...]``, ``[ref: ...]`` or ``[ours]``.
        doc: one line saying what it does.
        check: returns an error message for an invalid value, or ``None``.
    """

    default: Any
    source: str
    doc: str
    check: Callable[[Any], str | None] | None = None


def one_of(*choices: Any) -> Callable[[Any], str | None]:
    """A check accepting only ``choices`` (closed vocabularies fail with the valid values)."""
    def check(value: Any) -> str | None:
        return None if value in choices else f"must be one of {list(choices)}, got {value!r}"
    return check


def in_range(lo: float, hi: float, *, lo_open: bool = False) -> Callable[[Any], str | None]:
    """A check for a real number in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``)."""
    def check(value: Any) -> str | None:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (
            (lo < value if lo_open else lo <= value) and value <= hi)
        return None if ok else f"must be a number in {'(' if lo_open else '['}{lo}, {hi}], got {value!r}"
    return check


class Part:
    """Base of every part: a name, a kind and the parameters it declares."""

    kind: ClassVar[str] = ""
    name: str = ""
    params: ClassVar[dict[str, Param]] = {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class InputTransform(Part):
    """Changes the image and its label before the forward pass; gradients flow back through it."""

    kind = "input"

    def apply(self, x: torch.Tensor, y: torch.Tensor, ctx: AttackContext):
        raise NotImplementedError


class Objective(Part):
    """The scalar the attack maximises, a weighted per-pixel CE plus optional feature terms."""

    kind = "objective"
    needs_features: ClassVar[bool] = False
    # True when the loss reads ``ctx.clean_logits``: the engine fills it before the first loss,
    # from the first forward when x_0 is the clean image, else with one no-grad forward.
    needs_clean_logits: ClassVar[bool] = False
    # False when the objective keeps per-pixel state on the native grid across iterations that a
    # geometry-changing input transform cannot map back (RP-PGD's regions).
    geometry_safe: ClassVar[bool] = True

    def setup(self, ctx: AttackContext) -> None:
        """Prepare state once before the loop (may run one no-grad clean forward)."""

    def loss(self, logits, labels, features, ctx: AttackContext, geometry) -> torch.Tensor:
        raise NotImplementedError


class GradTransform(Part):
    """Changes the input gradient before the step (momentum, smoothing)."""

    kind = "grad"

    def setup(self, ctx: AttackContext) -> None:
        """Prepare state once before the loop."""

    def apply(self, grad: torch.Tensor, ctx: AttackContext) -> torch.Tensor:
        raise NotImplementedError
