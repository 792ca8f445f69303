"""How a claim is judged: bootstrap intervals over images and the four outcomes.

Conventions (the book's "How a claim is judged" section states them to readers):

- The replication unit is the **image** (and the seed, for random methods). The 95 % interval is a
  percentile bootstrap: images are resampled with replacement, separately within each seed
  (stratified), and the dataset-level quantity is recomputed from per-image counts. Methods measured
  on the same images and seeds are **paired**: every arm of a comparison sees the same resample.
- A resample is given to a statistic as integer **weights** ``w[b, s, i]`` (how often image ``i`` of
  seed ``s`` is drawn in resample ``b``); row ``b`` of an all-ones array is the point estimate. Any
  metric that sums per-image counts (mIoU, MisRatio, ASR) is then one ``einsum`` per resample batch.
- Outcomes: **reproduced** (the whole interval on the claimed side of the threshold), **contradicted**
  (the whole interval on the other side), **inconclusive** (the interval contains the threshold; with
  ``n_needed`` images the interval would exclude it at the observed spread), **not testable here**
  (the setting cannot express the claim). A claim with parts is contradicted if any part is,
  reproduced if every part is, otherwise inconclusive.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> gap = rng.normal(-3.0, 1.0, size=(1, 64))       # per-image DS - FS, one seed
    >>> e = bootstrap(lambda w: (w * gap).sum(-1).sum(-1) / w.sum(-1).sum(-1), n_images=64)
    >>> judge(e.value, e.low, e.high, "lower", 0.0, 64).outcome
    'reproduced'
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable, Iterable, Literal

import numpy as np

REPRODUCED, CONTRADICTED, INCONCLUSIVE, NOT_TESTABLE = (
    "reproduced", "contradicted", "inconclusive", "not testable here")
OUTCOMES = (REPRODUCED, CONTRADICTED, INCONCLUSIVE, NOT_TESTABLE)
Direction = Literal["lower", "higher", "within"]
DIRECTIONS = ("lower", "higher", "within")
#: Bootstrap resamples (the conventions ask for at least 2000).
RESAMPLES = 2000


@dataclass(frozen=True)
class Estimate:
    """A point value with its 95 % bootstrap interval (``low``/``high`` None when there is none).

    Attributes:
        value: The quantity on all images.
        low, high: Percentile interval bounds; None with fewer than 2 images or no variation.
        n_images: Images per seed. n_seeds: Seeds (strata).
        note: Why there is no interval, in words ("no variation across images", ...).
    """

    value: float
    low: float | None
    high: float | None
    n_images: int
    n_seeds: int = 1
    note: str = ""


@dataclass(frozen=True)
class Judgement:
    """An outcome and, for an inconclusive one, the images needed to decide it."""

    outcome: str
    n_needed: int | None = None
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def format_estimate(e: Estimate | None, digits: int = 2, *, signed: bool = True, missing: str = "not measured",
                    say_why: bool = False) -> str:
    """``"-3.10 [-4.20, -2.00]"``: the value with its interval (``signed``: with a + or - sign); without an
    interval the value alone (``say_why``: followed by the reason in brackets); ``missing`` when ``e`` is None."""
    if e is None:
        return missing
    sign = "+" if signed else ""
    value = f"{e.value:{sign}.{digits}f}"
    if e.low is None:
        return f"{value} ({e.note or 'no interval'})" if say_why else value
    return f"{value} [{e.low:{sign}.{digits}f}, {e.high:{sign}.{digits}f}]"


def resample_weights(n_images: int, n_seeds: int = 1, resamples: int = RESAMPLES, seed: int = 0) -> np.ndarray:
    """Bootstrap weights ``(resamples, n_seeds, n_images)``: image multiplicities, resampled within each seed.

    Raises:
        ValueError: fewer than one image or seed, or fewer than one resample.
    """
    if n_images < 1 or n_seeds < 1 or resamples < 1:
        raise ValueError(f"bootstrap needs n_images, n_seeds, resamples >= 1, got {n_images}, {n_seeds}, {resamples}")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_images, size=(resamples, n_seeds, n_images))
    weights = np.zeros((resamples, n_seeds, n_images), dtype=np.float64)
    np.add.at(weights, (np.arange(resamples)[:, None, None], np.arange(n_seeds)[None, :, None], draws), 1.0)
    return weights


def bootstrap(statistic: Callable[[np.ndarray], np.ndarray], n_images: int, n_seeds: int = 1,
              resamples: int = RESAMPLES, level: float = 0.95, seed: int = 0) -> Estimate:
    """Point value and percentile interval of ``statistic`` over images (stratified by seed).

    Args:
        statistic: maps weights ``(B, n_seeds, n_images)`` to one value per resample ``(B,)``; it
            must recompute the dataset-level quantity from per-image counts (so it is paired when
            it reads several methods' counts with the same weights).
        n_images: images per seed. n_seeds: seeds (strata).
        resamples: bootstrap resamples. level: interval coverage. seed: the resampling seed.

    Returns:
        An :class:`Estimate`; no interval with fewer than 2 images or when every resample agrees.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    value = float(np.asarray(statistic(np.ones((1, n_seeds, n_images))))[0])
    if n_images < 2:
        return Estimate(value, None, None, n_images, n_seeds, note="one image: no interval")
    values = np.asarray(statistic(resample_weights(n_images, n_seeds, resamples, seed)), dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return Estimate(value, None, None, n_images, n_seeds, note="undefined on every resample")
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    if math.isclose(low, high, abs_tol=1e-12):
        return Estimate(value, None, None, n_images, n_seeds, note="no variation across images")
    return Estimate(value, float(low), float(high), n_images, n_seeds)


def judge(value: float | None, low: float | None, high: float | None, direction: Direction,
          threshold: float = 0.0, n_images: int | None = None) -> Judgement:
    """The outcome of one claim part.

    Args:
        value, low, high: our estimate and its interval (no interval: judged on the value alone
            only when it equals the threshold, else inconclusive without a sample size).
        direction: ``lower`` (claim: value < threshold), ``higher`` (value > threshold) or
            ``within`` (claim: ``|value| <= threshold``).
        threshold: 0 unless the claim names an amount; for ``within``, the tolerance (>= 0).
        n_images: images behind the interval (for ``n_needed``).

    Returns:
        A :class:`Judgement`; ``n_needed = n * (half_width / |value - threshold|)^2`` for an inconclusive part.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}; valid: {DIRECTIONS}")
    if value is None or not math.isfinite(value):
        return Judgement(NOT_TESTABLE, note="not measured")
    if direction == "within":
        if threshold < 0:
            raise ValueError(f"a 'within' claim needs a tolerance >= 0, got {threshold}")
        lo, hi = (value, value) if low is None else (low, high)
        if -threshold <= lo and hi <= threshold:
            return Judgement(REPRODUCED)
        if lo > threshold or hi < -threshold:
            return Judgement(CONTRADICTED)
        edge = threshold if value >= 0 else -threshold
        return Judgement(INCONCLUSIVE, _n_needed(value, low, high, edge, n_images))
    sign = -1.0 if direction == "lower" else 1.0
    if low is None:
        if value == threshold:
            return Judgement(INCONCLUSIVE, note="no effect to detect")
        return Judgement(INCONCLUSIVE, note="no interval")
    if sign * (low - threshold) > 0 and sign * (high - threshold) > 0:
        return Judgement(REPRODUCED)
    if sign * (low - threshold) < 0 and sign * (high - threshold) < 0:
        return Judgement(CONTRADICTED)
    return Judgement(INCONCLUSIVE, _n_needed(value, low, high, threshold, n_images),
                     note="no effect to detect" if value == threshold else "")


def _n_needed(value, low, high, threshold, n_images) -> int | None:
    if low is None or n_images is None or value == threshold:
        return None
    half = (high - low) / 2
    return int(math.ceil(n_images * (half / abs(value - threshold)) ** 2 - 1e-9))  # no float-noise +1


def combine(outcomes: Iterable[str]) -> str:
    """A claim's outcome from its parts' (spec: any contradicted -> contradicted, all reproduced ->
    reproduced, all not testable -> not testable, otherwise inconclusive)."""
    parts = list(outcomes)
    if not parts:
        return NOT_TESTABLE
    if CONTRADICTED in parts:
        return CONTRADICTED
    if all(p == REPRODUCED for p in parts):
        return REPRODUCED
    if all(p == NOT_TESTABLE for p in parts):
        return NOT_TESTABLE
    return INCONCLUSIVE
