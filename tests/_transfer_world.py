"""Hand-made result rows and per-image counts for the TranSegPGD and SegTrans claims tests.

:class:`World` writes, for each cell, the tidy ``miou`` rows the evidence layer looks cells up by and a
counts file with two classes per image: ``inter = q_i * 50`` of 50 label and 50 predicted pixels per
class (a lower ``q`` = a lower mIoU) and ``flipped = a_i * 100`` of 100 clean-correct pixels (ASR ``a``).
``q_i`` and ``a_i`` are the cell's level plus an image effect shared by every method (paired) and a small
per-method noise.
"""
from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from segrepro.paths import results_dir
from segrepro.run.counts import CountStore

N_IMAGES = 32
IMAGE_EFFECT = np.random.default_rng(0).normal(0.0, 0.03, size=N_IMAGES)


def _per_image(level: float, noise: float, tag: str) -> np.ndarray:
    rng = np.random.default_rng(zlib.crc32(tag.encode()))
    return np.clip(level + IMAGE_EFFECT + rng.normal(0.0, noise, size=N_IMAGES), 0.0, 1.0)


def counts(q: float, a: float, *, noise: float, tag: str) -> dict[str, np.ndarray]:
    """Per-image counts with mIoU driven by ``q`` and ASR by ``a``."""
    qi, ai = _per_image(q, noise, tag + "q"), _per_image(a, noise, tag + "a")
    inter = np.round(np.stack([qi, qi], 1) * 50).astype(np.int64)
    area = np.full((N_IMAGES, 2), 50, dtype=np.int64)
    return {"inter": inter, "pred_area": area, "label_area": area.copy(),
            "valid": np.full(N_IMAGES, 100, dtype=np.int64), "correct": inter.sum(1),
            "clean_correct": np.full(N_IMAGES, 100, dtype=np.int64),
            "flipped": np.round(ai * 100).astype(np.int64)}


class World:
    """Rows and counts under ``SEGREPRO_RESULTS`` (set by the test) for a profile named ``profile.name``."""

    def __init__(self, profile):
        self.profile, self.rows = profile, []

    def cell(self, study: str, grid: str, k, source: str, *, eps: float, seed: int = 0, iterations=None,
             q=0.5, a=0.3, noise: float = 0.01, seconds: float = 0.1, passes: float = 4.0) -> None:
        """One cell of method ``k`` = ``(method, params)``; ``q`` / ``a``: numbers or ``f(target, iteration)``."""
        p = self.profile
        iterations = iterations or sorted({*p.snapshots, p.steps})
        cell = f"{study}-{grid}-{k[0]}-{k[1]}-{source}-{eps}-{seed}".replace('"', "")
        targets = list(dict.fromkeys((*p.targets, source)))
        level = lambda v, t, it: v(t, it) if callable(v) else v  # noqa: E731
        data = {}
        for t in targets:
            data[(t, "1", 0)] = counts(0.8, 0.0, noise=noise, tag=f"clean{t}")
            for it in iterations:
                tag = f"{cell}{t}{it}"
                data[(t, "1", it)] = counts(level(q, t, it), level(a, t, it), noise=noise, tag=tag)
                base = dict(study=study, preset=p.presets[0], grid=grid, cell=cell, source=source, target=t,
                            eval_scale="1", method=k[0], params=k[1], eps=eps, iteration=it, seed=seed)
                self.rows.append({**base, "metric": "miou", "value": level(q, t, it)})
                self.rows.append({**base, "metric": "asr", "value": level(a, t, it)})
            if t == source:
                last = dict(study=study, preset=p.presets[0], grid=grid, cell=cell, source=source, target=t,
                            eval_scale="1", method=k[0], params=k[1], eps=eps, iteration=max(iterations), seed=seed)
                self.rows += [{**last, "metric": "seconds_per_example", "value": seconds},
                              {**last, "metric": "forward_passes_per_example", "value": passes},
                              {**last, "metric": "backward_passes_per_example", "value": passes}]
        CountStore(results_dir(p.name, "counts", study)).save(cell, data)

    def df(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)
