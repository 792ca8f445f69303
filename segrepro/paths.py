"""Where segrepro keeps generated data, trained checkpoints and results.

Both folders can be moved with environment variables, so a user can point a bigger run elsewhere:
``SEGREPRO_CACHE`` (default ``./.cache``) holds regenerable artefacts (dataset arrays, checkpoints);
``SEGREPRO_RESULTS`` (default ``./results``) holds result tables, executed notebooks and the book.
"""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """Return (and create) a folder under the cache root."""
    path = Path(os.environ.get("SEGREPRO_CACHE", ".cache")).joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def results_dir(*parts: str) -> Path:
    """Return (and create) a folder under the results root."""
    path = Path(os.environ.get("SEGREPRO_RESULTS", "results")).joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary sibling then rename, so a killed run never leaves a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
