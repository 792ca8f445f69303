"""Verdicts on the papers' claims: mean and 95 % interval over seeds, and a three-way verdict.

A claim is checked as one of three comparisons of our per-seed values ``x_s`` (or paired
differences ``x_s - b_s`` against a baseline measured with the same seeds):

- ``expect="lower"``: the claim holds if the quantity is below ``reference - margin``;
- ``expect="higher"``: the claim holds if it is above ``reference + margin``;
- ``expect="equal"``: the claim holds if it is within ``tolerance`` of ``reference`` (e.g. a paper value).

Verdicts (**[ours]**; the book states the rule):

- ``reproduced``: the whole 95 % interval is on the claimed side (for ``equal``: the interval lies
  inside ``reference +- tolerance``);
- ``partly``: the mean is on the claimed side but the interval is not (too few seeds, or a weak effect;
  with one seed there is no interval and a claim that the mean supports is at best ``partly``);
- ``not reproduced``: the mean is on the other side.

Example:
    >>> v = verdict([20.1, 21.0, 19.5], baseline=[30.2, 29.8, 31.0], expect="lower")  # DS < FS mIoU
    >>> v.verdict
    'reproduced'
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal, Sequence

import numpy as np
import pandas as pd

REPRODUCED, PARTLY, NOT_REPRODUCED = "reproduced", "partly", "not reproduced"
Expect = Literal["lower", "higher", "equal"]
EXPECTS = ("lower", "higher", "equal")


def mean_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t confidence interval over seeds.

    Returns:
        ``(mean, low, high)``; ``low``/``high`` are NaN with fewer than two finite values.

    Raises:
        ValueError: No finite value, or ``level`` outside (0, 1).
    """
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    x = np.asarray([v for v in values if v is not None], dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        raise ValueError("mean_ci needs at least one finite value")
    mean = float(x.mean())
    if x.size < 2:
        return mean, math.nan, math.nan
    from scipy import stats

    half = float(stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return mean, mean - half, mean + half


@dataclass(frozen=True)
class Verdict:
    """Outcome of :func:`verdict`: the verdict and the numbers it rests on."""

    verdict: str
    mean: float
    low: float
    high: float
    n: int
    expect: str
    reference: float

    def our_value(self, digits: int = 2) -> str:
        """``"mean [low, high]"`` (or the mean alone for one seed)."""
        if math.isnan(self.low):
            return f"{self.mean:.{digits}f} (n={self.n})"
        return f"{self.mean:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}] (n={self.n})"


def verdict(values: Sequence[float], *, expect: Expect, reference: float = 0.0,
            baseline: Sequence[float] | None = None, margin: float = 0.0, tolerance: float | None = None,
            level: float = 0.95) -> Verdict:
    """Judge a claim from per-seed values.

    Args:
        values: Our per-seed values of the claimed quantity.
        expect: ``"lower"``, ``"higher"`` or ``"equal"`` (see the module docstring).
        reference: Threshold (``lower``/``higher``) or target value (``equal``).
        baseline: Per-seed values of the compared method, paired with ``values`` by position; the
            verdict is then on the differences ``values - baseline``.
        margin: How far beyond ``reference`` the quantity must lie (``lower``/``higher``).
        tolerance: Half-width of the accepted band (required for ``equal``).
        level: Confidence level of the interval.

    Returns:
        A :class:`Verdict`.

    Raises:
        ValueError: Unknown ``expect``, baseline of another length, negative margin, missing tolerance.
    """
    if expect not in EXPECTS:
        raise ValueError(f"unknown expect {expect!r}; valid: {', '.join(EXPECTS)}")
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    x = np.asarray(values, dtype=float)
    if baseline is not None:
        b = np.asarray(baseline, dtype=float)
        if b.shape != x.shape:
            raise ValueError(f"baseline has {b.size} values, values has {x.size}: pair them by seed")
        x = x - b
    mean, low, high = mean_ci(x, level)
    n = int(np.isfinite(x).sum())
    if expect == "equal":
        if tolerance is None or tolerance < 0:
            raise ValueError("expect='equal' needs a non-negative tolerance")
        inside = abs(mean - reference) <= tolerance
        sure = not math.isnan(low) and reference - tolerance <= low and high <= reference + tolerance
    else:
        sign = -1.0 if expect == "lower" else 1.0
        bound = reference + sign * margin
        inside = sign * (mean - bound) > 0
        edge = high if expect == "lower" else low
        sure = not math.isnan(edge) and sign * (edge - bound) > 0
    result = REPRODUCED if inside and sure else PARTLY if inside else NOT_REPRODUCED
    return Verdict(result, mean, low, high, n, expect, float(reference))


def claim_row(claim_id: str, v: Verdict, comment: str = "", digits: int = 2,
              claims: pd.DataFrame | None = None) -> dict:
    """One row of a notebook's claims table, joined with ``paper_values/claims.csv``.

    Args:
        claim_id: An ``id`` of ``claims.csv`` (unknown ids raise ``ValueError`` listing the valid ones).
        v: Our verdict.
        comment: What differs at our scale (one sentence).
        digits: Decimals of our value.
        claims: The claims table (default: ``segrepro.paper_values.load("claims")``).

    Returns:
        ``{"id", "claim", "paper value", "our value", "verdict", "comment"}`` plus the raw numbers.
    """
    if claims is None:
        from segrepro import paper_values

        claims = paper_values.load("claims")
    match = claims[claims["id"] == claim_id]
    if match.empty:
        raise ValueError(f"unknown claim id {claim_id!r}; valid ids: {', '.join(claims['id'])}")
    c = match.iloc[0]
    return {"id": claim_id, "claim": c["claim"], "paper value": c["paper_value"], "our value": v.our_value(digits),
            "verdict": v.verdict, "comment": comment, **{f"_{k}": val for k, val in asdict(v).items()}}


def claims_table(rows: Sequence[dict], raw: bool = False) -> pd.DataFrame:
    """Assemble :func:`claim_row` s into the table the notebooks end with (raw columns hidden)."""
    df = pd.DataFrame(list(rows))
    if not raw and len(df):
        df = df[[c for c in df.columns if not c.startswith("_")]]
    return df
