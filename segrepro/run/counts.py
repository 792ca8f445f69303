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
import json
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

    def save(self, cell: str, counts: dict[Key, dict[str, np.ndarray]],
             fingerprints: dict[str, str] | None = None) -> Path:
        """Write a finished cell's counts atomically, with each target's weights fingerprint.

        Counts already stored for other targets are kept; those of the given targets are replaced.
        """
        path = self.path(cell)
        meta = {f"fp{_SEP}{t}": np.array(fp) for t, fp in (fingerprints or {}).items()}
        if path.is_file():
            old, old_meta = unpack(path)
            targets = {key[0] for key in counts}
            counts = {**{k: v for k, v in old.items() if k[0] not in targets}, **counts}
            meta = {**old_meta, **meta}
        atomic_write_bytes(path, pack(counts, meta))
        self.path(cell, partial=True).unlink(missing_ok=True)
        return path

    def fingerprint(self, cell: str, target: str) -> str:
        """The weights fingerprint recorded for ``target`` in a cell's counts ("" when none; None without a file)."""
        path = self.path(cell)
        if not path.is_file():
            return None
        with np.load(path, allow_pickle=False) as data:
            name = f"__fp{_SEP}{target}"
            return str(data[name]) if name in data.files else ""

    def load(self, cell: str) -> dict[Key, dict[str, np.ndarray]]:
        """Counts of a finished cell (``FileNotFoundError`` when it has none)."""
        path = self.path(cell)
        if not path.is_file():
            raise FileNotFoundError(f"no per-image counts for cell {cell} in {self.folder}")
        return unpack(path)[0]

    def save_partial(self, cell: str, counts: dict[Key, dict[str, np.ndarray]], batches: list[int],
                     info: dict | None = None) -> None:
        """Checkpoint a running cell: its counts so far, the batches they cover (in order) and JSON ``info``."""
        meta = {"batches": np.asarray(batches, dtype=np.int64), "info": np.array(json.dumps(info or {}))}
        atomic_write_bytes(self.path(cell, partial=True), pack(counts, meta))

    def load_partial(self, cell: str) -> tuple[dict[Key, dict[str, np.ndarray]], list[int], dict]:
        """``(counts so far, batches done, info)`` of an interrupted cell; empty when there is none or it is damaged."""
        path = self.path(cell, partial=True)
        if not path.is_file():
            return {}, [], {}
        try:
            counts, meta = unpack(path)
            return counts, [int(b) for b in meta["batches"]], json.loads(str(meta["info"]))
        except (ValueError, KeyError):  # a partial file is only a shortcut: recompute from the start
            return {}, [], {}


def concat(parts: Iterable[dict[Key, dict[str, np.ndarray]]]) -> dict[Key, dict[str, np.ndarray]]:
    """Join per-batch counts along the image axis (in the given order)."""
    out: dict[Key, dict[str, list]] = {}
    for part in parts:
        for key, fields in part.items():
            slot = out.setdefault(key, {})
            for field, value in fields.items():
                slot.setdefault(field, []).append(np.asarray(value))
    return {key: {f: np.concatenate(v) for f, v in fields.items()} for key, fields in out.items()}
