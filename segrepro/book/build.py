"""``segrepro book``: execute the notebooks with papermill, assemble the book sources, build the book.

The notebooks run in the environment's own ``python3`` kernel (papermill's Python API; we never
install a kernelspec, which would take over ``python3`` for every environment on the machine). Each
gets the parameter ``profile`` (plus ``overrides``, a dict of ``--set`` fields, when some were
given); results are read from ``results/<profile>`` (``SEGREPRO_RESULTS``). Executed notebooks go
to ``results/<profile>/notebooks/``; the book sources
(``_config.yml``, ``book/*.md``, ``book/_toc.yml`` and the executed notebooks) are copied flat into
``results/<profile>/book_src/`` and built there with ``jupyter-book build`` (which never re-executes:
``execute_notebooks: off``). Notebooks that do not exist yet are skipped with a warning and dropped
from the copied table of contents, so the book builds with whatever exists; but a notebooks folder,
``_config.yml`` or ``_toc.yml`` that is missing (``segrepro book`` run outside the repository, a wrong
``--notebooks``) or a folder holding none of the book's notebooks is an error before anything runs.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

from segrepro.paths import results_dir


def check_kernel(name: str = "python3") -> Path:
    """The kernelspec folder papermill will use; warns when it is not this environment's own."""
    from jupyter_client.kernelspec import KernelSpecManager

    try:
        spec_dir = Path(KernelSpecManager().get_kernel_spec(name).resource_dir).resolve()
    except Exception as err:  # jupyter_client's NoSuchKernel, or a broken kernelspec
        raise RuntimeError(f"no usable Jupyter kernel {name!r} ({err}); install ipykernel in this environment "
                           f"({sys.prefix})") from None
    if not str(spec_dir).startswith(str(Path(sys.prefix).resolve())):
        warnings.warn(f"kernel {name!r} comes from {spec_dir}, outside this environment ({sys.prefix}); "
                      "notebooks may run with another Python", stacklevel=2)
    return spec_dir


def execute_notebooks(profile_name: str, names: Sequence[str], src_dir: str | Path, out_dir: str | Path,
                      parameters: Mapping[str, Any] | None = None, progress: bool = False) -> list[Path]:
    """Run each ``<src_dir>/<name>.ipynb`` with papermill into ``out_dir``; returns the executed paths.

    Raises:
        FileNotFoundError: ``src_dir`` is not a folder, or holds none of the notebooks.
        RuntimeError: A notebook cell failed (names the notebook, the error and the executed copy that shows where).
    """
    import papermill

    src_dir, out_dir = Path(src_dir), Path(out_dir)
    _need(src_dir, "notebooks folder", "--notebooks", folder=True)
    if names and not any((src_dir / f"{n}.ipynb").is_file() for n in names):
        raise FileNotFoundError(f"notebooks folder {_where(src_dir)} holds none of the book's notebooks "
                                f"({', '.join(f'{n}.ipynb' for n in names)}); give the right --notebooks")
    check_kernel()
    out_dir.mkdir(parents=True, exist_ok=True)
    params = {"profile": profile_name, **(parameters or {})}
    done = []
    for name in names:
        src = src_dir / f"{name}.ipynb"
        if not src.is_file():
            warnings.warn(f"notebook {src} does not exist; skipped", stacklevel=2)
            continue
        dst = out_dir / src.name
        try:
            papermill.execute_notebook(str(src), str(dst), parameters=params, kernel_name="python3",
                                       language="python", cwd=str(Path.cwd()), progress_bar=progress)
        except papermill.PapermillExecutionError as err:
            raise RuntimeError(f"notebook {src} failed in cell [{err.exec_count}]: {err.ename}: {err.evalue} "
                               f"(the executed copy {dst} shows where)") from err
        done.append(dst)
    return done


def _where(path: Path) -> str:
    """``'notebooks' (/abs/notebooks)`` for messages: the path as given and where it points."""
    return f"{str(path)!r} ({path.resolve()})" if not path.is_absolute() else repr(str(path))


def _need(path: Path, what: str, option: str, folder: bool = False) -> None:
    """Raise ``FileNotFoundError`` (one line: what, where, the fix) when ``path`` is not a folder / file."""
    if not (path.is_dir() if folder else path.is_file()):
        raise FileNotFoundError(f"{what} {_where(path)} not found; run segrepro book from the repository root "
                                f"or give {option}")


def check_sources(notebooks: str | Path, book_dir: str | Path, config: str | Path) -> None:
    """Check the book's sources exist before any notebook runs.

    Raises:
        FileNotFoundError: The notebooks folder, the book folder, its ``_toc.yml`` or ``_config.yml`` is
            missing (the message names it and the option that sets it).
    """
    _need(Path(notebooks), "notebooks folder", "--notebooks", folder=True)
    _need(Path(book_dir), "book folder", "--book-dir", folder=True)
    _need(Path(book_dir) / "_toc.yml", "table of contents", "--book-dir")
    _need(Path(config), "book config", "--config")


def assemble(book_src: str | Path, config: str | Path, book_dir: str | Path, notebooks: Sequence[Path]) -> Path:
    """Copy ``_config.yml``, ``book/*.md``, ``_toc.yml`` (without missing chapters) and the notebooks.

    Raises:
        FileNotFoundError: No ``_config.yml`` or no ``_toc.yml``.
    """
    import yaml

    book_src, book_dir, config = Path(book_src), Path(book_dir), Path(config)
    _need(config, "book config", "--config")
    _need(book_dir / "_toc.yml", "table of contents", "--book-dir")
    if book_src.exists():
        for item in book_src.iterdir():  # keep _build (incremental Sphinx builds), replace the sources
            if item.name != "_build":
                shutil.rmtree(item) if item.is_dir() else item.unlink()
    book_src.mkdir(parents=True, exist_ok=True)
    shutil.copy2(config, book_src / "_config.yml")
    for page in book_dir.iterdir():
        if page.is_file() and page.suffix in (".md", ".bib", ".png", ".svg") or page.name == "_static":
            (shutil.copytree if page.is_dir() else shutil.copy2)(page, book_src / page.name)
    for nb in notebooks:
        shutil.copy2(nb, book_src / nb.name)
    (book_src / "cli_help.txt").write_text(cli_help())
    present = {p.stem for p in book_src.iterdir() if p.suffix in (".md", ".ipynb")}
    toc = yaml.safe_load((book_dir / "_toc.yml").read_text())
    (book_src / "_toc.yml").write_text(yaml.safe_dump(_prune(toc, present), sort_keys=False))
    return book_src


def cli_help() -> str:
    """``segrepro --help`` and each subcommand's help, as printed (the API page includes it).

    Run as a subprocess: the book layer does not import the CLI that drives it.
    """
    import subprocess
    import sys

    def run(*args: str) -> str:
        out = subprocess.run([sys.executable, "-m", "segrepro.cli", *args, "--help"], capture_output=True, text=True)
        return out.stdout

    main = run()
    commands = re.search(r"\{([a-z,]+)\}", main)
    parts = [f"$ segrepro --help\n{main}"]
    for name in (commands.group(1).split(",") if commands else []):
        parts.append(f"$ segrepro {name} --help\n{run(name)}")
    return "\n".join(parts)


def _prune(node: Any, present: set[str]) -> Any:
    """Drop ``file:`` entries whose page is missing (and captions left empty)."""
    if isinstance(node, list):
        kept = [_prune(n, present) for n in node]
        return [n for n in kept if n is not None]
    if isinstance(node, dict):
        if "file" in node and Path(str(node["file"])).stem not in present:
            return None
        out = {k: _prune(v, present) if k in ("parts", "chapters", "sections") else v for k, v in node.items()}
        if "chapters" in out and not out["chapters"]:
            return None
        return out
    return node


def build_book(profile, names: Sequence[str], overrides: Mapping[str, Any] | None = None,
               notebooks: str | Path = "notebooks", book_dir: str | Path = "book", config: str | Path = "_config.yml",
               build: bool = True) -> Path | None:
    """Execute the notebooks, assemble ``results/<profile>/book_src`` and build it.

    Args:
        profile: The profile (its name is the notebooks' ``profile`` parameter and the results folder).
        names: The notebooks in book order (``segrepro.cli.NOTEBOOKS``: one per study).
        overrides: ``--set`` fields, passed to every notebook as ``overrides``.
        notebooks, book_dir, config: Where the notebooks, the prose pages and ``_config.yml`` are.
        build: Run ``jupyter-book build`` (else only execute and assemble).

    Returns:
        The built ``index.html`` (``None`` with ``build=False``).

    Raises:
        FileNotFoundError: A source folder or file is missing (:func:`check_sources`).
        RuntimeError: A notebook or ``jupyter-book build`` failed (its output is included).
    """
    check_sources(notebooks, book_dir, config)  # before any notebook runs (they take minutes)
    root = results_dir(profile.name)
    # JSON round trip: papermill renders a tuple (a parsed --set list) as the string "('a', 'b')"
    params = {"overrides": json.loads(json.dumps(dict(overrides)))} if overrides else {}
    executed = execute_notebooks(profile.name, names, notebooks, root / "notebooks", params)
    book_src = assemble(root / "book_src", config, book_dir, executed)
    if not build:
        return None
    jb = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(jb) if jb.exists() else "jupyter-book", "build", str(book_src)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"jupyter-book build failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return (book_src / "_build" / "html" / "index.html").resolve()
