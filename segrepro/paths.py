"""Where segrepro keeps generated data, trained checkpoints and results.

Both folders can be moved with environment variables, so a user can point a bigger run elsewhere:
``SEGREPRO_CACHE`` (default ``./.cache``) holds regenerable artefacts (dataset arrays, checkpoints);
``SEGREPRO_RESULTS`` (default ``./results``) holds result tables, executed notebooks and the book.
"""
from __future__ import annotations

import os
from pathlib import Path


def _folder(variable: str, default: str, parts: tuple[str, ...]) -> Path:
    root = Path(os.environ.get(variable, default))
    path = root.joinpath(*parts)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as err:  # mkdir's own message names neither
        blocker = next((p for p in (root, *path.parents) if p.exists() and not p.is_dir()), path)
        origin = (f"{variable}={os.environ[variable]!r}" if variable in os.environ
                  else f"the default {default!r} ({variable} unset)")
        raise NotADirectoryError(f"{origin}: cannot make the folder {path} because {blocker} is a file, "
                                 f"not a folder; point {variable} at a folder or move the file") from err
    return path


def cache_dir(*parts: str) -> Path:
    """Return (and create) a folder under the cache root.

    Raises:
        NotADirectoryError: the root (``SEGREPRO_CACHE``) or a folder on the way is a file.
    """
    return _folder("SEGREPRO_CACHE", ".cache", parts)


def results_dir(*parts: str) -> Path:
    """Return (and create) a folder under the results root.

    Raises:
        NotADirectoryError: the root (``SEGREPRO_RESULTS``) or a folder on the way is a file.
    """
    return _folder("SEGREPRO_RESULTS", "results", parts)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary sibling then rename, so a killed run never leaves a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
