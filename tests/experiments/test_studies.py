import pytest

from segrepro.experiments import studies
from segrepro.experiments.runner import results_path
from segrepro.experiments.zoo import parse_name


def test_registry_names_and_errors(monkeypatch):
    assert studies.available()[0] == "setup" and "setup" in studies.implemented()
    assert studies.get_study("setup").notebook == "00_setup"
    with pytest.raises(ValueError, match="valid studies: setup, dynamic_scaling"):
        studies.get_study("nope")
    monkeypatch.setitem(studies.MODULES, "ghost", "segrepro.experiments.studies.ghost")
    with pytest.raises(NotImplementedError, match="does not exist yet"):
        studies.get_study("ghost")
    with pytest.raises(ValueError, match="unknown study"):
        results_path("smoke", "nope")


def test_model_names():
    assert parse_name("psp_r18") == ("psp_r18", None, None)
    assert parse_name("psp_r18@RP-PGD3-AT") == ("psp_r18", "rp_pgd", 3)
    assert parse_name("dlv3_r18@SegPGD7-AT") == ("dlv3_r18", "segpgd", 7)
    with pytest.raises(ValueError, match="<arch>@<ATTACK><T>-AT"):
        parse_name("psp_r18@FOO-AT")
