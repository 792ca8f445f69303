"""The study notebooks read as a report: static checks on their JSON (nothing is executed).

Results reach the reader through ``segrepro.report.present``: figures numbered with a caption and alt text,
tables rounded and without ``nan``, the designed claims table, and at the top of each study chapter the
at-a-glance box and the table of deviations from the paper. The prose speaks to readers (no internal
wording, arXiv ids as links), and each deviation links to a section that exists.
"""
import ast
import importlib
import re
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
#: The study chapters and the package of each one's ``deviations`` module.
STUDY_CHAPTERS = {"01_dynamic_scaling": "dynamic_scaling", "02_transegpgd": "transegpgd", "03_segtrans": "segtrans",
                  "04_rp_pgd": "rp_pgd"}
#: A call that draws a figure (plotting helpers of the project, matplotlib, pandas' plot accessor).
PLOTTING = re.compile(r"\bplots\.\w+\(|\bfigs\.(?:curves|fig8)\(|\brender_grid\(|\bwhitebox_figure\(|"
                      r"\bfrontier_figure\(|\bkey_figure\(|\.plot(?:\.\w+)?\(|\bplt\.(?:subplots|figure)\(")
#: Internal wording that a reader should not meet in the prose.
INTERNAL = [r"spec/", r"\bspec\b", r"seed\(s\)", r"profile's", r"\bprofile\b", r"\bissues?\b", r"\btemplate\b",
            r"\bnotebook\b", r"claims\.csv", r"n_needed"]


def _cells(path: Path, kind: str):
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == kind]


def _code(path: Path) -> str:
    return "\n".join(c.source for c in _cells(path, "code"))


def _ids(paths=NOTEBOOKS):
    return [p.stem for p in paths]


def _last_expression(source: str):
    """The last statement of a cell when it is an expression (its value is what the cell shows), else None."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith("%")]  # no IPython magics
    try:
        body = ast.parse("\n".join(lines)).body
    except SyntaxError:
        return None
    return body[-1].value if body and isinstance(body[-1], ast.Expr) else None


def _headings(page: str) -> set[str]:
    return {line[3:].strip() for line in (REPO / "book" / f"{page}.md").read_text().splitlines()
            if line.startswith("## ")}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids())
def test_no_raw_dataframe_is_shown(path):
    """A table goes through ``present.table`` (rounded, no nan), never a raw ``.round()`` or settings dump."""
    for cell in _cells(path, "code"):
        last = _last_expression(cell.source)
        if isinstance(last, ast.Call) and isinstance(last.func, ast.Attribute):
            assert last.func.attr not in ("round", "to_dict", "drop", "head"), \
                f"{path.name} cell {cell.id}: shows a raw {last.func.attr}() result; use present.table"
        assert "P.to_dict()\n" not in cell.source + "\n" or "present.table" in cell.source, \
            f"{path.name} cell {cell.id}: dumps the run's settings raw"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids())
def test_every_figure_is_numbered_with_caption_and_alt_text(path):
    for cell in _cells(path, "code"):
        if "glue_headline(" in cell.source:  # the landing page's figure: present.figure_html captions it
            assert "caption=" in cell.source and "alt=" in cell.source, f"{path.name} cell {cell.id}"
            continue
        if PLOTTING.search(cell.source):
            assert "present.glue_figure(" in cell.source, \
                f"{path.name} cell {cell.id}: draws a figure without present.glue_figure"
        for call in re.finditer(r"present\.glue_figure\(", cell.source):
            rest = cell.source[call.end():]
            assert "caption=" in rest and "alt=" in rest, f"{path.name} cell {cell.id}: figure without caption or alt"


def test_figure_keys_are_unique_across_the_book():
    keys = []
    for path in NOTEBOOKS:
        keys += re.findall(r"present\.glue_figure\(\s*f?\"([^\"]+)\"", _code(path))
    assert keys, "no figure glued with present.glue_figure"
    assert len(keys) == len(set(keys)), f"figure keys used twice: {sorted(k for k in keys if keys.count(k) > 1)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids())
def test_arxiv_ids_are_links(path):
    for cell in _cells(path, "markdown"):
        text = cell.source
        for m in re.finditer(r"\b\d{4}\.\d{5}\b", text):
            linked = re.search(r"\[arXiv " + re.escape(m.group(0)) + r"\]\(https://arxiv\.org/abs/" + re.escape(m.group(0)),
                               text[max(0, m.start() - 8): m.end() + 60])
            in_url = text[max(0, m.start() - 22): m.start()].endswith("https://arxiv.org/abs/")
            assert linked or in_url, f"{path.name} cell {cell.id}: arXiv {m.group(0)} is not a link"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids())
def test_prose_speaks_to_readers(path):
    for cell in _cells(path, "markdown"):
        for pattern in INTERNAL:
            hit = re.search(pattern, cell.source)
            assert not hit, f"{path.name} cell {cell.id}: internal wording {hit.group(0)!r}"


@pytest.mark.parametrize("name", list(STUDY_CHAPTERS))
def test_study_chapters_open_with_the_glance_and_the_deviations_and_close_with_the_claims(name):
    path = REPO / "notebooks" / f"{name}.ipynb"
    code = _code(path)
    for call in ("present.at_a_glance(", "present.deviations_table(DEVIATIONS)", "present.claims_html("):
        assert call in code, f"{path.name} does not call {call}"
    assert f"segrepro.studies.{STUDY_CHAPTERS[name]}.deviations import DEVIATIONS" in code
    # the box comes before the chapter's first section
    cells = nbformat.read(path, as_version=4).cells
    glance = next(i for i, c in enumerate(cells) if "present.at_a_glance(" in c.source)
    first_section = next(i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.startswith("## "))
    assert glance < first_section, f"{path.name}: the at-a-glance box comes after the first section"


@pytest.mark.parametrize("package", sorted(set(STUDY_CHAPTERS.values())))
def test_deviations_link_to_existing_sections(package):
    module = importlib.import_module(f"segrepro.studies.{package}.deviations")
    assert module.__doc__ and module.__doc__.strip()
    rows = module.DEVIATIONS
    assert isinstance(rows, tuple) and rows
    for row in rows:
        assert {"topic", "paper", "ours", "section"} <= set(row), row
        assert all(isinstance(row[k], str) and row[k].strip() for k in ("topic", "paper", "ours", "section")), row
        page = row.get("page", "methods")
        assert row["section"] in _headings(page), f"{package}: {row['section']!r} is not a heading of book/{page}.md"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids())
def test_outputs_are_not_stored(path):
    for cell in _cells(path, "code"):
        assert not cell.outputs and cell.execution_count is None, f"{path.name} cell {cell.id} stores outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids())
def test_notebooks_are_thin_no_function_or_class_defined(path):
    """All logic lives in segrepro: a notebook calls it and shows results."""
    for cell in _cells(path, "code"):
        clean = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        defined = [n for n in ast.walk(ast.parse(clean)) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        assert not defined, f"{path.name}: a cell defines {type(defined[0]).__name__}; move it into segrepro"
