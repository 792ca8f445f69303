"""The book's configuration and table of contents, and an offline build of a small book from them."""
import re
from pathlib import Path

import nbformat
import pytest
import yaml

from segrepro.book.check import book_pages
from segrepro.studies import STUDIES

REPO = Path(__file__).resolve().parents[2]
#: The prose pages around the studies' chapters (one chapter per study, in ``STUDIES`` order).
BEFORE, AFTER = ["intro", "methods", "scale"], ["paper_scale", "limitations", "reproduce", "api"]
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


def test_prose_glue_references_name_keys_their_notebooks_glue(prose_glue_refs):
    refs = prose_glue_refs
    assert ("00_setup", "standard_min") in refs  # the scan finds the scale page's references
    for notebook, key in refs:
        path = REPO / "notebooks" / f"{notebook}.ipynb"
        assert path.is_file(), f"book/ refers to {path.name}, which does not exist"
        code = "".join("".join(c.source) for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        assert f'"{key}"' in code or f"'{key}'" in code, f"{path.name} glues no {key!r}"


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
