"""How results reach the reader: claims tables, outcome badges, summaries and captioned figures.

Notebooks ``display()`` what these functions return (``IPython.display.HTML``); the styles are in
``book/_static/segrepro.css``. The claims functions read the table of ``results/<profile>/claims.csv``
(columns :data:`CLAIM_COLUMNS`, one row per claim with an empty ``part``, its parts after it). No
cell ever reads ``nan``: a missing number is "not measured", a missing text is left empty.

- :func:`fmt`: one number in its unit's rounding.
- :func:`claims_html`: the claims table of a chapter (or of every paper).
- :func:`outcome_grid`, :func:`outcome_counts`: the landing page's grid of outcome badges and the counts
  per paper and outcome (the project's own targets apart).
- :func:`at_a_glance`: the box a chapter opens with; :func:`deviations_table`: our deviations from the
  paper, each linked to its section of the methods page; :func:`table`: any other result table,
  rounded and without ``nan``.
- :func:`glue_figure`: a numbered figure with caption and alt text in a chapter;
  :func:`figure_html` a captioned figure to glue into another page; :func:`glue_headline` glues every
  key the landing page reads.

Example (a notebook cell)::

    from segrepro.report import present
    present.at_a_glance(claims)                      # the chapter's opening box
    present.glue_figure("ds_fs_curves", fig, caption="Target mIoU of FS examples ...",
                        alt="Line chart: target mIoU falls with attack iterations ...")
    present.claims_html(claims)                      # the claims table, at the end
"""
from __future__ import annotations

import base64
import html
import io
import math
import re
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from segrepro.report.outcomes import CONTRADICTED, INCONCLUSIVE, NOT_TESTABLE, OUTCOMES, REPRODUCED

#: The columns of ``claims.csv`` (the conventions' "Machine-readable output").
CLAIM_COLUMNS = ("paper", "claim_id", "part", "claim", "quantity", "unit", "direction", "threshold",
                 "paper_value", "value", "low", "high", "n_images", "n_seeds", "outcome", "n_needed", "why")
#: The ``paper`` of the project's own targets: counted and shown apart from the papers' claims.
PROJECT = "project"
#: Paper ids -> the names a reader knows.
PAPERS = {"ds": "Dynamic Scaling (DS)", "transegpgd": "TranSegPGD", "segtrans": "SegTrans", "rppgd": "RP-PGD",
          "rp_pgd": "RP-PGD", PROJECT: "project targets"}
#: Paper ids -> the chapter (page) that judges their claims.
PAGES = {"ds": "01_dynamic_scaling", "transegpgd": "02_transegpgd", "segtrans": "03_segtrans",
         "rppgd": "04_rp_pgd", "rp_pgd": "04_rp_pgd", PROJECT: "04_rp_pgd"}
#: Prose pages a deviation may link to, by name -> their title.
PAGE_TITLES = {"methods": "methods", "scale": "what embedded scale means", "limitations": "limitations",
               "paper_scale": "running at paper scale"}
#: Outcome -> (CSS modifier, symbol). The symbol and the word carry the outcome without colour.
BADGES = {REPRODUCED: ("reproduced", "\u2713"), CONTRADICTED: ("contradicted", "\u2717"),
          INCONCLUSIVE: ("inconclusive", "?"), NOT_TESTABLE: ("not-testable", "\u2013")}
#: Decimals per unit (``claims.csv`` units); other units get 3 significant digits.
DIGITS = {"mIoU points": 1, "MisRatio points": 1, "ASR points": 1, "accuracy points": 1, "points": 1, "%": 1,
          "time ratio": 2, "iterations": 0, "images": 0, "pairs": 0, "count": 0}
MISSING = "not measured"
_SIGNS = {"lower": "<", "higher": ">"}


def is_missing(value: Any) -> bool:
    """True for None, NaN, pandas NA and blank strings."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def fmt(value: Any, unit: str | None = None, *, missing: str = MISSING) -> str:
    """A number as the book prints it: rounded per unit (:data:`DIGITS`), never ``nan``.

    Texts pass through unchanged (``"not reached in 20 iterations"``); integers stay integers;
    a missing value gives ``missing``.

    Example:
        >>> fmt(29.064160, "mIoU points"), fmt(float("nan")), fmt(2.0, "time ratio"), fmt(12, "iterations")
        ('29.1', 'not measured', '2.00', '12')
    """
    if is_missing(value):
        return missing
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    v = float(value)
    if math.isinf(v):
        return "never" if v > 0 else "-never"
    digits = DIGITS.get(unit or "")
    if digits is None:
        if float(v).is_integer() and abs(v) < 1e6:
            return str(int(v))
        text = f"{v:.3g}"
        return text if "e" not in text else f"{v:.2e}"
    text = f"{v:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.0"


def _threshold(value: Any, unit: str | None) -> str:
    if is_missing(value):
        return "0"
    v = float(value)
    return str(int(v)) if v.is_integer() else fmt(v, unit)


def claimed_text(row: Mapping) -> str:
    """The claimed side in words: ``"claimed: DS - FS < 0"`` (``within``: ``"claimed: x within ±t"``)."""
    quantity = _text(row.get("quantity")) or "value"
    t = _threshold(row.get("threshold"), _text(row.get("unit")))
    direction = _text(row.get("direction"))
    if direction in _SIGNS:
        return f"claimed: {quantity} {_SIGNS[direction]} {t}"
    if direction == "within":
        return f"claimed: {quantity} within \u00b1{t}"
    return ""


def n_text(row: Mapping) -> str:
    """``"n = 64 images x 2 seeds"`` (no seeds part for one seed; empty when unknown)."""
    n_img, n_seed = row.get("n_images"), row.get("n_seeds")
    if is_missing(n_img):
        return ""
    n_img = int(float(n_img))
    text = f"n = {n_img} image{'s' if n_img != 1 else ''}"
    if not is_missing(n_seed) and int(float(n_seed)) > 1:
        text += f" x {int(float(n_seed))} seeds"
    return text


def ours_text(row: Mapping) -> str:
    """Our value with its interval and n: ``"-3.2 [-4.1, -2.3], n = 64 images x 2 seeds"``."""
    unit = _text(row.get("unit"))
    value = fmt(row.get("value"), unit)
    if value == MISSING:
        return MISSING
    low, high = row.get("low"), row.get("high")
    interval = (f" [{fmt(low, unit)}, {fmt(high, unit)}]" if not (is_missing(low) or is_missing(high))
                else " (no interval)" if _is_number(row.get("value")) else "")
    n = n_text(row)
    return f"{value}{interval}" + (f", {n}" if n else "")


def parts_text(claims: pd.DataFrame, claim_id: str) -> str:
    """How a claim's parts came out: ``"2 of 3 parts inconclusive, 1 of 3 parts contradicted"`` (``""`` for a
    claim without parts). A claim is contradicted by one contradicted part, so its summary interval alone
    does not tell a reader why; this does."""
    parts = claims[(claims["claim_id"] == claim_id) & (claims["part"].astype(object).fillna("") != "")]
    counts = parts["outcome"].value_counts()
    return ", ".join(f"{int(counts[o])} of {len(parts)} parts {o}" for o in OUTCOMES if counts.get(o, 0))


def badge(outcome: Any) -> str:
    """An outcome badge: colour, symbol and word (readable without colour). Unknown outcomes: their word."""
    word = _text(outcome)
    if word not in BADGES:
        return f'<span class="sr-badge sr-badge--none">{html.escape(word or "not judged")}</span>'
    css, symbol = BADGES[word]
    return (f'<span class="sr-badge sr-badge--{css}"><span class="sr-sym" aria-hidden="true">{symbol}</span> '
            f"{html.escape(word)}</span>")


def needed_text(row: Mapping) -> str:
    """For an inconclusive row: how many images would decide it (``"about 310 images would decide"``)."""
    if _text(row.get("outcome")) != INCONCLUSIVE:
        return ""
    n = row.get("n_needed")
    if is_missing(n):
        return ""
    if _is_number(n):
        return f"about {int(math.ceil(float(n))):,} images would decide"
    return str(n)


def claim_anchor(claim_id: Any, part: Any = None) -> str:
    """The HTML id of a claim (``claim-ds_table1_ds_beats_fs``) or of one of its parts."""
    base = "claim-" + re.sub(r"[^A-Za-z0-9_-]+", "-", _text(claim_id)).strip("-")
    return base if is_missing(part) else f"{base}--{_slug(_text(part))}"


def claim_label(claim_id: Any) -> str:
    """A short readable label from a claim id: ``"ds_table1_ds_beats_fs"`` -> ``"Table 1: DS beats FS"``."""
    words = _text(claim_id).split("_")[1:] or [_text(claim_id)]
    out = []
    for w in words:
        m = re.fullmatch(r"(table|fig)(\d+)", w)
        if m:
            out.append(("Table " if m.group(1) == "table" else "Fig. ") + m.group(2) + ":")
        else:
            out.append(_WORDS.get(w, w))
    text = " ".join(out).rstrip(":")
    return text[:1].upper() + text[1:]


_WORDS = {"ds": "DS", "fs": "FS", "at": "AT", "asr": "ASR", "mi": "MI", "vgg": "VGG", "resnet": "ResNet",
          "cls": "classifiers", "seg": "segmentation", "pgd100": "PGD100", "rp": "RP-PGD", "st": "SegTrans",
          "tsp": "TranSegPGD", "eq4": "Eq. 4", "b": "B", "f": "F", "t": "T", "at3": "AT3", "segpgd7": "SegPGD7",
          "multiscale": "multi-scale", "whitebox": "white-box", "blackbox": "black-box", "kl": "KL", "pgd": "PGD",
          "pgd20": "PGD20", "stage1": "stage 1", "stage2": "stage 2", "proto": "prototype", "sota": "state of the art"}


# ---------------------------------------------------------------------------------------------- tables


def claims_html(df: pd.DataFrame, *, caption: str | None = None) -> "HTML":
    """The claims table: claim (with quantity, unit and the claimed side), the paper's value, ours with its
    interval and n, the outcome badge and the why; parts indented under their claim; ids as anchors.

    Args:
        df: ``claims.csv`` rows (:data:`CLAIM_COLUMNS`; missing columns count as empty).
        caption: Optional table caption.

    Returns:
        ``IPython.display.HTML``.
    """
    rows = []
    for claim, parts in _groups(df):
        for row in ([claim] if claim is not None else []) + parts:
            rows.append(_claim_tr(row, is_part=row is not claim, parent=claim))
    body = "\n".join(rows) or '<tr><td colspan="5">No claims in this table.</td></tr>'
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return _html(f'<div class="sr-table-wrap"><table class="sr-claims">{cap}<colgroup><col class="sr-c-claim">'
                 '<col class="sr-c-paper"><col class="sr-c-ours"><col class="sr-c-outcome"><col class="sr-c-why">'
                 '</colgroup><thead><tr><th>claim</th><th>paper</th><th>ours</th><th>outcome</th><th>why</th></tr>'
                 f"</thead><tbody>{body}</tbody></table></div>")


def _claim_tr(row: Mapping, *, is_part: bool, parent: Mapping | None) -> str:
    unit = _text(row.get("unit"))
    anchor = claim_anchor(row.get("claim_id"), row.get("part") if is_part else None)
    if is_part:
        head = f'<span class="sr-part-mark" aria-hidden="true">\u21b3</span> {html.escape(_text(row.get("part")))}'
        if _text(row.get("claim")) and _text(row.get("claim")) != _text((parent or {}).get("claim")):
            head += f'<div class="sr-sub">{html.escape(_text(row.get("claim")))}</div>'
    else:
        head = (f'{html.escape(_text(row.get("claim")) or claim_label(row.get("claim_id")))}'
                f' <a class="sr-id" href="#{anchor}">{html.escape(_text(row.get("claim_id")))}</a>')
    # a part repeats its claim's quantity and claimed side only when they differ
    same = is_part and parent is not None and all(_text(row.get(c)) == _text(parent.get(c))
                                                   for c in ("quantity", "unit", "direction", "threshold"))
    line = "" if same else claimed_text(row) or _text(row.get("quantity"))
    sub = (f'<div class="sr-sub">{html.escape(line)}' + (f" ({html.escape(unit)})" if unit else "") + "</div>"
           if line else "")
    needed = needed_text(row)
    outcome = badge(row.get("outcome")) + (f'<div class="sr-sub">{html.escape(needed)}</div>' if needed else "")
    cls = "sr-part" if is_part else "sr-claim"
    paper = fmt(row.get("paper_value"), unit, missing="")
    if is_part and parent is not None and paper == fmt(parent.get("paper_value"), _text(parent.get("unit")), missing=""):
        paper = ""  # a part repeats its claim's paper value only when it has its own
    return (f'<tr id="{anchor}" class="{cls}"><td>{head}{sub}</td>'
            f'<td>{html.escape(paper)}</td>'
            f'<td>{html.escape(ours_text(row))}</td><td>{outcome}</td>'
            f'<td>{html.escape(_text(row.get("why")))}</td></tr>')


def outcome_grid(df: pd.DataFrame, *, pages: Mapping[str, str] | None = None) -> "HTML":
    """The landing page's grid: one row per paper, one badge per claim (linked to its row in the chapter).

    The project's own targets get their own row below a rule, apart from the papers.
    """
    pages = {**PAGES, **(pages or {})}
    claims = _claim_rows(df)
    if claims.empty:
        return _html('<p class="sr-empty">No claims were judged in this run.</p>')
    out = []
    for paper, g in _by_paper(claims):
        page = pages.get(paper)
        chips = []
        for _, r in g.iterrows():
            css, symbol = BADGES.get(_text(r.get("outcome")), ("none", "\u00b7"))
            word = _text(r.get("outcome")) or "not judged"
            href = f'{page}.html#{claim_anchor(r["claim_id"])}' if page else None
            inner = (f'<span class="sr-chip-label"><span class="sr-sym" aria-hidden="true">{symbol}</span> '
                     f'{html.escape(claim_label(r["claim_id"]))}</span><span class="sr-word">{html.escape(word)}</span>')
            title = html.escape(f"{_text(r.get('claim'))} ({word})", quote=True)
            tag = f'a href="{href}"' if href else "span"
            chips.append(f'<{tag} class="sr-chip sr-chip--{css}" title="{title}">{inner}</{tag.split()[0]}>')
        cls = ' class="sr-project"' if paper == PROJECT else ""
        name = PAPERS.get(paper, paper) + (" (ours, not a paper's claims)" if paper == PROJECT else "")
        out.append(f'<tr{cls}><th scope="row">{html.escape(name)}</th><td><div class="sr-chips">{"".join(chips)}'
                   "</div></td></tr>")
    legend = " ".join(badge(o) for o in OUTCOMES)
    return _html(f'<div class="sr-grid-wrap"><table class="sr-grid"><tbody>{"".join(out)}</tbody></table>'
                 f'<p class="sr-legend">Outcomes: {legend}</p></div>')


def outcome_counts(df: pd.DataFrame) -> "HTML":
    """Claims per paper and outcome (claim rows only, not parts); the project's targets in their own table."""
    claims = _claim_rows(df)
    if claims.empty:
        return _html('<p class="sr-empty">No claims were judged in this run.</p>')
    papers = claims[claims["paper"].map(_text) != PROJECT]
    project = claims[claims["paper"].map(_text) == PROJECT]
    parts = []
    if len(papers):
        parts.append(_counts_table(papers, "paper claims", total_row=True))
    if len(project):
        parts.append(_counts_table(project, "project targets (ours, not counted with the papers' claims)",
                                   total_row=False))
    return _html("\n".join(parts))


def _counts_table(claims: pd.DataFrame, caption: str, *, total_row: bool) -> str:
    head = "".join(f"<th>{badge(o)}</th>" for o in OUTCOMES)
    rows = []
    for paper, g in _by_paper(claims):
        counts = g["outcome"].map(_text).value_counts()
        cells = "".join(f"<td>{int(counts.get(o, 0))}</td>" for o in OUTCOMES)
        rows.append(f'<tr><th scope="row">{html.escape(PAPERS.get(paper, paper))}</th>{cells}<td>{len(g)}</td></tr>')
    if total_row and len(rows) > 1:
        counts = claims["outcome"].map(_text).value_counts()
        cells = "".join(f"<td>{int(counts.get(o, 0))}</td>" for o in OUTCOMES)
        rows.append(f'<tr class="sr-total"><th scope="row">all papers</th>{cells}<td>{len(claims)}</td></tr>')
    return (f'<div class="sr-table-wrap"><table class="sr-counts"><caption>{html.escape(caption)}</caption>'
            f'<thead><tr><th></th>{head}<th>total</th></tr></thead><tbody>{"".join(rows)}</tbody></table></div>')


def at_a_glance(df: pd.DataFrame, *, title: str = "At a glance") -> "HTML":
    """The box a chapter opens with: what reproduced, what did not and why, as an admonition.

    Lists the claim rows (not parts) of ``df`` by outcome, each linked to its row of the claims table;
    contradicted and not-testable claims with their why, inconclusive ones with the images that would
    decide them. The project's targets follow on their own line.
    """
    claims = _claim_rows(df)
    if claims.empty:
        body = "<p>No claims were judged in this run.</p>"
    else:
        papers = claims[claims["paper"].map(_text) != PROJECT]
        project = claims[claims["paper"].map(_text) == PROJECT]
        body = "".join(_glance_group(papers, o) for o in OUTCOMES)
        if len(project):
            items = ", ".join(f'<a href="#{claim_anchor(r["claim_id"])}">{html.escape(claim_label(r["claim_id"]))}</a>'
                              f" {badge(r.get('outcome'))}" for _, r in project.iterrows())
            body += f"<p>Project targets (ours, not the paper's claims): {items}.</p>"
    return _html(f'<div class="admonition sr-glance"><p class="admonition-title">{html.escape(title)}</p>{body}</div>')


def _glance_group(claims: pd.DataFrame, outcome: str) -> str:
    g = claims[claims["outcome"].map(_text) == outcome]
    if g.empty:
        return ""
    n = len(claims)
    items = []
    for _, r in g.iterrows():
        link = f'<a href="#{claim_anchor(r["claim_id"])}">{html.escape(_text(r.get("claim")) or claim_label(r["claim_id"]))}</a>'
        extra = needed_text(r) if outcome == INCONCLUSIVE else _text(r.get("why"))
        items.append(f"<li>{link}" + (f": {html.escape(extra)}" if extra and outcome != REPRODUCED else "") + "</li>")
    return f"<p>{badge(outcome)} {len(g)} of {n} claim{'s' if n != 1 else ''}</p><ul>{''.join(items)}</ul>"


def deviations_table(rows: Iterable[Mapping] | pd.DataFrame, *, methods_page: str = "methods") -> "HTML":
    """Our deviations from the paper, each linked to its section of the methods page.

    Args:
        rows: Mappings (or a DataFrame) with ``topic`` (what), ``paper`` (what the paper does or says),
            ``ours`` (what we do), optional ``why``, ``section`` (a heading of ``book/methods.md``,
            as its title or its anchor, e.g. ``"RP-PGD"`` or ``"rp-pgd"``) and ``page`` (another page
            than the methods page, e.g. ``"scale"``).
        methods_page: The methods page's name.
    """
    records = rows.to_dict("records") if isinstance(rows, pd.DataFrame) else [dict(r) for r in rows]
    out = []
    for r in records:
        section, page = _text(r.get("section")), _text(r.get("page")) or methods_page
        anchor = f"#{_slug(section)}" if section else ""
        label = section or PAGE_TITLES.get(page, page)
        link = f'<a href="{page}.html{anchor}">{html.escape(label)}</a>' if section or _text(r.get("page")) else ""
        why = _text(r.get("why"))
        out.append(f"<tr><td>{html.escape(_text(r.get('topic')))}</td><td>{html.escape(_text(r.get('paper')))}</td>"
                   f"<td>{html.escape(_text(r.get('ours')))}" + (f'<div class="sr-sub">{html.escape(why)}</div>' if why
                                                                  else "") + f"</td><td>{link}</td></tr>")
    body = "".join(out) or '<tr><td colspan="4">No deviations from the paper.</td></tr>'
    return _html('<div class="sr-table-wrap"><table class="sr-deviations"><caption>Where we deviate from the paper'
                 "</caption><thead><tr><th>what</th><th>the paper</th><th>ours</th><th>details</th></tr></thead>"
                 f"<tbody>{body}</tbody></table></div>")


def table(df: pd.DataFrame, *, units: Mapping[str, str] | None = None, digits: int = 2, missing: str = "",
          note: str | None = None, caption: str | None = None, index: bool | None = None,
          empty: str = "Nothing to show in this run.") -> "HTML":
    """Any result table as the book shows it: numbers rounded, no ``nan``, wrapped to the page.

    Args:
        df: The table (MultiIndex rows and columns are kept); a Series is shown as one column, anything
            else is returned unchanged.
        units: Column -> unit of :data:`DIGITS` (e.g. ``{"transfer": "mIoU points"}``); other numeric
            columns get ``digits`` decimals (integers stay integers).
        missing: What an empty cell shows (``""``; or e.g. ``"not measured"``).
        note: A sentence under the table; by default, when a cell is empty, ``"Empty cells: not measured
            in this run."``
        caption: Optional caption above the table.
        index: Show the index (default: unless it is the default 0, 1, 2, ... range).
        empty: The sentence shown instead of a table without rows or columns.
    """
    if isinstance(df, pd.Series):
        df = df.to_frame()
    if not isinstance(df, pd.DataFrame):  # e.g. a Markdown note shown instead of an empty table
        return df
    if df.empty:
        cap = f'<p class="sr-caption">{html.escape(caption)}</p>' if caption else ""
        return _html(f'{cap}<p class="sr-empty">{html.escape(empty)}</p>')
    units = dict(units or {})
    if index is None:
        index = not isinstance(df.index, pd.RangeIndex)
    out = df.copy()
    blanks = False
    for col in out.columns:
        unit = units.get(col if not isinstance(col, tuple) else col[-1])
        cells = []
        for v in out[col].tolist():
            text = _cell(v, unit, digits, missing)
            blanks |= text == missing
            cells.append(text)
        out[col] = pd.Series(cells, index=out.index, dtype=object)
    if index:
        out.index = out.index.map(lambda i: tuple(_cell(x, None, digits, missing) for x in i) if isinstance(i, tuple)
                                  else _cell(i, None, digits, missing))
    markup = out.to_html(classes="sr-table", index=index, na_rep=missing, border=0, escape=True)
    markup = _NUMBER_CELL.sub(r'<td class="num">\1</td>', markup)  # numbers right-aligned, words left
    note = note if note is not None else ("Empty cells: not measured in this run." if blanks and not missing else "")
    cap = f'<p class="sr-caption">{html.escape(caption)}</p>' if caption else ""
    tail = f'<p class="sr-note">{html.escape(note)}</p>' if note else ""
    return _html(f'<div class="sr-table-wrap">{cap}{markup}{tail}</div>')


def with_interval(t: pd.DataFrame, value: str, label: str | None = None, *, digits: int = 1, low: str = "low",
                  high: str = "high") -> pd.DataFrame:
    """Column ``value`` written as ``"v [low, high]"`` (the value alone without bounds, empty when missing),
    the bound columns dropped and the column renamed ``label``; anything but a table with that column is
    returned unchanged."""
    if not isinstance(t, pd.DataFrame) or t.empty or value not in t:
        return t

    def num(x) -> str:
        text = f"{float(x):.{digits}f}"
        return text[1:] if text.startswith("-") and float(text) == 0 else text  # no "-0.0"

    t = t.copy()
    t[value] = ["" if is_missing(v) else num(v) + ("" if is_missing(lo) or is_missing(hi) else f" [{num(lo)}, {num(hi)}]")
                for v, lo, hi in zip(t[value], t[low], t[high])]
    return t.drop(columns=[low, high]).rename(columns={value: label or value})


def without_constant(t: pd.DataFrame, columns: Sequence[str] = ("images", "seeds")) -> tuple[pd.DataFrame, str]:
    """``t`` without those of ``columns`` that hold one value on every row, and that value in words for the
    caption (``"64 images, 2 attack seeds"``; ``""`` when none was dropped)."""
    said = {}
    if isinstance(t, pd.DataFrame) and len(t):
        for c in columns:
            if c in t and t[c].nunique() == 1:
                said[c] = t[c].iloc[0]
                t = t.drop(columns=[c])
    words = [f"{v} attack seed{'s' if v != 1 else ''}" if c == "seeds" else f"{v} {c}" for c, v in said.items()]
    return t, ", ".join(words)


_NUMBER_CELL = re.compile(r"<td>(-?[\d.,]+(?: \[-?[\d.,]+, -?[\d.,]+\])?)</td>")


def _cell(value: Any, unit: str | None, digits: int, missing: str) -> str:
    if isinstance(value, str):
        text = re.sub(r"\s*\[nan, nan\]", "", value).strip()
        return missing if text.lower() in ("nan", "none", "") else text
    if is_missing(value):
        return missing
    if unit:
        return fmt(value, unit, missing=missing)
    if isinstance(value, (bool, int)) or (_is_number(value) and float(value).is_integer() and not isinstance(value, float)):
        return str(value)
    if _is_number(value):
        return f"{float(value):.{digits}f}"
    return str(value)


# --------------------------------------------------------------------------------------------- figures


def figure_directive(key: str, *, caption: str, alt: str, name: str | None = None) -> str:
    """The MyST ``{glue:figure}`` block that shows glued figure ``key`` numbered, with caption and alt text."""
    if not caption.strip() or not alt.strip():
        raise ValueError("a figure needs a caption and alt text")
    name = name or "fig-" + _slug(key)
    alt_line = " ".join(alt.split())
    return f":::{{glue:figure}} {key}\n:alt: {alt_line}\n:name: {name}\n\n{caption.strip()}\n:::\n"


def glue_figure(key: str, fig, *, caption: str, alt: str, name: str | None = None, conform: bool = True) -> None:
    """Glue a matplotlib figure and show it as a numbered figure with caption and alt text.

    Call it in a notebook cell instead of leaving the figure to show itself; the figure is closed.
    The caption is MyST Markdown (it may use same-notebook glue roles); refer to the figure elsewhere
    with the ``numref`` role and the label ``fig-<key>`` (underscores in ``key`` become hyphens). Labels
    are global in a book, so keys must be unique across chapters. Needs
    ``nb_render_markdown_format: myst`` in the book's configuration (``_config.yml`` sets it).

    Args:
        key: Glue key, unique in the notebook. fig: The Figure.
        caption: One paragraph. alt: What the figure shows, for readers who cannot see it.
        name: Label for cross-references (default ``fig-<key>``).
        conform: Fit the figure to the page width and minimum font size (:func:`figstyle.conform`).
    """
    import matplotlib.pyplot as plt
    from IPython.display import Markdown, display
    from myst_nb import glue

    from segrepro.report.figstyle import conform as fit

    directive = figure_directive(key, caption=caption, alt=alt, name=name)
    if conform:
        fit(fig)
    glue(key, fig, display=False)
    plt.close(fig)
    display(Markdown(directive))


def figure_html(fig, *, caption: str, alt: str, conform: bool = True) -> "HTML":
    """A captioned figure as self-contained HTML (PNG inline), for glue into another page (the landing page)."""
    import matplotlib.pyplot as plt

    from segrepro.report.figstyle import DPI
    from segrepro.report.figstyle import conform as fit

    if not caption.strip() or not alt.strip():
        raise ValueError("a figure needs a caption and alt text")
    if conform:
        fit(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode()
    return _html(f'<figure class="sr-figure"><img src="data:image/png;base64,{data}" alt="{html.escape(alt, quote=True)}">'
                 f"<figcaption>{html.escape(caption)}</figcaption></figure>")


#: The glue keys of the landing page (``book/intro.md``), all glued by :func:`glue_headline` in 05_comparison.
HEADLINE_KEYS = ("headline_grid", "headline_counts", "headline_figure", "headline_sentence_1",
                 "headline_sentence_2", "headline_sentence_3")


def glue_headline(claims: pd.DataFrame, *, figure=None, caption: str = "", alt: str = "",
                  sentences: Sequence[str] = ()) -> None:
    """Glue every key of :data:`HEADLINE_KEYS` (called once, in the comparison notebook).

    Args:
        claims: Every claim of every paper (and the project's targets): ``claims.csv``.
        figure: The key figure (a matplotlib Figure), with its ``caption`` and ``alt`` text.
        sentences: Three sentences of findings, numbers already formatted with :func:`fmt`.
    """
    from myst_nb import glue

    sentences = list(sentences)[:3] + [""] * (3 - len(list(sentences)[:3]))
    values: dict[str, Any] = {"headline_grid": outcome_grid(claims), "headline_counts": outcome_counts(claims)}
    values["headline_figure"] = (figure_html(figure, caption=caption, alt=alt) if figure is not None else
                                 _html('<p class="sr-empty">The key figure was not drawn in this run.</p>'))
    for i, text in enumerate(sentences, 1):
        values[f"headline_sentence_{i}"] = text.strip() or "(no finding to report at this scale)"
    for key, value in values.items():
        glue(key, value, display=False)


# --------------------------------------------------------------------------------------------- helpers


def _html(text: str):
    from IPython.display import HTML

    return HTML(text)


def _text(value: Any) -> str:
    return "" if is_missing(value) else str(value).strip()


def _is_number(value: Any) -> bool:
    if is_missing(value) or isinstance(value, bool):
        return False
    try:
        float(value)
        return True
    except (TypeError, ValueError):
        return False


def _slug(text: str) -> str:
    """Sphinx's section id of a heading: lower case, runs of other characters as one hyphen."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _claim_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The claim rows (empty ``part``), with every column of :data:`CLAIM_COLUMNS` present."""
    df = df.reindex(columns=list(dict.fromkeys([*CLAIM_COLUMNS, *df.columns])))
    return df[df["part"].map(is_missing)]


def _by_paper(claims: pd.DataFrame):
    """Groups by paper in the order of :data:`PAPERS`, then others, the project's targets last."""
    order = {p: i for i, p in enumerate(PAPERS)}
    papers = sorted(dict.fromkeys(claims["paper"].map(_text)), key=lambda p: (p == PROJECT, order.get(p, 99), p))
    for p in papers:
        yield p, claims[claims["paper"].map(_text) == p]


def _groups(df: pd.DataFrame):
    """``(claim row or None, [part rows])`` per claim id, in order of first appearance."""
    df = df.reindex(columns=list(dict.fromkeys([*CLAIM_COLUMNS, *df.columns])))
    records = df.to_dict("records")
    order = list(dict.fromkeys(_text(r["claim_id"]) for r in records))
    for cid in order:
        rows = [r for r in records if _text(r["claim_id"]) == cid]
        claim = next((r for r in rows if is_missing(r.get("part"))), None)
        yield claim, [r for r in rows if r is not claim]
