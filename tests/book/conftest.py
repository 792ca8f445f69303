"""Fixtures for the book tests: a small book built from the real prose pages and config.

``book_html`` is the ``_build/html`` folder of a book made of ``book/*.md``, ``book/_toc.yml`` and
``_config.yml`` plus one tiny generated notebook (a parameters cell, glued numbers, the landing page's
headline keys, a captioned figure, a claims table, a pandas table, stderr noise and an equation)
executed once with papermill, copied under every notebook name of the table of contents and
assembled by ``segrepro.book.build`` (hidden inputs, generated pages) from a fake results folder. Set ``SEGREPRO_BOOK_HTML`` to a built book (for example the
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
#: A ``{glue}`` directive with a ``:doc:`` option: an object glued in another document.
CROSS_GLUE_DIRECTIVE = re.compile(r"[`:]{3}\{glue(?::\w+)?\} (\w+)\s*\n:doc: (\w+)\.ipynb")


def cross_glue_refs() -> set[tuple[str, str]]:
    """``(notebook, key)`` of every glue reference that the prose pages of ``book/`` make to a notebook."""
    refs = set()
    for page in (REPO / "book").glob("*.md"):
        text = page.read_text()
        refs |= {m.groups() for m in CROSS_GLUE.finditer(text)}
        refs |= {(nb, key) for key, nb in CROSS_GLUE_DIRECTIVE.findall(text)}
    return refs


#: A claims table in the columns of ``claims.csv`` for the tiny book's chapters and landing page.
CLAIMS_CODE = """import pandas as pd
claims = pd.DataFrame([
    dict(paper="ds", claim_id="ds_table1_ds_beats_fs", part="", claim="DS transfers better than FS",
         quantity="DS - FS", unit="mIoU points", direction="lower", threshold=0, paper_value=-22.5, value=-3.2,
         low=-4.1, high=-2.3, n_images=64, n_seeds=2, outcome="reproduced", n_needed=None, why=""),
    dict(paper="ds", claim_id="ds_table1_ds_beats_fs", part="psp_r18 -> fcn8s_vgg16", claim="", quantity="DS - FS",
         unit="mIoU points", direction="lower", threshold=0, paper_value=None, value=-1.0, low=-2.5, high=0.4,
         n_images=64, n_seeds=2, outcome="inconclusive", n_needed=250, why=None),
    dict(paper="project", claim_id="at_robust", part="", claim="AT keeps 20 mIoU", quantity="PGD-20 mIoU",
         unit="mIoU points", direction="higher", threshold=20, paper_value=None, value=29.06416, low=25.5,
         high=31.2, n_images=64, n_seeds=1, outcome="contradicted", n_needed=None, why="Too short a schedule."),
])"""


def tiny_notebook() -> nbformat.NotebookNode:
    """A chapter as the real notebooks write one: glue, a captioned figure, claims, a table, stderr noise."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell('profile = "smoke"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A tiny chapter\n\nThe weighted loss is\n\n$$\nL = \\frac{1}{N} \\sum_i w_i \\, \\mathrm{CE}_i\n$$"),
        params,
        nbformat.v4.new_code_cell("import sys, warnings\nimport matplotlib.pyplot as plt\n"
                                  "import pandas as pd\nfrom myst_nb import glue\nfrom segrepro.report import plots, present"),
        nbformat.v4.new_code_cell(CLAIMS_CODE),
        nbformat.v4.new_code_cell(f"glue('clean_miou', {GLUED_VALUE}, display=False)"),
        # the keys the prose pages take from the real notebooks (each tiny copy stands in for all of them)
        nbformat.v4.new_code_cell("\n".join(f"glue({key!r}, {GLUED_VALUE}, display=False)"
                                            for key in sorted({k for _, k in cross_glue_refs()} - HEADLINE))),
        nbformat.v4.new_code_cell("pairs = claims.assign(label=['mean', 'psp -> fcn', 'at'])\n"
                                  "fig = plots.interval_plot(pairs, xlabel='DS - FS (points)', claimed='lower')\n"
                                  "present.glue_headline(claims, figure=fig, caption='DS - FS per pair.', alt='Dots with "
                                  "intervals', sentences=['DS beats FS on 1 pair.', 'One is inconclusive.', "
                                  "'The AT target is missed.'])"),
        nbformat.v4.new_code_cell("present.at_a_glance(claims)"),
        nbformat.v4.new_code_cell("print('noise on stderr', file=sys.stderr)\nwarnings.warn('a warning the reader "
                                  "must not see')\nprint('kept on stdout')"),
        nbformat.v4.new_markdown_cell("Clean mIoU of the tiny model: {glue:text}`clean_miou:.2f`, see {numref}`fig-tiny-curve`."),
        nbformat.v4.new_code_cell("fig, ax = plt.subplots(figsize=(4, 3))\nax.plot([1, 2, 5, 10], [0.6, 0.4, 0.3, 0.25], marker='o')\n"
                                  "ax.set_xlabel('attack iterations'); ax.set_ylabel('target mIoU (%)')\n"
                                  "present.glue_figure('tiny_curve', fig, caption='Target mIoU falls with iterations.',"
                                  " alt='Line chart falling from 60 to 25 % over 10 iterations')"),
        nbformat.v4.new_code_cell("pd.DataFrame({'method': ['bim', 'ds'], 'miou': [0.31, 0.22]})"),
        nbformat.v4.new_code_cell("present.claims_html(claims)"),
    ]
    return nb


#: Keys glued by ``present.glue_headline`` (the tiny notebook glues them through it, as 05_comparison does).
HEADLINE = {"headline_grid", "headline_counts", "headline_figure", "headline_sentence_1", "headline_sentence_2",
            "headline_sentence_3"}


def fake_results(root: Path) -> Path:
    """A results folder as a run leaves it: a tidy table, claims.csv, timings.csv and per-image counts."""
    import numpy as np

    root.mkdir(parents=True, exist_ok=True)
    (root / "dynamic_scaling.csv").write_text("study,preset,metric,value\ndynamic_scaling,shapes,miou,0.3\n")
    (root / "claims.csv").write_text("paper,claim_id,part,outcome\nds,ds_x,,reproduced\n")
    (root / "timings.csv").write_text("stage,seconds,computed,skipped,rows\nsetup,2.0,0,0,1\ntotal,95.0,0,0,1\n")
    (root / "counts" / "dynamic_scaling").mkdir(parents=True, exist_ok=True)
    np.savez_compressed(root / "counts" / "dynamic_scaling" / "abc.npz", x=np.arange(3))
    return root


def build_tiny_book(dest: Path) -> Path:
    """Execute the tiny notebook once, assemble it under every notebook name of the table of contents
    with ``segrepro.book.build`` (hidden inputs, generated pages) and build; returns ``_build/html``."""
    import papermill

    from segrepro.book.build import assemble, kernel_config, kernel_manager_class
    from segrepro.book.pages import write_generated

    raw = dest / "tiny.ipynb"
    nbformat.write(tiny_notebook(), raw)
    executed = dest / "executed"
    executed.mkdir()
    first = executed / "tiny.ipynb"
    papermill.execute_notebook(str(raw), str(first), parameters={"profile": "smoke"}, kernel_name="python3",
                               progress_bar=False, cwd=str(REPO), config=kernel_config(),
                               kernel_manager_class=kernel_manager_class())
    mds = {p.stem for p in (REPO / "book").glob("*.md")}
    copies = []
    for name in toc_files(REPO / "book" / "_toc.yml"):
        if name not in mds:
            copies.append(executed / f"{name}.ipynb")
            # figure labels are global in a book: one per copy, as each real chapter has its own
            copies[-1].write_text(first.read_text().replace("fig-tiny-curve", f"fig-tiny-curve-{len(copies)}"))
    src = assemble(dest / "book_src", REPO / "_config.yml", REPO / "book", copies)
    write_generated(src, fake_results(dest / "results"), "smoke", plan=False)
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
