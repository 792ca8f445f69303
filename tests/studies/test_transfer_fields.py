"""The ``transfer_*`` profile fields of the TranSegPGD and SegTrans studies reach their grids."""
import pytest

from segrepro.run import get_profile
from segrepro.studies import get_study


def _plan(profile) -> set:
    return {(c.key, g.grid, g.targets) for s in ("transegpgd", "segtrans") for g in get_study(s).grids(profile)
            for c in g.cells()}


@pytest.mark.parametrize("field, value", [
    ("transfer_snapshots", (1,)), ("transfer_random_start", True), ("transfer_second_sources", 2),
    ("transfer_weights", (0.5,)), ("transfer_ablation_seeds", 1), ("transfer_zoom_k", 3),
])
def test_a_changed_transfer_field_changes_the_plan(field, value):
    base = get_profile("smoke", seeds=(0, 1), eps=(0.03, 0.06))
    assert getattr(base, field) != value
    assert _plan(base.with_overrides(**{field: value})) != _plan(base)


def test_no_second_reading_without_a_second_eps_or_sources():
    grids = lambda p: {g.grid for s in ("transegpgd", "segtrans") for g in get_study(s).grids(p)}  # noqa: E731
    assert "transfer_eps2" in grids(get_profile("smoke", eps=(0.03, 0.06)))
    assert "transfer_eps2" not in grids(get_profile("smoke", eps=(0.03, 0.06), transfer_second_sources=0))
    assert "transfer_eps2" not in grids(get_profile("smoke"))
    assert "zoom" not in grids(get_profile("smoke", transfer_zoom_k=0))
