"""Per-image counts of every grid cell, stored next to the tidy tables.

A cell's tidy rows hold dataset-level metrics; its counts file holds, for every ``(target, scale,
iteration)``, the per-image arrays of :func:`segrepro.metrics.image_counts` (iteration 0 = the clean
images), so dataset metrics and bootstrap intervals over images can be recomputed later from counts
alone (``segrepro.report.outcomes``). One compressed ``.npz`` per cell under
``results/<profile>/counts/<study>/``, written atomically; while a cell runs, its accumulated
batches are saved every few batches to a ``.partial.npz`` so that a killed run resumes mid-cell.

Example:
    >>> store = CountStore(results_dir("embedded", "counts", "dynamic_scaling"))      # doctest: +SKIP
    >>> counts = store.load("3f2a9c1b7d20")[("psp_r18", "1", 20)]                     # doctest: +SKIP
    >>> metrics_from_counts(counts)["miou"]                                            # doctest: +SKIP
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Iterable

import numpy as np

from ..paths import atomic_write_bytes

Key = tuple[str, str, int]  # (target, eval scale, iteration)
_SEP = "|"


def _name(key: Key, field: str) -> str:
    target, scale, iteration = key
    if _SEP in target:
        raise ValueError(f"model name {target!r} may not contain {_SEP!r}")
    return _SEP.join((target, scale, str(int(iteration)), field))


def pack(arrays: dict[Key, dict[str, np.ndarray]], meta: dict[str, np.ndarray] | None = None) -> bytes:
    """Serialise counts (and optional extra arrays such as ``batches_done``) to compressed npz bytes."""
    flat = {_name(key, field): np.asarray(value) for key, fields in arrays.items() for field, value in fields.items()}
    flat.update({f"__{k}": np.asarray(v) for k, v in (meta or {}).items()})
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **flat)
    return buffer.getvalue()


def unpack(path: Path) -> tuple[dict[Key, dict[str, np.ndarray]], dict[str, np.ndarray]]:
    """Read a counts file; raises ``ValueError`` naming the file when it is damaged."""
    try:
        with np.load(path, allow_pickle=False) as data:
            items = {name: data[name] for name in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise ValueError(f"damaged counts file {path} ({type(err).__name__}: {err}); move it aside and rerun: "
                         "the cell is recomputed") from err
    counts: dict[Key, dict[str, np.ndarray]] = {}
    meta = {}
    for name, value in items.items():
        if name.startswith("__"):
            meta[name[2:]] = value
            continue
        target, scale, iteration, field = name.split(_SEP)
        counts.setdefault((target, scale, int(iteration)), {})[field] = value
    return counts, meta


class CountStore:
    """The per-image counts of one study's cells: ``<folder>/<cell>.npz`` (+ ``.partial.npz`` while running)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def path(self, cell: str, partial: bool = False) -> Path:
        return self.folder / f"{cell}{'.partial' if partial else ''}.npz"

    def has(self, cell: str) -> bool:
        return self.path(cell).is_file()

    def save(self, cell: str, counts: dict[Key, dict[str, np.ndarray]]) -> Path:
        """Write a finished cell's counts atomically; merges with counts already stored for other targets."""
        path = self.path(cell)
        if path.is_file():
            old, _ = unpack(path)
            counts = {**old, **counts}
        atomic_write_bytes(path, pack(counts))
        self.path(cell, partial=True).unlink(missing_ok=True)
        return path

    def load(self, cell: str) -> dict[Key, dict[str, np.ndarray]]:
        """Counts of a finished cell (``FileNotFoundError`` when it has none)."""
        path = self.path(cell)
        if not path.is_file():
            raise FileNotFoundError(f"no per-image counts for cell {cell} in {self.folder}")
        return unpack(path)[0]

    def save_partial(self, cell: str, counts: dict[Key, dict[str, np.ndarray]], batches_done: int) -> None:
        """Checkpoint a running cell: its counts so far and how many batches they cover."""
        atomic_write_bytes(self.path(cell, partial=True), pack(counts, {"batches_done": np.array(batches_done)}))

    def load_partial(self, cell: str) -> tuple[dict[Key, dict[str, np.ndarray]], int]:
        """``(counts so far, batches done)`` of an interrupted cell; ``({}, 0)`` when there is none or it is damaged."""
        path = self.path(cell, partial=True)
        if not path.is_file():
            return {}, 0
        try:
            counts, meta = unpack(path)
        except ValueError:  # a partial file is only a shortcut: recompute from the start
            return {}, 0
        return counts, int(meta.get("batches_done", 0))


def concat(parts: Iterable[dict[Key, dict[str, np.ndarray]]]) -> dict[Key, dict[str, np.ndarray]]:
    """Join per-batch counts along the image axis (in the given order)."""
    out: dict[Key, dict[str, list]] = {}
    for part in parts:
        for key, fields in part.items():
            slot = out.setdefault(key, {})
            for field, value in fields.items():
                slot.setdefault(field, []).append(np.asarray(value))
    return {key: {f: np.concatenate(v) for f, v in fields.items()} for key, fields in out.items()}
