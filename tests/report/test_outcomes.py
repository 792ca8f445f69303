"""Equation-level checks of the verdict conventions: bootstrap over images, four outcomes, n_needed."""
import math

import numpy as np
import pytest

from segrepro.report.outcomes import (CONTRADICTED, INCONCLUSIVE, NOT_TESTABLE, REPRODUCED, bootstrap, combine,
                                      judge, resample_weights)


def mean_of(x):
    return lambda w: (w * x).sum((-1, -2)) / w.sum((-1, -2))


def test_resample_weights_draw_each_seed_stratum_in_full():
    w = resample_weights(5, n_seeds=3, resamples=50, seed=1)
    assert w.shape == (50, 3, 5)
    assert np.all(w.sum(-1) == 5)  # every seed keeps its image count: the resample is stratified
    assert np.array_equal(w, resample_weights(5, n_seeds=3, resamples=50, seed=1))


def test_bootstrap_interval_brackets_the_mean_and_shrinks_with_images():
    rng = np.random.default_rng(0)
    small, large = rng.normal(2.0, 1.0, (1, 16)), rng.normal(2.0, 1.0, (1, 256))
    a, b = bootstrap(mean_of(small), 16), bootstrap(mean_of(large), 256)
    assert a.low < a.value < a.high and b.low < b.value < b.high
    assert (b.high - b.low) < (a.high - a.low) / 2  # ~1/sqrt(n): 4x the images, half the width or less


def test_bootstrap_without_variation_or_with_one_image_has_no_interval():
    const = bootstrap(mean_of(np.full((1, 8), 3.0)), 8)
    assert (const.low, const.high, const.note) == (None, None, "no variation across images")
    one = bootstrap(mean_of(np.array([[1.0]])), 1)
    assert one.low is None and one.value == 1.0


def test_bootstrap_stays_inside_the_unit_range():
    # a ratio of summed counts (as mIoU is): every resample lies in [0, 1]
    inter, union = np.array([[0, 1, 2, 3]]), np.array([[1, 1, 2, 3]])
    e = bootstrap(lambda w: (w * inter).sum((-1, -2)) / (w * union).sum((-1, -2)), 4)
    assert 0 <= e.low <= e.value <= e.high <= 1


def test_pairing_narrows_a_difference_of_correlated_arms():
    rng = np.random.default_rng(0)
    base = rng.normal(50, 10, (1, 64))  # image difficulty shared by both methods
    a, b = base - 2 + rng.normal(0, 0.5, (1, 64)), base + rng.normal(0, 0.5, (1, 64))
    paired = bootstrap(lambda w: mean_of(a)(w) - mean_of(b)(w), 64)
    w2 = resample_weights(64, resamples=2000, seed=7)  # an independent draw for arm b = unpaired
    unpaired = np.quantile(mean_of(a)(resample_weights(64)) - mean_of(b)(w2), [0.025, 0.975])
    assert paired.high < 0  # the -2 gap is decisive when paired
    assert (paired.high - paired.low) < (unpaired[1] - unpaired[0]) / 5


@pytest.mark.parametrize("low,high,direction,expected", [
    (-3.0, -1.0, "lower", REPRODUCED), (1.0, 3.0, "lower", CONTRADICTED), (-1.0, 3.0, "lower", INCONCLUSIVE),
    (1.0, 3.0, "higher", REPRODUCED), (-3.0, -1.0, "higher", CONTRADICTED),
])
def test_outcome_follows_the_interval_not_the_mean(low, high, direction, expected):
    assert judge((low + high) / 2, low, high, direction, 0.0, 64).outcome == expected


def test_threshold_is_the_same_rule_for_a_claim_and_its_negation():
    # a claim of "+8.55 points" is judged against 8.55, not against 0
    assert judge(5.0, 3.0, 7.0, "higher", 8.55, 64).outcome == CONTRADICTED
    assert judge(5.0, 3.0, 7.0, "lower", 8.55, 64).outcome == REPRODUCED


def test_n_needed_by_hand():
    # half width 2, distance 1 from the threshold: n * (2/1)^2 = 4n
    j = judge(1.0, -1.0, 3.0, "higher", 0.0, 64)
    assert j.outcome == INCONCLUSIVE and j.n_needed == 256
    assert judge(0.0, -1.0, 1.0, "higher", 0.0, 64).n_needed is None  # no effect to detect


def test_within_claims():
    assert judge(0.2, -0.5, 0.8, "within", 1.0, 64).outcome == REPRODUCED
    assert judge(3.0, 2.0, 4.0, "within", 1.0, 64).outcome == CONTRADICTED
    j = judge(0.9, 0.2, 1.6, "within", 1.0, 64)
    assert j.outcome == INCONCLUSIVE and j.n_needed == 64 * 49


def test_not_measured_is_not_testable_and_parts_combine():
    assert judge(None, None, None, "lower").outcome == NOT_TESTABLE
    assert combine([REPRODUCED, REPRODUCED]) == REPRODUCED
    assert combine([REPRODUCED, INCONCLUSIVE]) == INCONCLUSIVE
    assert combine([REPRODUCED, CONTRADICTED, INCONCLUSIVE]) == CONTRADICTED
    assert combine([NOT_TESTABLE]) == NOT_TESTABLE
    with pytest.raises(ValueError, match="direction"):
        judge(1.0, 0.0, 2.0, "sideways")


def test_format_estimate_signs_intervals_and_missing_values():
    from segrepro.report.outcomes import Estimate, format_estimate

    e = Estimate(-3.1, -4.2, -2.0, 64)
    assert format_estimate(e) == "-3.10 [-4.20, -2.00]"
    assert format_estimate(Estimate(12.345, 10.1, 14.5, 64), signed=False) == "12.35 [10.10, 14.50]"
    flat = Estimate(0.5, None, None, 64, note="no variation across images")
    assert format_estimate(flat) == "+0.50" and format_estimate(flat, say_why=True) == "+0.50 (no variation across images)"
    assert format_estimate(None) == "not measured" and format_estimate(None, missing="-") == "-"
