"""Check a built Jupyter Book in a real browser (headless Chromium driven by Playwright).

Used by the browser test on a small generated book and by the smoke-pipeline test on the real one.
Every HTML page is opened from disk; for each we check that it renders content, that its images have
a non-zero natural size, that its tables have body rows, that glued numbers (myst-nb) are present and
non-empty, that MathJax rendered every formula (no raw TeX left), that no request failed or left the
machine (such requests are aborted, so the page is seen as it would be offline), that no script
raised, and that its relative links point at files that exist. A full-page screenshot of each page
is saved.

What a reader sees is checked too: no table cell or glued value reads ``nan``; no element runs past the content
column (except inside a scrolling box); every image of the content sits in a ``<figure>`` with a
caption; a study chapter (``00_setup`` ...) shows no code input; the landing page shows the outcome
grid, the counts and its headline sentences; the API reference documents ``attack``.

Example:
    >>> problems = check_book("results/smoke/book_src/_build/html", "test-artifacts/book")
    >>> assert not problems, "\\n".join(problems)
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Iterable
from urllib.parse import unquote, urlparse

#: Chromium flags that keep a headless run quiet and offline-friendly on a container without a sandbox.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]  # containers have a tiny /dev/shm
#: Pages Sphinx writes that are not chapters (an index of terms, the search page).
SKIP_PAGES = ("genindex.html", "search.html", "py-modindex.html")
#: Elements myst-nb emits for glued values (`{glue}` roles and directives).
GLUE_SELECTOR = ".pasted-text, .pasted-inline, .pasted-math, .pasted-figure, figure.pasted-figure"
#: Script errors that are known and harmless: sphinx-thebe 0.3.1 under Jupyter Book 1.0.4 / Sphinx 7.4 adds
#: its inline config script twice, so the second ``const THEBE_JS_URL`` throws. Thebe is not used here
#: (``launch_buttons.thebe: false``) and nothing else on the page depends on that script.
KNOWN_HARMLESS_ERRORS = (r"Identifier 'THEBE_JS_URL' has already been declared",)
_LOCAL_SCHEMES = ("file", "data", "blob", "about", "chrome-error")
_REDIRECT = re.compile(r'http-equiv="Refresh" content="\d+;\s*url=([^"]+)"', re.IGNORECASE)
_RAW_TEX = re.compile(r"\$\$|\\\(|\\\[|\$(?=\S)[^$]*\\[A-Za-z]+[^$]*\$")

_PAGE_REPORT_JS = """
() => {
  const main = document.querySelector('main') || document.querySelector('article') || document.body;
  const imgs = [...main.querySelectorAll('img')].map(i => ({src: i.getAttribute('src') || '', w: i.naturalWidth,
                                                          h: i.naturalHeight}));
  const tables = [...main.querySelectorAll('table')].map(t => {
    const body = t.querySelectorAll('tbody tr').length;
    return body > 0 ? body : Math.max(0, t.querySelectorAll('tr').length - t.querySelectorAll('thead tr').length);
  });
  const glue = [...main.querySelectorAll(%r)].map(g => ({text: g.innerText.trim(), imgs: g.querySelectorAll('img').length}));
  const clone = main.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, mjx-container, .highlight').forEach(e => e.remove());
  const math = document.querySelectorAll('.math').length;
  const links = [...main.querySelectorAll('a[href]')].map(a => a.getAttribute('href'));
  const visible = e => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length);
  const nanCells = [...main.querySelectorAll('td, th')].map(c => c.innerText.trim())
    .filter(t => /(^|[^A-Za-z])nan([^A-Za-z]|$)/i.test(t));
  const codeInputs = [...main.querySelectorAll('.cell_input, div.highlight-ipython3')].filter(visible).length;
  const uncaptioned = [...main.querySelectorAll('img')].filter(visible).filter(i => {
    const f = i.closest('figure');
    const cap = f && f.querySelector('figcaption');
    return !(cap && cap.innerText.trim());
  }).map(i => (i.getAttribute('alt') || i.getAttribute('src') || '').slice(0, 60));
  const article = document.querySelector('article.bd-article') || main;  // the content column
  const box = article.getBoundingClientRect();
  const clipped = e => {
    for (let a = e.parentElement; a && a !== article; a = a.parentElement) {
      const o = getComputedStyle(a).overflowX;
      if (o === 'auto' || o === 'scroll' || o === 'hidden') return true;
    }
    return false;
  };
  const overflow = [...article.querySelectorAll('*')].filter(e => visible(e) && !clipped(e))
    .filter(e => e.getBoundingClientRect().right > box.right + 2)
    .map(e => e.tagName.toLowerCase() + (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ')[0] : '')
              + ' (' + Math.round(e.getBoundingClientRect().right - box.right) + ' px)');
  const landing = {grid: main.querySelectorAll('table.sr-grid').length, counts: main.querySelectorAll('table.sr-counts').length,
                   sentences: [...main.querySelectorAll('.pasted-text')].map(p => p.innerText.trim())};
  const attack = [...main.querySelectorAll('dt')].some(d => /(^|[^A-Za-z_.])attack\\(|\\.attack\\(/.test(d.innerText));
  return {title: document.title, text: clone.innerText, textLength: main.innerText.trim().length, imgs, tables,
          glue, math, mjx: document.querySelectorAll('mjx-container').length, links, nanCells, codeInputs,
          uncaptioned, overflow: overflow.slice(0, 5), landing, attack};
}
""" % GLUE_SELECTOR

_MATH_DONE_JS = """
() => [...document.querySelectorAll('.math')].every(m => m.querySelector('mjx-container') !== null)
"""


def find_chromium() -> str | None:
    """Path of a system Chromium: ``$SEGREPRO_CHROMIUM``, ``/usr/bin/chromium`` or ``chromium`` on PATH."""
    for cand in (os.environ.get("SEGREPRO_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if cand and Path(cand).is_file():
            return cand
    return None


def book_pages(html_dir: str | os.PathLike) -> list[Path]:
    """Every chapter page of a built book: ``*.html`` outside ``_static``/``_sources``-style folders.

    Raises:
        FileNotFoundError: if ``html_dir`` has no ``index.html``.
    """
    root = Path(html_dir)
    if not (root / "index.html").is_file():
        raise FileNotFoundError(f"{root} is not a built book: index.html is missing")
    pages = [p for p in root.rglob("*.html")
             if not any(part.startswith("_") for part in p.relative_to(root).parts[:-1]) and p.name not in SKIP_PAGES
             and _redirect_target(p) is None]
    return sorted(pages)


def _redirect_target(page: Path) -> str | None:
    """The URL of a ``<meta http-equiv="Refresh">`` page (Jupyter Book's index.html), else None."""
    match = _REDIRECT.search(page.read_text(encoding="utf-8", errors="replace")[:2000])
    return match.group(1) if match else None


def check_book(html_dir: str | os.PathLike, screenshot_dir: str | os.PathLike, *,
               expected_pages: Iterable[str] | None = None, glue_pages: Iterable[str] | None = None,
               figure_pages: Iterable[str] | None = None, table_pages: Iterable[str] | None = None,
               landing_page: str | None = "intro", api_page: str | None = "api",
               executable_path: str | None = None, timeout_ms: int = 20000,
               ignore_errors: Iterable[str] = KNOWN_HARMLESS_ERRORS) -> list[str]:
    """Open every page of a built book in headless Chromium and list what is wrong.

    Args:
        html_dir: the book's ``_build/html`` folder.
        screenshot_dir: where the full-page PNG screenshots go (created; one per page).
        expected_pages: page names (without ``.html``) that must exist, e.g. the ``_toc.yml`` files.
        glue_pages: page names that must show at least one glued value. ``None``: every page whose
            name starts with two digits (the executed notebooks, ``00_setup`` ... ``05_comparison``).
        figure_pages: page names that must show at least one image (``None``: as ``glue_pages``).
        table_pages: page names that must show at least one table (``None``: as ``glue_pages``).
        landing_page: the page that must show the outcome grid, the counts and its headline sentences
            (skipped when the book has no such page).
        api_page: the page that must document ``attack`` (skipped when the book has no such page).
        executable_path: Chromium binary; default :func:`find_chromium`.
        timeout_ms: per-page wait for loading and for MathJax.
        ignore_errors: regular expressions of script errors not to report (see ``KNOWN_HARMLESS_ERRORS``).

    Returns:
        One line per problem, ``"<page>: <what>"``; empty when the book is fine.

    Raises:
        FileNotFoundError: if the book or Chromium is missing.
        ImportError: if Playwright is not installed.
    """
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    root = Path(html_dir).resolve()
    pages = book_pages(root)
    exe = executable_path or find_chromium()
    if exe is None or not Path(exe).is_file():
        raise FileNotFoundError("Chromium not found (apt-get install chromium, or set SEGREPRO_CHROMIUM)")
    shots = Path(screenshot_dir)
    shots.mkdir(parents=True, exist_ok=True)
    names = {p.relative_to(root).with_suffix("").as_posix() for p in pages}
    problems = [f"{name}: page missing from the built book" for name in (expected_pages or ()) if name not in names]
    target = _redirect_target(root / "index.html")
    if target is not None and not (root / urlparse(target).path).is_file():
        problems.append(f"index: redirects to a missing page {target}")
    notebooks = {n for n in names if re.match(r"\d\d_", n)}
    must = {"glue": set(glue_pages) if glue_pages is not None else notebooks,
            "figure": set(figure_pages) if figure_pages is not None else notebooks,
            "table": set(table_pages) if table_pages is not None else notebooks,
            "no_code": notebooks, "landing": {landing_page} & names, "api": {api_page} & names}
    ignore = [re.compile(p) for p in ignore_errors]

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        try:
            for page_path in pages:
                name = page_path.relative_to(root).with_suffix("").as_posix()
                wants = {k for k, v in must.items() if name in v}
                found = _check_page(browser, page_path, root, shots, wants, timeout_ms, PlaywrightError)
                problems += [f"{name}: {p}" for p in found if not any(rx.search(p) for rx in ignore)]
        finally:
            browser.close()
    return problems


def _check_page(browser, page_path: Path, root: Path, shots: Path, wants: set[str], timeout_ms: int,
                playwright_error) -> list[str]:
    """All checks of one page; returns its problems (without the page prefix)."""
    problems: list[str] = []
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} ({r.failure})"))
    page.route("**/*", lambda route: _local_only(route, problems))
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    page.on("pageerror", lambda e: problems.append(f"script error: {e}"))
    try:
        page.goto(page_path.as_uri(), wait_until="load", timeout=timeout_ms)
        try:
            page.wait_for_function(_MATH_DONE_JS, timeout=timeout_ms)
        except playwright_error:
            pass  # reported below with counts
        report = page.evaluate(_PAGE_REPORT_JS)
        page.screenshot(path=str(shots / (page_path.relative_to(root).with_suffix("").as_posix().replace("/", "__")
                                          + ".png")), full_page=True)
    except playwright_error as err:
        page.close()
        return problems + [f"did not load: {err}"]
    page.close()

    if not report["title"] or report["textLength"] < 20:
        problems.append("page is empty")
    for img in report["imgs"]:
        if img["w"] == 0 or img["h"] == 0:
            problems.append(f"image has zero natural size: {img['src'][:80]}")
    for i, rows in enumerate(report["tables"]):
        if rows == 0:
            problems.append(f"table {i + 1} has no body rows")
    if "glue" in wants and not report["glue"]:
        problems.append("no glued value on the page")
    if "figure" in wants and not report["imgs"]:
        problems.append("no figure on the page")
    if "table" in wants and not report["tables"]:
        problems.append("no table on the page")
    for g in report["glue"]:
        if not g["text"] and not g["imgs"]:
            problems.append("a glued value is empty")
    if report["math"] and report["mjx"] < report["math"]:
        problems.append(f"MathJax rendered {report['mjx']} of {report['math']} formulas")
    raw = _RAW_TEX.search(report["text"])
    if raw:
        problems.append(f"raw TeX in the rendered text: {raw.group(0)[:40]!r}")
    problems += _broken_links(report["links"], page_path, root)
    problems += _reader_problems(report, wants)
    return problems


def _reader_problems(report: dict, wants: set[str]) -> list[str]:
    """What a reader would trip over: nan cells, overflow, figures without caption, code, landing, API."""
    out = [f"table cell reads nan: {t[:60]!r}" for t in report["nanCells"][:5]]
    out += [f"a glued value reads nan: {g['text'][:60]!r}" for g in report["glue"]
            if re.search(r"(^|[^A-Za-z])nan([^A-Za-z]|$)", g["text"], re.IGNORECASE)][:5]
    out += [f"element overflows the content column: {e}" for e in report["overflow"]]
    out += [f"figure without a caption: {src!r}" for src in report["uncaptioned"]]
    if "no_code" in wants and report["codeInputs"]:
        out.append(f"{report['codeInputs']} code input(s) visible in a study chapter")
    if "landing" in wants:
        land = report["landing"]
        if not land["grid"]:
            out.append("the outcome grid is missing from the landing page")
        if not land["counts"]:
            out.append("the counts per paper and outcome are missing from the landing page")
        if len([t for t in land["sentences"] if t]) < 3:
            out.append(f"the landing page shows {len([t for t in land['sentences'] if t])} of its 3 headline sentences")
    if "api" in wants and not report["attack"]:
        out.append("the API reference does not document attack()")
    return out


def _local_only(route, problems: list[str]) -> None:
    """Let requests for local files through; record and abort any other, so the check runs as offline."""
    url = route.request.url
    if urlparse(url).scheme in _LOCAL_SCHEMES:
        route.continue_()
    else:
        problems.append(f"request leaves the machine: {url}")
        route.abort()


def _broken_links(links: list[str], page_path: Path, root: Path) -> list[str]:
    """Relative links whose target file does not exist (fragments and external URLs are not followed)."""
    out = []
    for href in links:
        parsed = urlparse(href)
        if parsed.scheme or href.startswith("#") or not parsed.path:
            continue
        target = (page_path.parent / unquote(parsed.path)).resolve()
        if not target.exists():
            out.append(f"broken link: {href}")
    return out
