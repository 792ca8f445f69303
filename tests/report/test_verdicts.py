"""The claims table: parts judged on their intervals, claims combined from parts."""
import pytest

from segrepro.report.outcomes import Estimate
from segrepro.report.verdicts import COLUMNS, PROJECT, Claim, Part, claim_rows, counts, decisive_share, table

CLAIM = Claim("c1", "ds", "DS beats FS", quantity="DS minus FS transfer mIoU", unit="mIoU points", direction="lower")


def test_claim_with_parts_combines_and_keeps_each_part():
    parts = [Part("a", Estimate(-3.0, -4.0, -2.0, 64, 2)), Part("b", Estimate(-1.0, -2.5, 0.5, 64, 2))]
    rows = claim_rows(CLAIM, parts, summary=Estimate(-2.0, -3.0, -1.0, 64, 2), why="b is within noise")
    assert [r["part"] for r in rows] == ["", "a", "b"]
    assert [r["outcome"] for r in rows] == ["inconclusive", "reproduced", "inconclusive"]
    assert rows[2]["n_needed"] == 64 * (1.5 / 1.0) ** 2 and rows[0]["n_needed"] == rows[2]["n_needed"]
    assert rows[0]["value"] == -2.0 and set(rows[0]) == set(COLUMNS)


def test_any_contradicted_part_contradicts_the_claim():
    parts = [Part("a", Estimate(-3.0, -4.0, -2.0, 64)), Part("b", Estimate(2.0, 1.0, 3.0, 64))]
    assert claim_rows(CLAIM, parts)[0]["outcome"] == "contradicted"


def test_not_measured_and_not_testable():
    rows = claim_rows(CLAIM, [Part("a", None, "not reached in 20 iterations")])
    assert rows[1]["outcome"] == "not testable here" and rows[1]["why"] == "not reached in 20 iterations"
    assert claim_rows(CLAIM, not_testable="no AT model")[0]["outcome"] == "not testable here"
    with pytest.raises(ValueError, match="unknown unit"):
        claim_rows(Claim("x", "ds", "", quantity="", unit="percent", direction="lower"))


def test_counts_keep_project_targets_apart():
    project = Claim("t1", PROJECT, "AT keeps 70 %", quantity="", unit="fraction", direction="higher", threshold=0.7)
    df = table([*claim_rows(CLAIM, summary=Estimate(-2.0, -3.0, -1.0, 64)),
                *claim_rows(project, summary=Estimate(0.9, 0.8, 0.95, 64))])
    c = counts(df)
    assert c.loc["ds", "reproduced"] == 1 and c.loc[PROJECT, "reproduced"] == 1
    assert decisive_share(df) == 1.0
