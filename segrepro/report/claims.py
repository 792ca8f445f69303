"""Claims and verdicts: the verdict rule, and the one claims table every study builds.

Every study's ``claims(df, profile)`` returns :func:`claims_table` rows with the same
:data:`COLUMNS`; :func:`gather` puts every study's table together (the comparison chapter) and
:func:`verdict_glue` gives a notebook the verdicts and counts to glue into its prose. The helpers a
claim check needs live here too: :class:`Missing` (its rows are absent), :func:`attempt` (the
reason instead of an exception), :func:`worst` (a claim resting on several comparisons) and
:func:`not_run_row`.

The verdict rule:

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
from dataclasses import dataclass, replace
from typing import Any, Callable, Literal, Mapping, Sequence

import numpy as np
import pandas as pd

REPRODUCED, PARTLY, NOT_REPRODUCED = "reproduced", "partly", "not reproduced"
#: Verdicts of rows that were not judged: the rows a check needs are absent (``not run``), a study's
#: claim builder failed (``not available``), no builder gave a row for a ``claims.csv`` id (``not judged``).
NOT_RUN, NOT_AVAILABLE, NOT_JUDGED = "not run", "not available", "not judged"
_RANK = {NOT_REPRODUCED: 0, PARTLY: 1, REPRODUCED: 2}
#: The columns of every study's claims table.
COLUMNS = ["study", "id", "eps", "claim", "paper value", "our value", "verdict", "comment"]
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


class Missing(LookupError):
    """The rows a claim check needs are absent (a grid not run at this eps or profile)."""


def need(rows: pd.DataFrame, what: str) -> pd.DataFrame:
    """``rows``, or :class:`Missing` naming ``what`` when there are none."""
    if rows.empty:
        raise Missing(what)
    return rows


def attempt(fn: Callable, *args, **kwargs) -> tuple[Any, str | None]:
    """``(fn(...), None)``, or ``(None, reason)`` when the rows ``fn`` needs are missing.

    Missing rows surface as :class:`Missing`, ``ValueError`` or ``KeyError`` from the table helpers.
    """
    try:
        return fn(*args, **kwargs), None
    except (Missing, ValueError, KeyError) as err:
        return None, f"missing rows ({err})"


def worst(parts: Sequence[tuple[str, Verdict]]) -> tuple[Verdict, str]:
    """The weakest of named comparisons that must all hold, and ``"k/K comparisons hold; worst: <name>"``.

    Weakest: the lowest verdict; among equals, the one whose mean is furthest on the wrong side.

    Raises:
        Missing: No comparison.
    """
    if not parts:
        raise Missing("no comparison")
    name, v = min(parts, key=lambda p: (_RANK[p[1].verdict], p[1].mean if p[1].expect == "higher" else -p[1].mean))
    held = sum(p[1].verdict != NOT_REPRODUCED for p in parts)
    return v, f"{held}/{len(parts)} comparisons hold; worst: {name}"


def relabel(v: Verdict, label: str) -> Verdict:
    """``v`` with another verdict label (a condition beyond the interval failed or capped it)."""
    return replace(v, verdict=label)


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
        ``{"id", "claim", "paper value", "our value", "verdict", "comment"}``.
    """
    if claims is None:
        from segrepro import paper_values

        claims = paper_values.load("claims")
    match = claims[claims["id"] == claim_id]
    if match.empty:
        raise ValueError(f"unknown claim id {claim_id!r}; valid ids: {', '.join(claims['id'])}")
    c = match.iloc[0]
    return {"id": claim_id, "claim": c["claim"], "paper value": c["paper_value"], "our value": v.our_value(digits),
            "verdict": v.verdict, "comment": comment}


def not_run_row(claim_id: str, reason: str, claims: pd.DataFrame | None = None) -> dict:
    """A :func:`claim_row` with verdict ``not run``, no value and ``reason`` as its comment."""
    nan = math.nan
    row = claim_row(claim_id, Verdict(NOT_RUN, nan, nan, nan, 0, "", nan), claims=claims)
    return {**row, "our value": "-", "comment": reason}


def claims_table(rows: Sequence[dict], *, study: str = "", eps: float = math.nan) -> pd.DataFrame:
    """Assemble :func:`claim_row` s into a study's claims table (:data:`COLUMNS`).

    Args:
        rows: Claim rows; a row's own ``eps`` (the budget it was judged at) wins over ``eps``.
        study: The study name (the ``study`` column).
        eps: The budget of rows that do not give one.
    """
    df = pd.DataFrame([{"study": study, "eps": eps, **r} for r in rows], columns=COLUMNS)
    df["eps"] = df["eps"].astype(float)
    return df


def gather(builders: Mapping[str, Callable[[], pd.DataFrame]]) -> pd.DataFrame:
    """Every study's claims table in one, and a row for every claim nothing judged.

    A builder that fails gives one row with verdict ``not available`` and the error; every id of
    ``paper_values/claims.csv`` that no builder returned gets a ``not judged`` row, so nothing
    disappears silently.

    Args:
        builders: Study name -> a call returning its :func:`claims_table`.

    Returns:
        A table with :data:`COLUMNS`.
    """
    from segrepro import paper_values

    frames = []
    for study, build in builders.items():
        try:
            got = build()
        except Exception as err:  # noqa: BLE001 - a failing study is reported in the table, not fatal
            got = claims_table([{"id": "-", "claim": f"claims of the {study} study", "paper value": "-",
                                 "our value": "-", "verdict": NOT_AVAILABLE,
                                 "comment": f"{type(err).__name__}: {err}"[:300]}])
        frames.append(got.assign(study=study))
    out = pd.concat(frames, ignore_index=True) if frames else claims_table([])
    known = paper_values.load("claims")
    missing = known[~known["id"].isin(out["id"])]
    if len(missing):
        rows = [{"study": nb[3:], "id": cid, "claim": text, "paper value": value, "our value": "-",
                 "verdict": NOT_JUDGED, "comment": "no row from the study's claim builder"}
                for nb, cid, text, value in zip(missing["notebook"], missing["id"], missing["claim"],
                                                 missing["paper_value"])]
        out = pd.concat([out, claims_table(rows)], ignore_index=True)
    return out[COLUMNS]


def verdict_text(rows: pd.DataFrame) -> str:
    """The verdict of one claim's rows for prose: ``"partly"``, or ``"3 comparisons: 2 reproduced, 1 partly"``."""
    if len(rows) == 1:
        return str(rows["verdict"].iloc[0])
    counts = rows["verdict"].value_counts()
    parts = [f"{counts[v]} {v}" for v in (REPRODUCED, PARTLY, NOT_REPRODUCED) if counts.get(v, 0)]
    return f"{len(rows)} comparisons: " + ", ".join(parts)


def verdict_glue(claims: pd.DataFrame, last_eps: float | None = None, prefix: str = "v_") -> dict[str, Any]:
    """What a notebook glues into its prose from its claims table.

    Keys: ``<prefix><id>`` (:func:`verdict_text` at the first budget the claim was judged at),
    ``<prefix><id>_e1`` (at ``last_eps``, default the table's largest budget; the first one when
    not judged there), and ``n_judged``, ``n_reproduced``, ``n_partly``, ``n_not_reproduced``: how
    many claim ids end with each verdict at their last judged row.
    """
    last_eps = float(claims["eps"].max()) if last_eps is None else float(last_eps)
    out: dict[str, Any] = {}
    final: dict[str, str] = {}
    for cid, rows in claims.groupby("id", sort=False):
        judged = rows[~rows["verdict"].isin([NOT_RUN, NOT_AVAILABLE, NOT_JUDGED])]
        if judged.empty:
            out[f"{prefix}{cid}"] = out[f"{prefix}{cid}_e1"] = str(rows["verdict"].iloc[0])
            continue
        final[cid] = str(judged["verdict"].iloc[-1])
        eps = judged["eps"].to_numpy()
        first = judged[(eps == eps[0]) | (np.isnan(eps) & np.isnan(eps[0]))]
        at_last = judged[np.isclose(eps, last_eps)]
        out[f"{prefix}{cid}"] = verdict_text(first)
        out[f"{prefix}{cid}_e1"] = verdict_text(at_last) if len(at_last) else out[f"{prefix}{cid}"]
    out["n_judged"] = len(final)
    for key, name in (("n_reproduced", REPRODUCED), ("n_partly", PARTLY), ("n_not_reproduced", NOT_REPRODUCED)):
        out[key] = sum(v == name for v in final.values())
    return out

