"""Every scale knob is a profile field that reaches the studies: changing it changes what is computed."""
import pytest

from segrepro.run import get_profile
from segrepro.studies import STUDIES
from segrepro.studies.rp_pgd import grids as rp


def _plan(profile) -> set:
    """Everything the studies would compute: every grid cell with its targets."""
    cells = {(c.key, g.grid, g.targets, g.eval_scales) for s in STUDIES for g in s.grids(profile) for c in g.cells()}
    return cells


@pytest.mark.parametrize("field, value", [
    ("n_images", 6), ("seeds", (0, 1, 2)), ("eps", (0.03, 0.05)), ("steps", 6), ("snapshots", (1, 4)),
    ("long_steps", 5), ("alpha", 0.02), ("batch_size", 4), ("sources", ("psp_r18", "fcn8s_vgg16")),
    ("targets", ("psp_r18",)), ("at_models", ()), ("baselines", ("pgd", "mi")), ("method_params", {"ds": {"lam": 0.3}}),
    ("presets", ("street",)),
    ("transfer_sources", 1), ("transfer_images", 4), ("comparison_seeds", 1),
    ("rp_images", 2), ("rp_seeds", 1), ("rp_whitebox_steps", 3), ("rp_ablation_steps", 2), ("rp_ablation_seeds", 1),
    ("rp_ablation_at", True), ("rp_ablation_images", 3), ("ds_long_images", 5), ("rp_battery_pgd_steps", (2, 6)), ("rp_battery_cw_steps", 0),
    ("rp_battery_bim_steps", 0), ("rp_battery_images", 5),
])
def test_a_changed_scale_field_changes_the_plan(field, value):
    base = get_profile("smoke", seeds=(0, 1), rp_seeds=None)
    assert getattr(base, field) != value
    assert _plan(base.with_overrides(**{field: value})) != _plan(base)


def test_study_image_counts_override_the_profile_size():
    p = get_profile("embedded", n_images=16)
    assert rp.n_images(p) == 64  # the RP-PGD study's floor, visible and overridable
    assert rp.n_images(p.with_overrides(rp_images=None)) == 16


def test_other_architectures_switch_changes_the_plan():
    base = get_profile("smoke", at_models=("psp_r18@PGD3-AT", "fcn8s_vgg16@PGD3-AT"))
    assert _plan(base.with_overrides(rp_other_archs=False)) != _plan(base)
