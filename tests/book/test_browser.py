"""Open the built book in headless Chromium: pages load, figures, tables, glue and math render, offline;
no nan, no overflow, captioned figures, no code in the study chapters, the landing page's outcome grid,
the API reference's ``attack``.

Needs the Debian ``chromium`` package (Playwright's own browser download does not work here). Without
it the tests skip with a hint; with the environment variable ``CI`` set they fail instead.
Screenshots go to ``test-artifacts/book/``.
"""
import os
from pathlib import Path

import pytest

from segrepro.book.check import check_book, find_chromium

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "book"
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def chromium():
    """The system Chromium; skip (or fail under CI) when it or Playwright is missing."""
    exe = find_chromium()
    missing = None
    if exe is None:
        missing = "Chromium not found: install it with `apt-get install chromium` (root) to run the browser test"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "Playwright not installed: pip install -e '.[dev]'"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(missing + " (CI is set, so this is a failure)")
        pytest.skip(missing)
    return exe


@pytest.mark.slow
def test_every_page_of_the_book_renders(chromium, book_html, expected_pages):
    problems = check_book(book_html, ARTIFACTS, expected_pages=expected_pages, executable_path=chromium)
    assert not problems, "\n".join(problems)
    shots = {p.stem for p in ARTIFACTS.glob("*.png")}
    assert set(expected_pages) <= shots


@pytest.mark.slow
def test_checker_reports_a_broken_page(chromium, tmp_path):
    html = tmp_path / "html"
    html.mkdir()
    (html / "index.html").write_text('<meta http-equiv="Refresh" content="0; url=01_bad.html" />')
    (html / "01_bad.html").write_text(
        "<html><head><title>bad</title></head><body><main>"
        "<p>An equation left as text: $$x^2$$ and more words to pass the empty-page check.</p>"
        '<img src="missing.png"><table><thead><tr><th>a</th></tr></thead><tbody></tbody></table>'
        '<a href="nowhere.html">link</a><img src="http://192.0.2.1/remote.png">'
        '<table><tbody><tr><td>12.3</td><td>NaN</td></tr></tbody></table>'
        '<div class="cell_input"><pre>import torch</pre></div>'
        '<span class="pasted-text">nan</span>'
        '<div style="width: 3000px">a line wider than any column</div>'
        "</main></body></html>")
    (html / "intro.html").write_text("<html><head><title>intro</title></head><body><main><p>A landing page without "
                                     "its outcome grid or counts.</p></main></body></html>")
    (html / "api.html").write_text("<html><head><title>api</title></head><body><main><dl><dt>segrepro.metrics.miou("
                                   "counts)</dt><dd>An API page without the attack.</dd></dl></main></body></html>")
    problems = check_book(html, tmp_path / "shots", executable_path=chromium, timeout_ms=5000)
    text = "\n".join(problems)
    for expected in ("image has zero natural size: missing.png", "table 1 has no body rows", "raw TeX",
                     "broken link: nowhere.html", "request leaves the machine: http://192.0.2.1/remote.png",
                     "request failed", "01_bad: table cell reads nan: 'NaN'", "01_bad: a glued value reads nan",
                     "01_bad: figure without a caption", "01_bad: 1 code input(s) visible in a study chapter",
                     "01_bad: element overflows the content column: div",
                     "intro: the outcome grid is missing from the landing page",
                     "intro: the counts per paper and outcome are missing", "intro: the landing page shows 0 of its 3",
                     "api: the API reference does not document attack()"):
        assert expected in text, f"missing {expected!r} in:\n{text}"
    assert "intro: figure without a caption" not in text and "api: table cell" not in text
    assert (tmp_path / "shots" / "01_bad.png").is_file()
