"""Fixtures for the book tests: a small book built from the real prose pages and config.

``book_html`` is the ``_build/html`` folder of a book made of ``book/*.md``, ``book/_toc.yml`` and
``_config.yml`` plus one tiny generated notebook (a parameters cell, a glued number, a matplotlib
figure, a pandas table and an equation) executed once with papermill and copied under every
notebook name of the table of contents. Set ``SEGREPRO_BOOK_HTML`` to a built book (for example the
smoke run's ``results/smoke/book_src/_build/html``) to check that one instead.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
GLUED_VALUE = 0.4321  # shown on the page as "0.43" through {glue:text}`clean_miou:.2f`


def toc_files(toc_path: Path) -> list[str]:
    """Every page name of a jb-book ``_toc.yml`` (root first)."""
    toc = yaml.safe_load(toc_path.read_text())
    names = [toc["root"]]
    for part in toc.get("parts", [{"chapters": toc.get("chapters", [])}]):
        for chapter in part["chapters"]:
            names.append(chapter["file"])
            names += [s["file"] for s in chapter.get("sections", [])]
    return names


#: ``{glue:text}`<notebook>.ipynb::<key>...``` in a prose page: a number glued in another document.
CROSS_GLUE = re.compile(r"\{glue(?::\w+)?\}`(\w+)\.ipynb::(\w+)")


def cross_glue_refs() -> set[tuple[str, str]]:
    """``(notebook, key)`` of every glue reference that the prose pages of ``book/`` make to a notebook."""
    return {m.groups() for page in (REPO / "book").glob("*.md") for m in CROSS_GLUE.finditer(page.read_text())}


def tiny_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell('profile = "smoke"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A tiny chapter\n\nThe weighted loss is\n\n$$\nL = \\frac{1}{N} \\sum_i w_i \\, \\mathrm{CE}_i\n$$"),
        params,
        nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\n"
                                  "import pandas as pd\nfrom myst_nb import glue"),
        nbformat.v4.new_code_cell(f"glue('clean_miou', {GLUED_VALUE}, display=False)"),
        # the keys the prose pages take from the real notebooks (each tiny copy stands in for all of them)
        nbformat.v4.new_code_cell("\n".join(f"glue({key!r}, {GLUED_VALUE}, display=False)"
                                            for key in sorted({k for _, k in cross_glue_refs()}))),
        nbformat.v4.new_markdown_cell("Clean mIoU of the tiny model: {glue:text}`clean_miou:.2f`."),
        nbformat.v4.new_code_cell("fig, ax = plt.subplots(figsize=(4, 3))\nax.plot([1, 2, 5, 10], [0.6, 0.4, 0.3, 0.25], marker='o')\n"
                                  "ax.set_xlabel('iterations'); ax.set_ylabel('mIoU')\nplt.show()"),
        nbformat.v4.new_code_cell("pd.DataFrame({'method': ['bim', 'ds'], 'miou': [0.31, 0.22]})"),
    ]
    return nb


def build_tiny_book(dest: Path) -> Path:
    """Assemble and build the small book in ``dest``; returns its ``_build/html`` folder."""
    import papermill

    src = dest / "book_src"
    src.mkdir(parents=True)
    for page in (REPO / "book").glob("*.md"):
        shutil.copy(page, src / page.name)
    shutil.copy(REPO / "book" / "_toc.yml", src / "_toc.yml")
    shutil.copy(REPO / "_config.yml", src / "_config.yml")
    from segrepro.book.build import cli_help

    (src / "cli_help.txt").write_text(cli_help())
    raw = dest / "tiny.ipynb"
    nbformat.write(tiny_notebook(), raw)
    executed = dest / "tiny_executed.ipynb"
    papermill.execute_notebook(str(raw), str(executed), parameters={"profile": "smoke"}, kernel_name="python3",
                               progress_bar=False, cwd=str(dest))
    mds = {p.stem for p in src.glob("*.md")}
    for name in toc_files(src / "_toc.yml"):
        if name not in mds:
            shutil.copy(executed, src / f"{name}.ipynb")
    jb = Path(sys.executable).with_name("jupyter-book")
    proc = subprocess.run([str(jb), "build", str(src), "--warningiserror", "--keep-going"],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"jupyter-book build failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return src / "_build" / "html"


@pytest.fixture(scope="session")
def book_html(tmp_path_factory) -> Path:
    """The built book to check: ``$SEGREPRO_BOOK_HTML`` if set, else the small generated book."""
    given = os.environ.get("SEGREPRO_BOOK_HTML")
    if given:
        return Path(given)
    return build_tiny_book(tmp_path_factory.mktemp("book"))


@pytest.fixture(scope="session")
def expected_pages() -> list[str]:
    return toc_files(REPO / "book" / "_toc.yml")


@pytest.fixture
def prose_glue_refs() -> set[tuple[str, str]]:
    """:func:`cross_glue_refs` of the repository's prose pages."""
    return cross_glue_refs()
