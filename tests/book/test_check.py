"""The browser-free parts of segrepro.book.check: page discovery and link checking."""
import pytest

from segrepro.book import check as book_check


def test_book_pages_skips_redirects_static_and_index_pages(tmp_path):
    (tmp_path / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=intro.html" />')
    for name in ("intro.html", "01_x.html", "search.html", "genindex.html"):
        (tmp_path / name).write_text("<html></html>")
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "widget.html").write_text("<html></html>")
    assert [p.name for p in book_check.book_pages(tmp_path)] == ["01_x.html", "intro.html"]


def test_book_pages_requires_a_built_book(tmp_path):
    with pytest.raises(FileNotFoundError, match="index.html"):
        book_check.book_pages(tmp_path)


def test_broken_links_reports_only_missing_local_files(tmp_path):
    (tmp_path / "a.html").write_text("")
    (tmp_path / "b.html").write_text("")
    links = ["b.html#sec", "#top", "https://arxiv.org/abs/2111.11368", "missing.html", "_images/x.png"]
    assert book_check._broken_links(links, tmp_path / "a.html", tmp_path) == [
        "broken link: missing.html", "broken link: _images/x.png"]


def test_raw_tex_pattern():
    assert book_check._RAW_TEX.search("the loss $$L = 1$$ here")
    assert book_check._RAW_TEX.search(r"inline $\frac{a}{b}$ left raw")
    assert not book_check._RAW_TEX.search("costs $5 and $10 per run")
