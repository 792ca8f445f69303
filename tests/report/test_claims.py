import math

import pandas as pd
import pytest

from segrepro.report.claims import (Missing, attempt, claim_row, claims_table, gather, mean_ci, not_run_row, verdict,
                                    verdict_glue, worst)


def test_paired_lower_is_reproduced_with_hand_computed_interval():
    # differences -10.1, -8.8, -11.5: mean -10.1333, sd 1.3503, se 0.7796, t(0.975, 2) = 4.3027
    v = verdict([20.1, 21.0, 19.5], baseline=[30.2, 29.8, 31.0], expect="lower")
    assert v.verdict == "reproduced" and v.n == 3
    assert v.mean == pytest.approx(-10.1333, abs=1e-4)
    assert (v.low, v.high) == (pytest.approx(-13.4877, abs=1e-3), pytest.approx(-6.7790, abs=1e-3))
    assert v.our_value() == "-10.13 [-13.49, -6.78] (n=3)"


def test_mean_right_but_interval_crosses_is_partly():
    # mean 0.25, sd 1.0607, se 0.75, t(0.975, 1) = 12.706: interval [-9.28, 9.78]
    assert verdict([1.0, -0.5], expect="higher").verdict == "partly"


def test_mean_on_the_wrong_side_is_not_reproduced():
    assert verdict([-1.0, -2.0], expect="higher").verdict == "not reproduced"
    assert verdict([0.5, 0.6, 0.55], expect="higher", margin=1.0).verdict == "not reproduced"
    assert verdict([3.0, 4.0], expect="lower", reference=2.0).verdict == "not reproduced"


def test_one_seed_has_no_interval_and_is_at_best_partly():
    v = verdict([5.0], expect="higher")
    assert v.verdict == "partly" and math.isnan(v.low) and v.our_value() == "5.00 (n=1)"


def test_equal_within_tolerance():
    # mean 70, sd 0.2, se 0.1155, half-width 0.497
    assert verdict([70.0, 70.2, 69.8], expect="equal", reference=70.0, tolerance=1.0).verdict == "reproduced"
    assert verdict([70.0, 70.2, 69.8], expect="equal", reference=70.0, tolerance=0.3).verdict == "partly"
    assert verdict([70.0, 70.2, 69.8], expect="equal", reference=75.0, tolerance=1.0).verdict == "not reproduced"


def test_mean_ci_ignores_nan():
    assert mean_ci([1.0, float("nan"), 3.0])[0] == 2.0


@pytest.mark.parametrize("kw, match", [
    (dict(values=[1.0], expect="bigger"), "unknown expect"),
    (dict(values=[1.0, 2.0], expect="lower", baseline=[1.0]), "pair them by seed"),
    (dict(values=[1.0], expect="equal"), "tolerance"),
    (dict(values=[1.0], expect="higher", margin=-1), "margin"),
    (dict(values=[float("nan")], expect="higher"), "finite"),
])
def test_verdict_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        verdict(**kw)


def test_claim_row_joins_the_claims_table():
    claims = pd.DataFrame({"id": ["c1"], "claim": ["DS beats FS"], "paper_value": ["12.2 vs 29.8"]})
    row = claim_row("c1", verdict([1.0, 1.2, 1.1], expect="higher"), "smaller models", claims=claims)
    assert row["claim"] == "DS beats FS" and row["paper value"] == "12.2 vs 29.8" and row["verdict"] == "reproduced"
    table = claims_table([row], study="ds", eps=0.03)
    assert list(table.columns) == ["study", "id", "eps", "claim", "paper value", "our value", "verdict", "comment"]
    assert (table["study"].iloc[0], table["eps"].iloc[0]) == ("ds", 0.03)
    with pytest.raises(ValueError, match="valid ids: c1"):
        claim_row("c9", verdict([1.0], expect="higher"), claims=claims)


def test_worst_is_the_weakest_part_and_counts_what_holds():
    good, weak, bad = verdict([1.0, 1.2], expect="higher"), verdict([1.0, -0.5], expect="higher"), \
        verdict([-1.0, -2.0], expect="higher")
    v, text = worst([("a", good), ("b", weak), ("c", bad)])
    assert v is bad and text == "2/3 comparisons hold; worst: c"
    with pytest.raises(Missing):
        worst([])


def test_attempt_turns_missing_rows_into_a_reason():
    assert attempt(lambda x: x + 1, 1) == (2, None)
    value, why = attempt(lambda: (_ for _ in ()).throw(Missing("FS rows")))
    assert value is None and why == "missing rows (FS rows)"


CLAIMS = pd.DataFrame({"id": ["a", "b", "c"], "claim": ["A", "B", "C"], "paper_value": ["1", "2", "3"],
                       "notebook": ["01_x", "01_x", "02_y"]})


def test_verdict_glue_per_eps_and_counts():
    v = verdict([1.0, 1.2, 1.1], expect="higher")
    rows = [{"eps": 0.03, **claim_row("a", v, claims=CLAIMS)},
            {"eps": 0.06, **claim_row("a", verdict([1.0], expect="higher"), claims=CLAIMS)},
            {"eps": 0.03, **claim_row("b", v, claims=CLAIMS)}, {"eps": 0.03, **claim_row("b", v, claims=CLAIMS)},
            {"eps": 0.06, **not_run_row("c", "not run: no rows", claims=CLAIMS)}]
    glue = verdict_glue(claims_table(rows, study="x"))
    assert (glue["v_a"], glue["v_a_e1"]) == ("reproduced", "partly")
    assert glue["v_b"] == glue["v_b_e1"] == "2 comparisons: 2 reproduced"
    assert glue["v_c"] == "not run"
    assert (glue["n_judged"], glue["n_reproduced"], glue["n_partly"]) == (2, 1, 1)


def test_gather_reports_failing_builders_and_unjudged_claims(monkeypatch):
    from segrepro import paper_values

    monkeypatch.setattr(paper_values, "load", lambda name: CLAIMS)
    ok = claims_table([claim_row("a", verdict([1.0], expect="higher"), claims=CLAIMS)], study="x")
    table = gather({"x": lambda: ok, "ghost": lambda: 1 / 0})
    assert list(table["id"]) == ["a", "-", "b", "c"]
    assert list(table["verdict"]) == ["partly", "not available", "not judged", "not judged"]
    assert table.loc[1, "comment"].startswith("ZeroDivisionError") and table.loc[3, "study"] == "y"
