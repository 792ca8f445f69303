"""The tidy result table: one CSV per study, written atomically after every finished grid cell.

Schema (:data:`COLUMNS`): one row per ``(study, preset, grid, cell, source, target, eval_scale, method,
params, eps, iteration, seed, metric)`` with a float ``value``. ``params`` is canonical JSON
(sorted keys), ``cell`` a short hash of everything that determines the adversarial examples
(see ``segrepro.run.grid.Cell.key``). Clean-model rows use ``method="clean"``, ``source="-"``; cost rows use
``target == source`` and the metrics ``seconds_per_example``, ``forward_passes_per_example``,
``backward_passes_per_example``.

Every :meth:`ResultStore.add` rewrites the whole file through a temporary sibling and ``os.replace``
(``segrepro.paths.atomic_write_bytes``): a run killed at any moment leaves either the old or the new
table, never a torn one, so a rerun loses at most the cell that was being computed.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping, Sequence

import pandas as pd

from segrepro.paths import atomic_write_bytes

COLUMNS = ["study", "preset", "grid", "cell", "source", "target", "eval_scale", "method", "params",
           "eps", "iteration", "seed", "metric", "value"]
_STR = ["study", "preset", "grid", "cell", "source", "target", "eval_scale", "method", "params", "metric"]
_INT = ["iteration", "seed"]
_FLOAT = ["eps", "value"]
#: Metrics the grid writes per (target, iteration).
ATTACK_METRICS = ("miou", "mis_ratio", "asr", "rel_drop")
#: Metrics the grid writes once per cell, on the source.
COST_METRICS = ("seconds_per_example", "forward_passes_per_example", "backward_passes_per_example")


def empty_table() -> pd.DataFrame:
    """An empty table with the schema's columns and dtypes."""
    return _typed(pd.DataFrame({c: [] for c in COLUMNS}))


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"result rows lack column(s) {missing}; the schema is {COLUMNS}")
    df = df[COLUMNS].copy()
    for c in _STR:
        df[c] = df[c].astype(str)
    for c in _INT:
        df[c] = df[c].astype("int64")
    for c in _FLOAT:  # NaN is written as an empty field, which read_csv keeps as "" (keep_default_na=False)
        df[c] = df[c].replace("", "nan").astype("float64")
    return df


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a result CSV written by :class:`ResultStore` (an absent file gives an empty table)."""
    path = Path(path)
    if not path.exists():
        return empty_table()
    df = pd.read_csv(path, dtype={c: str for c in _STR}, keep_default_na=False)
    return _typed(df)


class ResultStore:
    """A tidy result table on disk, resumable cell by cell.

    Args:
        path: The CSV file (created on the first :meth:`add`).

    Example:
        >>> store = ResultStore(results_dir("smoke") / "setup.csv")   # doctest: +SKIP
        >>> store.has_cell("ab12cd34ef56")                              # doctest: +SKIP
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._table = read_table(self.path)

    def reload(self) -> None:
        """Re-read the file (after another process, e.g. rank 0 of a torchrun job, rewrote it)."""
        self._table = read_table(self.path)

    @property
    def table(self) -> pd.DataFrame:
        """The stored rows (a copy)."""
        return self._table.copy()

    def __len__(self) -> int:
        return len(self._table)

    def cells(self) -> set[str]:
        """Cell keys that have at least one stored row."""
        return set(self._table["cell"].unique())

    def has_cell(self, cell: str) -> bool:
        return cell in set(self._table["cell"])

    def covered(self, cell: str) -> set[tuple[str, str]]:
        """``(target, eval_scale)`` pairs with stored rows for a cell (cost rows excluded)."""
        rows = self._table[(self._table["cell"] == cell) & ~self._table["metric"].isin(COST_METRICS)]
        return set(zip(rows["target"], rows["eval_scale"]))

    def drop(self, cell: str, targets: Sequence[str]) -> int:
        """Remove a cell's rows for ``targets`` (before their recomputation replaces them); returns how many."""
        gone = (self._table["cell"] == cell) & self._table["target"].isin(list(targets)) \
            & ~self._table["metric"].isin(COST_METRICS)
        if not gone.any():
            return 0
        self._table = self._table[~gone].reset_index(drop=True)
        self._write(self._table)
        return int(gone.sum())

    def add(self, rows: Iterable[Mapping] | pd.DataFrame) -> int:
        """Append rows and rewrite the file atomically. Returns the number of rows added."""
        new = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
        if new.empty:
            return 0
        new = _typed(new)
        table = pd.concat([self._table, new], ignore_index=True) if len(self._table) else new
        self._write(table)
        self._table = table
        return len(new)

    def merge_from(self, paths: Sequence[str | Path], remove: bool = True) -> int:
        """Fold other tables (e.g. per-rank shards) into this one, dropping rows already present."""
        parts = [read_table(p) for p in paths]
        parts = [p for p in parts if len(p)]
        if not parts:
            return 0
        new = pd.concat(parts, ignore_index=True)
        key = [c for c in COLUMNS if c != "value"]
        if len(self._table):
            known = self._table[key].apply(tuple, axis=1)
            new = new[~new[key].apply(tuple, axis=1).isin(set(known))]
        new = new.drop_duplicates(subset=key)
        added = self.add(new)
        if remove:
            for p in paths:
                Path(p).unlink(missing_ok=True)
        return added

    def _write(self, table: pd.DataFrame) -> None:
        atomic_write_bytes(self.path, table.to_csv(index=False).encode())
