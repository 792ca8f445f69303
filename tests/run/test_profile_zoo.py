"""Model names of the zoo, its lazy loading and the training configs a profile gives."""
import pytest

from segrepro.run import get_profile
from segrepro.run.zoo import Zoo, parse_name, train_config


def test_model_names():
    assert parse_name("psp_r18") == ("psp_r18", None, None)
    assert parse_name("psp_r18@RP-PGD3-AT") == ("psp_r18", "rp_pgd", 3)
    assert parse_name("dlv3_r18@SegPGD7-AT") == ("dlv3_r18", "segpgd", 7)
    with pytest.raises(ValueError, match="<arch>@<ATTACK><T>-AT"):
        parse_name("psp_r18@FOO-AT")


def test_zoo_is_lazy_and_prepares_at_models_on_the_first_preset_only():
    calls = []
    profile = get_profile("smoke", presets=("shapes", "street"))
    zoo = Zoo(profile, device="cpu", loader=lambda p, preset, name, dev, prog: calls.append((preset, name)) or name)
    assert calls == []
    assert list(zoo.models("shapes")) == ["fcn8s_vgg16", "psp_r18", "psp_r18@PGD3-AT"]
    assert list(zoo.models("street")) == ["fcn8s_vgg16", "psp_r18"]
    assert zoo.models("street")["psp_r18"] == "psp_r18" and zoo.model("street", "psp_r18") == "psp_r18"
    assert calls == [("street", "psp_r18")]  # loaded once, then kept
    zoo.prepare()
    assert len(calls) == 5


def test_train_config_from_profile():
    profile = get_profile("smoke")
    clean = train_config(profile, "shapes", "psp_r18")
    at = train_config(profile, "shapes", "psp_r18@CosPGD3-AT")
    assert (clean.width, clean.size, clean.at_method) == (8, 64, None)
    assert (at.at_method, at.at_steps, at.init_from, at.epochs) == ("cospgd", 3, clean.key(), 1)
    with pytest.raises(ValueError, match="unknown TrainConfig field.*'epochz'"):
        train_config(get_profile("smoke", train={"epochz": 1}), "shapes", "psp_r18")
