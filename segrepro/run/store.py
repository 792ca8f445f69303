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

Several processes may write one table (a notebook rerun with papermill while ``segrepro run`` works):
``add`` holds an exclusive ``fcntl.flock`` on a hidden sibling lock file (``.<name>.lock``) while it
re-reads the file, merges its rows in and writes. The lock is POSIX only; on Windows ``add`` does not
lock, so run one writer per results folder there.

A table damaged outside segrepro (a copy cut short, a disk that filled up, an editor) is refused by
:func:`read_table` with :class:`DamagedTableError`, which names the file and the repair: move it aside
and rerun, and the missing cells are recomputed.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

import pandas as pd

from segrepro.paths import atomic_write_bytes

try:
    import fcntl
except ImportError:  # Windows: no advisory locks (see the module docstring)
    fcntl = None

COLUMNS = ["study", "preset", "grid", "cell", "source", "target", "eval_scale", "method", "params",
           "eps", "iteration", "seed", "metric", "value"]
_STR = ["study", "preset", "grid", "cell", "source", "target", "eval_scale", "method", "params", "metric"]
_INT = ["iteration", "seed"]
_FLOAT = ["eps", "value"]
#: Columns that identify a row (all but ``value``): two rows with the same key are the same result.
KEY = [c for c in COLUMNS if c != "value"]
_QUOTED = re.compile(r'"(?:[^"]|"")*"')  # one CSV-quoted field
#: Metrics the grid writes per (target, iteration).
ATTACK_METRICS = ("miou", "mis_ratio", "asr", "rel_drop")
#: Metrics the grid writes once per cell, on the source.
COST_METRICS = ("seconds_per_example", "forward_passes_per_example", "backward_passes_per_example")


class DamagedTableError(ValueError):
    """A result CSV that is not a whole table written by :class:`ResultStore` (names the file and the repair)."""

    def __init__(self, path: Path, problem: str):
        super().__init__(f"result table {path} is damaged: {problem}. Move it aside and rerun "
                         f"(e.g. mv '{path}' '{path}.damaged'): the missing cells are recomputed")
        self.path = path


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
    """Read a result CSV written by :class:`ResultStore` (an absent file gives an empty table).

    Raises:
        DamagedTableError: The file is empty, not text, lacks its final newline (cut mid-row), has the
            wrong header, a row with too few or too many fields, or a value that is not a number.
    """
    path = Path(path)
    if not path.exists():
        return empty_table()
    return _parse(path, path.read_bytes())


def _parse(path: Path, data: bytes) -> pd.DataFrame:
    """The table in ``data`` (the bytes of ``path``), checked field by field: the store writes whole rows only."""
    if not data:
        raise DamagedTableError(path, "the file is empty (the store never writes an empty table)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DamagedTableError(path, f"it is not UTF-8 text (byte {err.start})") from None
    text = text.replace("\r\n", "\n")  # a table written on Windows by an older version
    if "\x00" in text:
        raise DamagedTableError(path, "it holds binary data (NUL bytes)")
    if not text.endswith("\n"):
        raise DamagedTableError(path, "it does not end with a newline (cut in the middle of a row)")
    lines = _QUOTED.sub('""', text).split("\n")[:-1]  # quoted fields (params JSON) may hold commas
    if lines[0] != ",".join(COLUMNS):
        raise DamagedTableError(path, f"its first line is {lines[0][:200]!r}, not the header {','.join(COLUMNS)!r}")
    for number, line in enumerate(lines[1:], start=2):
        if '"' in line.replace('""', ""):
            raise DamagedTableError(path, f"line {number} has an unclosed quote")
        if line.count(",") != len(COLUMNS) - 1:
            raise DamagedTableError(path, f"line {number} has {line.count(',') + 1} fields, not {len(COLUMNS)}")
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, ValueError) as err:
        raise DamagedTableError(path, f"it is not valid CSV ({err})") from None
    for c in _INT + _FLOAT:
        numbers = pd.to_numeric(df[c].replace("", "nan") if c in _FLOAT else df[c], errors="coerce")
        bad = numbers.isna() & ((df[c] != "") if c in _FLOAT else True)
        if bad.any():
            i = int(bad.to_numpy().nonzero()[0][0])
            raise DamagedTableError(path, f"line {i + 2} has {c}={df[c].iloc[i]!r}, not a number")
        if c in _INT and (numbers != numbers.round()).any():
            i = int((numbers != numbers.round()).to_numpy().nonzero()[0][0])
            raise DamagedTableError(path, f"line {i + 2} has {c}={df[c].iloc[i]!r}, not an integer")
        df[c] = numbers
    return _typed(df)


class ResultStore:
    """A tidy result table on disk, resumable cell by cell, safe for several writing processes.

    Args:
        path: The CSV file (created on the first :meth:`add`).

    Raises:
        DamagedTableError: The file exists but is damaged (see :func:`read_table`).

    Example:
        >>> store = ResultStore(results_dir("smoke") / "setup.csv")   # doctest: +SKIP
        >>> store.has_cell("ab12cd34ef56")                              # doctest: +SKIP
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._stamp = None  # (inode, mtime, size) of the file self._table was read from or written to
        self.reload()

    def reload(self) -> None:
        """Re-read the file (after another process, e.g. rank 0 of a torchrun job, rewrote it)."""
        self._stamp = self._file_stamp()  # before reading: a file replaced meanwhile only causes one more re-read
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

    def has_cell(self, cell: str, metrics: Sequence[str] | None = None) -> bool:
        """Whether a cell has rows; with ``metrics``, a row of each of them (a cell cut short is not done)."""
        stored = set(self._table.loc[self._table["cell"] == cell, "metric"])
        return bool(stored) and set(metrics or ()) <= stored

    def covered(self, cell: str, iterations: Sequence[int] | None = None,
                metrics: Sequence[str] | None = None) -> set[tuple[str, str]]:
        """``(target, eval_scale)`` pairs whose rows of a cell are complete (cost rows excluded).

        A pair counts only when it has a row for every ``(iteration, metric)`` of ``iterations`` x
        ``metrics``. ``None`` infers them from the cell's stored rows (every iteration and metric that
        any of its targets has), which catches a pair cut short but not an iteration lost for every
        target: the grid passes its ``snapshots`` and :data:`ATTACK_METRICS` to be exact.
        """
        rows = self._table[(self._table["cell"] == cell) & ~self._table["metric"].isin(COST_METRICS)]
        its = set(rows["iteration"]) if iterations is None else {int(i) for i in iterations}
        mets = set(rows["metric"]) if metrics is None else set(metrics)
        wanted = {(i, m) for i in its for m in mets}
        have: dict[tuple[str, str], set] = {}
        for t, s, i, m in zip(rows["target"], rows["eval_scale"], rows["iteration"], rows["metric"]):
            have.setdefault((t, s), set()).add((int(i), m))
        return {pair for pair, got in have.items() if wanted <= got}

    def drop(self, cell: str, targets: Sequence[str]) -> int:
        """Remove a cell's rows for ``targets`` (before their recomputation replaces them); returns how many."""
        with self._locked():
            if self._file_stamp() != self._stamp:  # another process wrote since we last read
                self.reload()
            gone = (self._table["cell"] == cell) & self._table["target"].isin(list(targets)) \
                & ~self._table["metric"].isin(COST_METRICS)
            if not gone.any():
                return 0
            self._table = self._table[~gone].reset_index(drop=True)
            self._write(self._table)
            self._stamp = self._file_stamp()
        return int(gone.sum())

    def add(self, rows: Iterable[Mapping] | pd.DataFrame) -> int:
        """Merge rows into the file (under the lock, with what other processes wrote) and rewrite it atomically.

        Rows already stored (same :data:`KEY`) are not added again. Returns the number of rows added.
        """
        new = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
        if new.empty:
            return 0
        new = _typed(new)
        with self._locked():
            if self._file_stamp() != self._stamp:  # another process wrote since we last read
                self.reload()
            same_cells = self._table[self._table["cell"].isin(set(new["cell"]))]
            if len(same_cells):  # e.g. a cell two processes computed at once: keep the first copy
                known = set(same_cells[KEY].itertuples(index=False, name=None))
                new = new[[k not in known for k in new[KEY].itertuples(index=False, name=None)]]
            if new.empty:
                return 0
            table = pd.concat([self._table, new], ignore_index=True) if len(self._table) else new
            self._write(table)
            self._table, self._stamp = table, self._file_stamp()
        return len(new)

    def merge_from(self, paths: Sequence[str | Path], remove: bool = True) -> int:
        """Fold other tables (e.g. per-rank shards) into this one, dropping rows already present."""
        parts = [read_table(p) for p in paths]
        parts = [p for p in parts if len(p)]
        added = self.add(pd.concat(parts, ignore_index=True).drop_duplicates(subset=KEY)) if parts else 0
        if remove:
            for p in paths:
                Path(p).unlink(missing_ok=True)
        return added

    def _file_stamp(self):
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold an exclusive lock on ``.<name>.lock`` next to the table (POSIX; a no-op without fcntl)."""
        if fcntl is None:
            yield
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_name(f".{self.path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released by close, also when the process dies
            yield
        finally:
            os.close(fd)

    def _write(self, table: pd.DataFrame) -> None:
        atomic_write_bytes(self.path, table.to_csv(index=False, lineterminator="\n").encode())
