"""The book's configuration and table of contents, and an offline build of a small book from them."""
import re
from pathlib import Path

import nbformat
import pytest
import yaml

from segrepro.book.check import book_pages
from segrepro.report.present import HEADLINE_KEYS
from segrepro.studies import STUDIES

REPO = Path(__file__).resolve().parents[2]
#: The prose pages around the studies' chapters (one chapter per study, in ``STUDIES`` order).
BEFORE, AFTER = ["intro", "methods", "scale"], ["paper_scale", "limitations", "reproduce", "downloads", "api"]
CHAPTERS = [*BEFORE, *(s.notebook for s in STUDIES), *AFTER]


def test_config_builds_offline_and_never_executes():
    cfg = yaml.safe_load((REPO / "_config.yml").read_text())
    assert cfg["title"] == "segrepro: transfer attacks on semantic segmentation, reproduced"
    assert cfg["author"] and cfg["copyright"] == "2026"
    assert cfg["execute"]["execute_notebooks"] == "off"  # the string, not YAML's false
    assert cfg["only_build_toc_files"] is True
    assert "sphinx-mathjax-offline" in cfg["sphinx"]["extra_extensions"]
    assert {"dollarmath", "amsmath", "colon_fence"} <= set(cfg["parse"]["myst_enable_extensions"])


def test_toc_lists_every_chapter_in_reading_order(expected_pages):
    assert expected_pages == CHAPTERS
    prose = {p.stem for p in (REPO / "book").glob("*.md")}
    assert prose == {c for c in CHAPTERS if not re.match(r"\d\d_", c)}


def test_prose_equations_use_display_dollars():
    for page in (REPO / "book").glob("*.md"):
        text = page.read_text()
        assert text.count("$$") % 2 == 0, f"{page.name}: unbalanced $$"
        assert "\\begin{equation}" not in text and "```{math}" not in text, f"{page.name}: use $$...$$"


def _code(notebook: str) -> str:
    path = REPO / "notebooks" / f"{notebook}.ipynb"
    assert path.is_file(), f"book/ refers to {path.name}, which does not exist"
    return "".join("".join(c.source) for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")


def test_prose_glue_references_name_keys_their_notebooks_glue(prose_glue_refs):
    refs = prose_glue_refs
    assert ("00_setup", "standard_min") in refs  # the scan finds the scale page's references
    assert {k for n, k in refs if n == "05_comparison"} >= {"headline_sentence_1", "headline_grid"}  # roles, directives
    for notebook, key in refs:
        if key in HEADLINE_KEYS:
            continue  # glued together by present.glue_headline: the next test
        code = _code(notebook) + _study_source(notebook)  # a key may come from the study's own functions
        assert f'"{key}"' in code or f"'{key}'" in code, f"{notebook}.ipynb glues no {key!r}"


def _study_source(notebook: str) -> str:
    """The source of the study package (or module) whose chapter is ``notebook``."""
    import importlib

    from segrepro.studies import STUDIES

    for study in STUDIES:
        if study.notebook == notebook:
            path = Path(importlib.import_module(f"segrepro.studies.{study.name}").__file__)
            files = sorted(path.parent.glob("*.py")) if path.name == "__init__.py" else [path]
            return "\n".join(p.read_text() for p in files)
    return ""


def test_comparison_notebook_glues_the_landing_page_keys(prose_glue_refs):
    wanted = {k for n, k in prose_glue_refs if n == "05_comparison" and k in HEADLINE_KEYS}
    assert wanted == set(HEADLINE_KEYS), "intro.md should show every headline key"
    assert "glue_headline(" in _code("05_comparison"), "05_comparison.ipynb never calls present.glue_headline"


def test_notebooks_have_cell_ids():
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        missing = [i for i, c in enumerate(nb.cells) if "id" not in c]
        assert not missing, f"{path.name}: cells {missing} have no id (nbformat 4.5 warns MissingIDFieldWarning)"


@pytest.mark.slow
def test_small_book_builds_with_every_page_and_local_mathjax(book_html, expected_pages):
    names = {p.stem for p in book_pages(book_html)}
    assert set(expected_pages) <= names
    assert (Path(book_html) / "_static" / "mathjax" / "tex-chtml.js").is_file()
    for page in book_pages(book_html):
        html = page.read_text()
        remote = re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="(https?://[^"]+)"', html)
        assert not remote, f"{page.name} loads {remote}"
    assert 'src="_static/mathjax/tex-chtml.js"' in (Path(book_html) / "methods.html").read_text()


#: Words of the project's own workflow that a reader of the book does not know.
INTERNAL = [r"\bissues?\b", r"\bspec\b", r"spec/", r"\bprofile\.[a-z_]+", r"seed\(s\)", r"\bThe spec keeps\b"]


def test_prose_speaks_to_readers():
    for page in (REPO / "book").glob("*.md"):
        text = page.read_text()
        for pattern in INTERNAL:
            hit = re.search(pattern, text)
            assert not hit, f"{page.name}: internal wording {hit.group(0)!r}"


def test_arxiv_ids_are_links():
    for page in (REPO / "book").glob("*.md"):
        text = page.read_text()
        for m in re.finditer(r"\d{4}\.\d{5}", text):
            linked = re.search(r"\[arXiv " + re.escape(m.group(0)) + r"\]\(https://arxiv\.org/abs/" + re.escape(m.group(0)),
                               text[max(0, m.start() - 8): m.end() + 60])
            in_url = text[max(0, m.start() - 22): m.start()].endswith("https://arxiv.org/abs/")
            assert linked or in_url, f"{page.name}: arXiv {m.group(0)} is not a link"


def test_prose_pages_link_each_other():
    pages = {p.stem: p.read_text() for p in (REPO / "book").glob("*.md")}
    for name, text in pages.items():
        links = set(re.findall(r"\{doc\}`(\w+)`", text)) | set(re.findall(r"\]\((\w+)\.md", text))
        assert links - {name}, f"{name}.md links no other chapter"
