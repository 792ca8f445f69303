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

The copies in ``book_src`` are made for readers (:func:`clean_notebook`): every code cell's input is
hidden (``remove-input``; cells left without output are removed) and stderr streams and warnings are
dropped; the executed notebooks in ``results/<profile>/notebooks/`` keep everything, for debugging.
:mod:`segrepro.book.pages` then writes the generated pages (downloads, the stamp, the cost plan, the
CLI help). The kernel talks to papermill over encrypted sockets (:func:`kernel_config`), so the
kernel's "running over TCP without encryption" warning never appears, and is shut down without an
interrupt (:func:`kernel_manager_class`), so no "KeyboardInterrupt caught in kernel" either.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

from segrepro.book.pages import write_generated
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


def kernel_manager_class():
    """papermill's kernel manager, without the interrupt that jupyter_client sends before every shutdown.

    ``AsyncKernelManager.shutdown_kernel`` interrupts the kernel (SIGINT) before asking it to shut down;
    when the signal lands while the kernel handles a message, ipykernel logs "KeyboardInterrupt caught
    in kernel." to the build log. A notebook has finished when papermill shuts its kernel down, so
    there is nothing to interrupt: the shutdown request alone is sent (a kernel that does not answer is
    still killed after jupyter_client's wait).
    """
    from jupyter_client.manager import AsyncKernelManager

    global _QUIET_MANAGER
    if _QUIET_MANAGER is None:
        class QuietShutdownKernelManager(AsyncKernelManager):
            async def _async_interrupt_kernel(self) -> None:
                if self.shutting_down:
                    return
                await super()._async_interrupt_kernel()

        _QUIET_MANAGER = QuietShutdownKernelManager
    return _QUIET_MANAGER


_QUIET_MANAGER = None


def kernel_config(name: str = "python3"):
    """Kernel manager settings for papermill: CurveZMQ encryption when the kernel supports it, else IPC.

    ipykernel warns "Kernel is running over TCP without encryption" when it binds plain TCP sockets.
    jupyter_client provisions CurveZMQ keys (``transport_encryption="auto"``) for kernels whose
    kernelspec declares ``supported_encryption: curve`` (ipykernel >= 7 does) when pyzmq has CurveZMQ;
    otherwise the kernel is told to use local IPC sockets in a private temporary folder instead of TCP.
    """
    import tempfile

    import zmq
    from jupyter_client.kernelspec import KernelSpecManager
    from traitlets.config import Config

    metadata = KernelSpecManager().get_kernel_spec(name).metadata or {}
    declared = metadata.get("supported_encryption") or ()
    declared = {declared} if isinstance(declared, str) else set(declared)
    if "curve" in {str(d).lower() for d in declared} and zmq.has("curve"):
        return Config({"KernelManager": {"transport_encryption": "auto"}})
    folder = tempfile.mkdtemp(prefix="segrepro-kernel-")  # short: UNIX socket paths are limited to ~100 bytes
    return Config({"KernelManager": {"transport": "ipc", "ip": str(Path(folder) / "k")}})


#: Cell tags that hide a cell's input (``remove-input``) or the whole cell (``remove-cell``) in the book.
HIDE_INPUT, HIDE_CELL = "remove-input", "remove-cell"


def clean_notebook(path: str | Path) -> Path:
    """Make an executed notebook (a copy) fit for readers, in place.

    Every code cell gets the ``remove-input`` tag; a code cell left without outputs (the parameters,
    the imports, glue-only cells) gets ``remove-cell``. Stream outputs on stderr (warnings, progress
    bars, logging) are dropped. Cells get ids where they lack them (nbformat 4.5).
    """
    import uuid

    import nbformat

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if "id" not in cell:
            cell["id"] = uuid.uuid4().hex[:8]
        if cell.cell_type != "code":
            continue
        cell.outputs = [o for o in cell.get("outputs", [])
                        if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
        tags = list(cell.metadata.get("tags", []))
        shown = [o for o in cell.outputs if not o.get("metadata", {}).get("scrapbook")]  # glue(display=False) outputs
        for tag in (HIDE_INPUT, *([] if shown else [HIDE_CELL])):
            if tag not in tags:
                tags.append(tag)
        cell.metadata["tags"] = tags
    nbformat.write(nb, path)
    return path


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
                                       language="python", cwd=str(Path.cwd()), progress_bar=progress,
                                       config=kernel_config(), kernel_manager_class=kernel_manager_class())
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
        clean_notebook(shutil.copy2(nb, book_src / nb.name))
    present = {p.stem for p in book_src.iterdir() if p.suffix in (".md", ".ipynb")}
    toc = yaml.safe_load((book_dir / "_toc.yml").read_text())
    (book_src / "_toc.yml").write_text(yaml.safe_dump(_prune(toc, present), sort_keys=False))
    return book_src


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
    write_generated(book_src, root, profile.name)
    if not build:
        return None
    jb = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(jb) if jb.exists() else "jupyter-book", "build", str(book_src)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"jupyter-book build failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return (book_src / "_build" / "html" / "index.html").resolve()
