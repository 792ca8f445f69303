"""segrepro.report.present on a hand-made claims table (the columns of ``claims.csv``)."""
import html
import math
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from segrepro.report import figstyle, present  # noqa: E402

NAN = float("nan")


def claims() -> pd.DataFrame:
    rows = [
        dict(paper="ds", claim_id="ds_table1_ds_beats_fs", part="", claim="DS transfers better than FS on every pair",
             quantity="DS - FS", unit="mIoU points", direction="lower", threshold=0, paper_value=-22.48, value=-3.2,
             low=-4.1, high=-2.3, n_images=64, n_seeds=2, outcome="reproduced", n_needed=NAN, why=""),
        dict(paper="ds", claim_id="ds_table1_ds_beats_fs", part="psp_r18 -> fcn8s_vgg16", claim=NAN,
             quantity="DS - FS", unit="mIoU points", direction="lower", threshold=0, paper_value=-24.22, value=-5.03,
             low=-6.0, high=-4.1, n_images=64, n_seeds=2, outcome="reproduced", n_needed=NAN, why=NAN),
        dict(paper="ds", claim_id="ds_table1_ds_beats_fs", part="worst pair", claim=NAN,
             quantity="pairs won", unit="pairs", direction="higher", threshold=5, paper_value=6, value=4,
             low=NAN, high=NAN, n_images=64, n_seeds=2, outcome="inconclusive", n_needed=310.2, why=NAN),
        dict(paper="ds", claim_id="ds_seg_vgg_no_overfit", part=None, claim="FS on VGG does not overfit",
             quantity="rise from the minimum", unit="mIoU points", direction="within", threshold=1.0,
             paper_value="no rise up to 10k iterations", value=4.5, low=2.0, high=7.1, n_images=64, n_seeds=1,
             outcome="contradicted", n_needed=NAN, why="Our VGG source overfits after 20 iterations."),
        dict(paper="segtrans", claim_id="st_efficiency", part="", claim="SegTrans is twice as efficient",
             quantity="iterations to reach BIM's ASR", unit="iterations", direction="lower", threshold=10,
             paper_value=NAN, value="not reached in 20 iterations", low=NAN, high=NAN, n_images=64, n_seeds=1,
             outcome="not testable here", n_needed=NAN, why="Every method costs one forward and backward pass."),
        dict(paper="project", claim_id="at_target_robust", part="", claim="AT models keep 20 mIoU under PGD",
             quantity="PGD-20 mIoU", unit="mIoU points", direction="higher", threshold=20, paper_value=NAN,
             value=29.064160, low=25.5, high=31.25, n_images=64, n_seeds=1, outcome="reproduced", n_needed=NAN,
             why=""),
    ]
    return pd.DataFrame(rows, columns=list(present.CLAIM_COLUMNS))


def _cells(markup: str) -> list[str]:
    return [html.unescape(re.sub(r"<[^>]+>", " ", c)).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", markup, re.S)]


def test_fmt_rounds_per_unit_and_never_prints_nan():
    assert present.fmt(29.064160, "mIoU points") == "29.1"
    assert present.fmt(np.float64(2.0), "time ratio") == "2.00"
    assert present.fmt(12.0, "iterations") == "12"
    assert present.fmt(-0.04, "mIoU points") == "0.0"  # no "-0.0"
    assert present.fmt(NAN) == "not measured" and present.fmt(None, missing="") == ""
    assert present.fmt(pd.NA) == "not measured"
    assert present.fmt("not reached in 20 iterations") == "not reached in 20 iterations"
    assert present.fmt(0.123456) == "0.123" and present.fmt(3) == "3"
    assert present.fmt(math.inf) == "never"


def test_texts_of_one_row():
    row = claims().iloc[0].to_dict()
    assert present.claimed_text(row) == "claimed: DS - FS < 0"
    assert present.ours_text(row) == "-3.2 [-4.1, -2.3], n = 64 images x 2 seeds"
    within = claims().iloc[3].to_dict()
    assert present.claimed_text(within) == "claimed: rise from the minimum within \u00b11"
    assert present.ours_text(within) == "4.5 [2.0, 7.1], n = 64 images"
    assert present.ours_text(claims().iloc[4].to_dict()) == "not reached in 20 iterations, n = 64 images"
    part = claims().iloc[2].to_dict()
    assert present.ours_text(part) == "4 (no interval), n = 64 images x 2 seeds"
    assert present.needed_text(part) == "about 311 images would decide"
    assert present.claim_label("ds_table1_ds_beats_fs") == "Table 1: DS beats FS"
    assert present.claim_label("rp_at_pgd100") == "AT PGD100"


def test_claims_html_shows_every_column_parts_indented_and_no_nan():
    markup = present.claims_html(claims(), caption="Claims of DS").data
    assert "nan" not in markup.lower().replace("nanchor", "")
    assert markup.count('class="sr-claim"') == 4 and markup.count('class="sr-part"') == 2
    # parts follow their claim, anchors are ids
    ids = re.findall(r'<tr id="([^"]+)"', markup)
    assert ids[:3] == ["claim-ds_table1_ds_beats_fs", "claim-ds_table1_ds_beats_fs--psp-r18-fcn8s-vgg16",
                       "claim-ds_table1_ds_beats_fs--worst-pair"]
    cells = _cells(markup)
    assert "claimed: DS - FS < 0 (mIoU points)" in " ".join(cells)
    assert "-22.5" in cells and "-3.2 [-4.1, -2.3], n = 64 images x 2 seeds" in cells
    assert "29.1 [25.5, 31.2], n = 64 images" in cells or "29.1 [25.5, 31.3], n = 64 images" in cells
    assert "Our VGG source overfits after 20 iterations." in cells
    # the part with another quantity states it; the one with the claim's quantity does not repeat it
    assert "claimed: pairs won > 5 (pairs)" in " ".join(cells)
    assert " ".join(cells).count("claimed: DS - FS < 0") == 1
    for word in ("reproduced", "contradicted", "inconclusive", "not testable here"):
        assert f"</span> {word}</span>" in markup  # badge: symbol + word
    assert "about 311 images would decide" in markup


def test_a_part_shows_the_paper_value_only_when_it_has_its_own():
    c = claims()
    c.loc[1, "paper_value"] = c.loc[0, "paper_value"]  # the part repeats its claim's value
    cells = _cells(present.claims_html(c).data)
    assert cells.count("-22.5") == 1 and "6" in cells  # the worst-pair part keeps its own (6 pairs)


def test_outcome_grid_links_claims_and_keeps_project_targets_apart():
    markup = present.outcome_grid(claims()).data
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", markup, re.S)
    assert [html.unescape(re.sub(r"<[^>]+>", "", re.search(r"<th[^>]*>(.*?)</th>", r).group(1))) for r in rows] == [
        "Dynamic Scaling (DS)", "SegTrans", "project targets (ours, not a paper's claims)"]
    assert 'href="01_dynamic_scaling.html#claim-ds_table1_ds_beats_fs"' in markup
    assert markup.count("sr-chip--") == 4  # claims, not parts
    assert "sr-project" in markup and "nan" not in markup.lower()


def test_outcome_counts_per_paper_and_outcome():
    markup = present.outcome_counts(claims()).data
    papers, project = markup.split("project targets (ours")
    rows = re.findall(r"<tr>(.*?)</tr>|<tr class=\"sr-total\">(.*?)</tr>", papers, re.S)
    body = [_cells(a or b) for a, b in rows]
    assert ["Dynamic Scaling (DS)", "1", "1", "0", "0", "2"] in body
    assert ["SegTrans", "0", "0", "0", "1", "1"] in body
    assert ["all papers", "1", "1", "0", "1", "3"] in body
    assert "project targets" not in papers and "1" in _cells(project)


def test_at_a_glance_lists_outcomes_with_why():
    markup = present.at_a_glance(claims()).data
    assert 'class="admonition sr-glance"' in markup and "At a glance" in markup
    assert "1 of 3 claims" in markup
    assert "FS on VGG does not overfit</a>: Our VGG source overfits" in markup
    assert "Project targets" in markup and "nan" not in markup.lower()
    assert "No claims" in present.at_a_glance(claims().iloc[:0]).data


def test_deviations_table_links_the_methods_sections():
    markup = present.deviations_table([
        dict(topic="prototype gradient", paper="detached in the released code", ours="kept (ablation)",
             section="RP-PGD"),
        dict(topic="data", paper="VOC", ours="synthetic shapes", why=NAN, section=None, page="scale")]).data
    assert '<a href="methods.html#rp-pgd">RP-PGD</a>' in markup
    assert '<a href="scale.html">what embedded scale means</a>' in markup
    assert "nan" not in markup.lower()


def test_figure_directive_and_html():
    text = present.figure_directive("ds_curves", caption="FS on VGG.", alt="A line\nchart")
    assert text == ":::{glue:figure} ds_curves\n:alt: A line chart\n:name: fig-ds-curves\n\nFS on VGG.\n:::\n"
    with pytest.raises(ValueError, match="caption and alt"):
        present.figure_directive("k", caption="", alt="x")
    fig, ax = plt.subplots(figsize=(12, 3))
    ax.plot([1, 2], [3, 4])
    ax.set_xlabel("tiny", fontsize=5)
    markup = present.figure_html(fig, caption="A caption", alt='A "quoted" alt').data
    assert markup.startswith('<figure class="sr-figure"><img src="data:image/png;base64,')
    assert 'alt="A &quot;quoted&quot; alt"' in markup and "<figcaption>A caption</figcaption>" in markup
    assert fig.get_size_inches()[0] == pytest.approx(figstyle.PAGE_WIDTH_IN) and ax.xaxis.label.get_fontsize() >= 9


def test_glue_headline_glues_every_landing_page_key(monkeypatch):
    glued = {}
    import myst_nb

    monkeypatch.setattr(myst_nb, "glue", lambda key, value, display=True: glued.__setitem__(key, value))
    fig, _ = plt.subplots()
    assert present.glue_headline(claims(), figure=fig, caption="DS - FS per pair.", alt="Dots with intervals",
                                 sentences=["One.", "Two."]) is None  # nothing for the cell to display
    assert set(glued) == set(present.HEADLINE_KEYS)
    assert glued["headline_sentence_2"] == "Two." and glued["headline_sentence_3"]
    assert "sr-grid" in glued["headline_grid"].data and "<figure" in glued["headline_figure"].data


def test_table_rounds_and_leaves_no_nan():
    df = pd.DataFrame({"method": ["bim", "ds"], "transfer": [29.064160, NAN], "n": [16, 16],
                       "interval": ["1.00 [nan, nan]", "nan"]})
    markup = present.table(df, units={"transfer": "mIoU points"}).data
    cells = _cells(markup)
    assert "29.1" in cells and "16" in cells and "1.00" in cells
    assert '<td class="num">29.1</td>' in markup and "<td>bim</td>" in markup
    assert "nan" not in markup.lower() and "Empty cells: not measured in this run." in markup
    assert ">0<" not in markup  # no 0, 1, ... index column
    multi = pd.DataFrame({("fcn", "ours"): [14.3312], ("fcn", "paper"): [NAN]},
                         index=pd.MultiIndex.from_tuples([("psp_r18", "ds")]))
    markup = present.table(multi, missing="not measured").data
    assert "14.33" in markup and "not measured" in markup and "psp_r18" in markup and "Empty cells" not in markup
    assert "<table" not in present.table(pd.DataFrame()).data and "Nothing to show" in present.table(pd.DataFrame()).data
