"""The transcribed paper numbers load, carry their source, and match spot checks made by hand."""
import pandas as pd
import pytest

from segrepro import paper_values as pv

EXPECTED = {
    "claims", "ds_table1_voc", "ds_table2_cityscapes", "ds_table3_at_targets", "ds_table4_multiscale",
    "rppgd_table1_regions", "rppgd_table2_schedules", "rppgd_table3_prototype_regions", "rppgd_table4_at",
    "rppgd_table5_at", "rppgd_table6_transfer", "segtrans_claims", "transegpgd_claims",
}


def test_available_lists_every_transcribed_table():
    assert EXPECTED <= set(pv.available())
    assert pv.available() == sorted(pv.available())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_table_loads_with_required_columns_and_source(name):
    df = pv.load(name)
    assert len(df) > 0
    for col in pv.REQUIRED_COLUMNS:
        assert col in df.columns
        if col != "note":
            assert df[col].notna().all() and (df[col].astype(str) != "").all()
    assert set(df["paper"]) <= set(pv.PAPERS)
    assert df.attrs["name"] == name and df.attrs["source"]
    if not name.endswith("claims"):
        assert pd.api.types.is_numeric_dtype(df["value"]) and df["value"].notna().all()


def test_load_accepts_csv_suffix():
    assert pv.load("ds_table4_multiscale.csv").shape == pv.load("ds_table4_multiscale").shape


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="ds_table1_voc"):
        pv.load("ds_table9")


def test_non_string_name_is_a_type_error():
    with pytest.raises(TypeError):
        pv.load(1)


def test_row_counts_match_the_paper_tables():
    # 6 clean values + 3 sources x 2 methods x 6 targets, minus the one FS cell the text lost.
    assert len(pv.load("ds_table1_voc")) == 6 + 36 - 1
    assert len(pv.load("rppgd_table4_at")) == 10 * 2 * 8  # strategies x datasets x columns
    assert len(pv.load("rppgd_table1_regions")) == 6 * 4


def test_spot_values_typed_from_the_paper():
    t1 = pv.load("ds_table1_voc")
    cell = t1[(t1.source == "FCN8s-VGG16") & (t1.target == "DeepLabV3-Res50") & (t1.method == "DS")]
    assert cell["value"].tolist() == [9.69]  # "the mIoU of DeepLabv3-Res50 can be reduced to 9.69"
    t6 = pv.load("rppgd_table6_transfer")
    cell = t6[(t6.dataset == "cityscapes") & (t6.at_strategy == "SegPGD3-AT") & (t6.attack == "RP-PGD")]
    assert cell["value"].tolist() == [12.55]


def test_table4_agrees_with_the_differences_quoted_in_the_rppgd_text():
    # Text: RP-PGD3-AT is 4.2 and 5.05 mIoU above SegPGD3-AT and CosPGD3-AT (PSPNet, VOC, PGD100).
    t = pv.load("rppgd_table4_at")
    v = t[(t.dataset == "voc") & (t.attack == "PGD100")].set_index("at_strategy")["value"]
    assert v["RP-PGD3-AT"] - v["SegPGD3-AT"] == pytest.approx(4.2)
    assert v["RP-PGD3-AT"] - v["CosPGD3-AT"] == pytest.approx(5.05)


def test_rppgd_ablation_tables_share_their_common_rows():
    # Table 2's Eq. (4) row is Table 1's group 4 (T+B+F, no prototype): 0.61, 9.83, 0.51, 10.35.
    t1 = pv.load("rppgd_table1_regions")
    t2 = pv.load("rppgd_table2_schedules")
    assert t2[t2.schedule == "eq4"]["value"].tolist() == [0.61, 9.83, 0.51, 10.35]
    assert t1[t1.group == 4]["value"].tolist() == [0.61, 9.83, 0.51, 10.35]


def test_claims_have_unique_ids_and_name_their_notebook():
    c = pv.claims()
    assert c["id"].is_unique
    assert set(c["notebook"]) <= {"01_dynamic_scaling", "02_transegpgd", "03_segtrans", "04_rp_pgd", "05_comparison"}
    assert {"ds", "transegpgd", "segtrans", "rppgd"} == set(c["paper"])
    assert c.set_index("id").loc["st_asr_gain", "paper_value"] == "+8.55 %"


def test_malformed_table_is_a_clear_error(tmp_path, monkeypatch):
    (tmp_path / "bad.csv").write_text("paper,source_table,note,metric\nds,Table 1,,miou\n")
    (tmp_path / "text_value.csv").write_text("paper,source_table,note,metric,value\nds,Table 1,,miou,high\n")
    monkeypatch.setattr(pv, "_folder", lambda: tmp_path)
    with pytest.raises(ValueError, match="lacks required columns"):
        pv.load("bad")
    with pytest.raises(ValueError, match="numeric"):
        pv.load("text_value")
