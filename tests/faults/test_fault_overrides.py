"""Faults of the profile overrides: every bad value fails (or is coerced) when the profile is made, naming the field."""
import dataclasses
import json
import re

import pytest

from segrepro.run.profiles import check_models, get_profile, parse_override


def _refused(message):
    return pytest.raises(ValueError, match=re.escape(message))


# ---- attack methods -------------------------------------------------------------------------------------
def test_set_methods_is_an_unknown_field_with_a_hint():
    with _refused("unknown profile field(s) methods (did you mean method_params, models?); valid fields: name,"):
        parse_override("methods=foo")


def test_unknown_baseline_is_refused():
    with _refused("baselines: unknown attack method(s) ['foo'] in 'foo'; valid methods: fgsm, bim,"):
        get_profile("smoke", baselines=("pgd", "foo"))


def test_unknown_part_of_a_composed_baseline_is_refused():
    with _refused("baselines: unknown attack method(s) ['mii'] in 'transegpgd+mii'"):
        get_profile("smoke", baselines=("transegpgd+mii",))


def test_baseline_names_are_exact():
    with _refused("baselines: unknown attack method(s) ['PGD'] in 'PGD'"):
        get_profile("smoke", baselines=("PGD",))


def test_baselines_that_cannot_compose_are_refused():
    with _refused("baselines['segpgd+cospgd']: cannot compose 'segpgd' + 'cospgd': two pixel objectives"):
        get_profile("smoke", baselines=("segpgd+cospgd",))


def test_unknown_method_in_method_params_is_refused():
    with _refused("method_params: unknown attack method(s) ['dss'] in 'dss'"):
        get_profile("smoke", method_params={"dss": {"lam": 0.3}})


def test_unknown_part_of_a_composed_method_in_method_params_is_refused():
    with _refused("method_params: unknown attack method(s) ['foo'] in 'transegpgd+foo'"):
        get_profile("smoke", method_params={"transegpgd+foo": {}})


def test_unknown_method_parameter_is_refused():
    with _refused("method_params['ds']: method 'ds' got unknown parameter(s) ['lamda']; valid parameters: ['amp', 'lam',"):
        get_profile("smoke", method_params={"ds": {"lamda": 0.3}})


def test_method_parameter_out_of_range_is_refused():
    with _refused("method_params['ds']: parameter 'lam' of method 'ds' must be a number in [0.0, 0.999], got 2"):
        get_profile("smoke", method_params={"ds": {"lam": 2}})


def test_method_params_value_that_is_not_a_mapping_is_refused():
    with _refused("method_params['ds']: expects a mapping of parameter -> value, got 0.3"):
        get_profile("smoke", method_params={"ds": 0.3})


# ---- types and ranges -----------------------------------------------------------------------------------
def test_duplicate_seeds_are_refused():
    with _refused("seeds lists [0] more than once; give each value once, got [0, 0]"):
        parse_override("seeds=0,0")


def test_duplicate_eps_are_refused_through_the_api():
    with _refused("eps lists [0.03] more than once"):
        get_profile("smoke", eps=(0.03, 0.03))


def test_steps_none_is_refused():
    with _refused("steps cannot be None (it expects an integer >= 1)"):
        parse_override("steps=none")


def test_steps_float_is_refused():
    with _refused("steps expects an integer >= 1, got 10.5"):
        get_profile("smoke", steps=10.5)


def test_alpha_true_is_refused():
    with _refused("alpha expects a positive number, got True"):
        parse_override("alpha=true")


def test_eps_string_from_the_api_is_read_as_on_the_command_line():
    assert get_profile("smoke", eps="0.06").eps == (0.06,)
    assert get_profile("smoke", eps="0.03,0.06").eps == (0.03, 0.06)


def test_eps_scalar_from_papermill_becomes_a_one_tuple():
    overrides = json.loads('{"eps": 0.06, "seeds": [0, 1], "sources": "psp_r18"}')  # papermill -y '{...}'
    p = get_profile("smoke", **overrides)
    assert (p.eps, p.seeds, p.sources) == ((0.06,), (0, 1), ("psp_r18",))


def test_seeds_scalar_becomes_a_one_tuple():
    assert get_profile("smoke", seeds=3).seeds == (3,)
    assert parse_override("seeds=3") == ("seeds", (3,))


def test_negative_eps_is_refused():
    with _refused("eps must be a positive finite number, got -1"):
        parse_override("eps=-1")


def test_eps_above_one_is_refused():
    with _refused("eps is an L-inf budget on images in [0, 1]: each must lie in (0, 1], got 8"):
        get_profile("smoke", eps=8)  # 8/255 meant, 8 written


def test_nan_alpha_is_refused():
    with _refused("alpha must be a positive finite number, got nan"):
        get_profile("smoke", alpha=float("nan"))


def test_eps_text_that_is_not_a_number_is_refused():
    with _refused("eps expects a list of numbers in (0, 1] (on the command line: eps=x,y), got 'abc'"):
        get_profile("smoke", eps="abc")


def test_snapshots_beyond_steps_are_refused():
    with _refused("snapshots [99] go beyond steps=4: each snapshot is an iteration of the run, so set snapshots "
                  "within 1..4 (e.g. --set snapshots=2) or raise steps"):
        get_profile("smoke", snapshots=(2, 99))


def test_lowering_steps_below_the_snapshots_is_refused():
    with _refused("snapshots [10, 20] go beyond steps=5"):
        get_profile("embedded", steps=5)


def test_zero_images_are_refused():
    with _refused("n_images must be at least 1, got 0"):
        parse_override("n_images=0")


def test_zero_batch_size_is_refused():
    with _refused("batch_size must be at least 1, got 0"):
        get_profile("smoke", batch_size=0)


def test_negative_seed_is_refused():
    with _refused("seeds must be at least 0, got -1"):
        get_profile("smoke", seeds=(-1, 0))


def test_none_for_a_required_field_is_refused():
    with _refused("batch_size cannot be None (it expects an integer >= 1)"):
        get_profile("smoke", batch_size=None)


def test_empty_sources_are_refused():
    with _refused("sources needs at least one value, got an empty list"):
        get_profile("smoke", sources=[])


def test_flag_text_that_is_not_a_flag_is_refused():
    with _refused("amp expects true or false, got 'maybe'"):
        get_profile("smoke", amp="maybe")


def test_mapping_field_given_a_number_is_refused():
    with _refused("train expects a mapping of names"):
        parse_override("train=3")


def test_profile_made_directly_is_checked_too():
    with _refused("n_images must be at least 1, got 0"):
        dataclasses.replace(get_profile("smoke"), n_images=0)


# ---- names ----------------------------------------------------------------------------------------------
def test_unknown_preset_is_refused():
    with _refused("presets: unknown dataset(s) ['shape']; valid: cityscapes, shapes, street, voc"):
        get_profile("smoke", presets="shape")


def test_two_real_datasets_are_refused():
    with _refused("presets: one real dataset per run (data_root is one folder), got ['voc', 'cityscapes']"):
        get_profile("paper", presets=("voc", "cityscapes"))


@pytest.mark.parametrize("field", ["sources", "targets", "models"])
def test_unknown_model_is_refused_before_any_model_is_prepared(field):
    profile = get_profile("smoke", **{field: ("psp_r18", "pspr18")})
    with _refused(f"{field}: unknown model 'pspr18'; zoo models: dlv3_r18, dlv3_r34, fcn16s_vgg16, fcn8s_vgg16, "
                  "psp_r18, psp_r34 (a model with a spec in checkpoints may have any name)"):
        check_models(profile)


def test_model_without_a_spec_when_checkpoints_are_given_is_refused():
    profile = get_profile("smoke", checkpoints={"psp_r18": "zoo:/ckpt/psp.pt"})
    with _refused("models: model 'fcn8s_vgg16' has no spec in checkpoints (given for ['psp_r18']); with "
                  "checkpoints, every model is loaded, none trained"):
        check_models(profile)


def test_at_model_name_that_does_not_parse_is_refused():
    with _refused("at_models: adversarially trained model 'psp_r18@PGD-3AT' must read '<arch>@<ATTACK><T>-AT'"):
        get_profile("smoke", at_models=("psp_r18@PGD-3AT",))


def test_clean_model_in_at_models_is_refused():
    with _refused("at_models: 'psp_r18' is not an adversarially trained model; write '<arch>@<ATTACK><T>-AT', "
                  "e.g. 'psp_r18@PGD3-AT' (clean models go in models)"):
        get_profile("smoke", at_models="psp_r18")


def test_unknown_train_field_is_refused():
    with pytest.raises(ValueError, match=r"train has unknown TrainConfig field\(s\) \['epochz'\]; valid: \['at_alpha'"):
        get_profile("smoke", train={"epochz": 1})


def test_at_train_field_the_model_name_sets_is_refused():
    with _refused("at_train has unknown TrainConfig field(s) ['at_steps']; valid: ['at_alpha',"):
        get_profile("smoke", at_train={"at_steps": 7})  # would be silently replaced by the 3 of '@PGD3-AT'


def test_unknown_classifier_field_is_refused():
    with _refused("classifier_train has unknown ClassifierConfig field(s) ['depth']"):
        get_profile("smoke", classifier_train={"depth": 3})


def test_bad_checkpoint_spec_is_refused():
    with _refused("checkpoints['psp_r50']: unknown torchvision model 'deeplab' in spec 'tv:deeplab'"):
        get_profile("paper", checkpoints={"psp_r50": "tv:deeplab"})


def test_unknown_device_is_refused():
    with _refused("device: unknown device 'gpu'; valid: 'auto', 'cpu', 'cuda', 'cuda:<index>', 'mps'"):
        get_profile("smoke", device="gpu")


def test_unknown_profile_lists_the_valid_ones():
    with _refused("unknown profile 'tiny'; valid profiles: embedded, paper, smoke"):
        get_profile("tiny")
