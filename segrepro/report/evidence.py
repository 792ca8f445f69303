"""Per-image evidence for claims: the counts behind result rows, as bootstrap-ready arms.

A claim compares quantities such as "DS transfer mIoU minus FS transfer mIoU". Each side is an
:class:`Arm`: the per-image counts of one ``(cell(s), target, eval scale, iteration)``, stacked over
seeds. An arm's metric under bootstrap weights ``w[b, s, i]`` (``segrepro.report.outcomes``) is the
dataset-level metric recomputed from the weighted counts, per seed, then averaged over seeds; arms
read with the same weights are paired (same images, same seeds). A deterministic method has one
seed: its counts are used for every seed stratum.

Example:
    >>> ev = Evidence.of(profile, "dynamic_scaling")                                   # doctest: +SKIP
    >>> ds = ev.arm(df, source="psp_r18", target="fcn8s_vgg16", method="ds", eps=0.03, iteration=20)
    >>> fs = ev.arm(df, source="psp_r18", target="fcn8s_vgg16", method="bim", eps=0.03, iteration=20)
    >>> est = bootstrap(lambda w: 100 * (ds.miou(w) - fs.miou(w)), *shape(ds, fs))
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..paths import results_dir
from ..run.counts import CountStore


class MissingEvidence(LookupError):
    """No stored counts for the rows a claim asks for (the grid was not run at this profile)."""


@dataclass(frozen=True)
class Arm:
    """Per-image counts of one quantity, stacked over seeds: ``inter`` etc. of shape ``(S, N, C)`` / ``(S, N)``."""

    counts: dict[str, np.ndarray]
    seeds: tuple[int, ...]

    @property
    def n_images(self) -> int:
        return int(self.counts["valid"].shape[1])

    @property
    def n_seeds(self) -> int:
        return len(self.seeds)

    def _weights(self, w: np.ndarray | None) -> np.ndarray:
        s, n = self.counts["valid"].shape
        if w is None:
            return np.ones((1, s, n))
        if w.shape[1] != s:  # a one-seed arm in a comparison with several seeds: same counts per stratum
            if s != 1:
                raise ValueError(f"an arm with {s} seeds cannot be paired with weights over {w.shape[1]} seeds")
            return w
        return w

    def _sum(self, field: str, w: np.ndarray | None) -> np.ndarray:
        """Weighted sum over images: ``(B, S)`` or ``(B, S, C)``. Weights over fewer images than the arm has
        read its first images (the ones a shorter paired arm covers, see :func:`shape`)."""
        x = self.counts[field].astype(np.float64)
        w = self._weights(w)
        if x.shape[1] > w.shape[2]:
            x = x[:, :w.shape[2]]
        if x.shape[0] != w.shape[1]:
            x = np.broadcast_to(x, (w.shape[1], *x.shape[1:]))
        return np.einsum("bsn,sn...->bs...", w, x)

    def miou(self, w: np.ndarray | None = None) -> np.ndarray:
        """mIoU (fraction) per resample ``(B,)``: per seed from summed counts, then the mean over seeds."""
        inter = self._sum("inter", w)
        union = self._sum("pred_area", w) + self._sum("label_area", w) - inter
        present = union > 0
        iou = np.where(present, inter / np.where(present, union, 1.0), 0.0)
        per_seed = iou.sum(-1) / np.maximum(present.sum(-1), 1)
        return per_seed.mean(-1)

    def ratio(self, numerator: str, denominator: str, w: np.ndarray | None = None) -> np.ndarray:
        """``sum(numerator) / sum(denominator)`` per seed, averaged over seeds ``(B,)`` (NaN-free: 0/0 -> 0)."""
        num, den = self._sum(numerator, w), self._sum(denominator, w)
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0).mean(-1)

    def mis_ratio(self, w: np.ndarray | None = None) -> np.ndarray:
        """MisRatio: wrong valid pixels / valid pixels ``(B,)``."""
        wrong = self._sum("valid", w) - self._sum("correct", w)
        den = self._sum("valid", w)
        return np.where(den > 0, wrong / np.where(den > 0, den, 1.0), 0.0).mean(-1)

    def asr(self, w: np.ndarray | None = None) -> np.ndarray:
        """Attack success rate: clean-correct pixels the attack flipped / clean-correct pixels ``(B,)``."""
        return self.ratio("flipped", "clean_correct", w)


def shape(*arms: Arm) -> tuple[int, int]:
    """``(n_images, n_seeds)`` for :func:`segrepro.report.outcomes.bootstrap` over paired arms.

    Arms over different image counts are paired over the images they share: every cell attacks the first
    ``n`` validation images of its preset, so a shorter arm's images are a longer arm's first ones (a side
    grid may run more images where one claim needs them, and still pair with the main grid).

    Raises:
        ValueError: no arm, or arms with different numbers of seeds (other than 1).
    """
    if not arms:
        raise ValueError("no arms to pair")
    seeds = {a.n_seeds for a in arms} - {1}
    if len(seeds) > 1:
        raise ValueError(f"paired arms have different seed counts {sorted(seeds)}")
    return min(a.n_images for a in arms), (seeds.pop() if seeds else 1)


class Evidence:
    """Loads the counts behind a study's result rows."""

    def __init__(self, folder):
        self.store = CountStore(folder)
        self._cache: dict[str, Any] = {}

    @classmethod
    def of(cls, profile, study: str) -> "Evidence":
        """The counts of ``study`` under ``results/<profile>/counts/<study>/``."""
        name = profile if isinstance(profile, str) else profile.name
        return cls(results_dir(name, "counts", study))

    def _load(self, cell: str) -> dict:
        if cell not in self._cache:
            try:
                self._cache[cell] = self.store.load(cell)
            except FileNotFoundError as err:
                raise MissingEvidence(str(err)) from None
        return self._cache[cell]

    def arm(self, df: pd.DataFrame, *, target: str, iteration: int, eval_scale: str = "1", **where: Any) -> Arm:
        """The arm of the rows of ``df`` matching ``where`` (e.g. ``source``, ``method``, ``eps``, ``grid``,
        ``params``) at ``target``, ``eval_scale`` and ``iteration`` (0: the clean images), one cell per seed.

        Raises:
            MissingEvidence: no matching row or no counts file.
        """
        rows = df[(df["target"] == target) & (df["eval_scale"] == eval_scale) & (df["metric"] == "miou")]
        for key, value in where.items():
            rows = rows[np.isclose(rows[key], value)] if isinstance(value, float) else rows[rows[key] == value]
        rows = rows[rows["iteration"] == (iteration if iteration else rows["iteration"].min())]
        cells = rows.drop_duplicates("cell").sort_values("seed")
        if cells.empty:
            raise MissingEvidence(f"no rows for target={target}, scale={eval_scale}, iteration={iteration}, {where}")
        parts = [self._load(c)[(target, eval_scale, iteration)] for c in cells["cell"]]
        seeds = [int(s) for s in cells["seed"]]
        sizes = [int(p["valid"].shape[0]) for p in parts]
        if len(set(sizes)) > 1:
            if iteration:
                raise ValueError(f"the cells of one arm cover different image counts {sorted(set(sizes))} "
                                 f"(target={target}, iteration={iteration}, {where})")
            # clean rows of one model from grids of other image counts: the same images, keep the largest sample
            keep = [i for i, n in enumerate(sizes) if n == max(sizes)]
            parts, seeds = [parts[i] for i in keep], [seeds[i] for i in keep]
        counts = {f: np.stack([p[f] for p in parts]) for f in parts[0]}
        return Arm(counts, tuple(seeds))
