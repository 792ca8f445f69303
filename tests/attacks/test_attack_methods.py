"""The methods table: names, composition rules, parameter routing and their errors."""
import pytest

from segrepro.attacks import METHODS, Method, available, describe, get_method

PUBLIC = ["fgsm", "bim", "fs", "pgd", "mi", "di", "ti", "segpgd", "cospgd", "ds", "transegpgd", "segtrans",
          "segtrans_zoom", "rp_pgd", "cw"]


def test_available_lists_the_public_names():
    assert available() == PUBLIC


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="available: .*'segpgd'"):
        get_method("segpdg")
    with pytest.raises(ValueError, match="'nope'"):
        get_method("ds+nope")
    with pytest.raises(TypeError, match="name or a Method"):
        get_method(3)


def test_composition_keeps_order_and_flags():
    m = get_method("ds+di+ti+mi")
    assert [p.name for p in m.inputs] == ["ds", "di"] and [p.name for p in m.grads] == ["ti", "mi"]
    assert [p.name for p in get_method("di+ds").inputs] == ["di", "ds"]
    assert get_method("ds+pgd").random_start and not get_method("ds+mi").random_start
    assert get_method("transegpgd+mi").objective.name == "transegpgd"
    assert get_method("mi+segpgd").objective.name == "segpgd"
    assert get_method("fgsm+di").one_step


def test_method_objects_compose_with_plus():
    m = METHODS["transegpgd"] + METHODS["mi"]
    assert isinstance(m, Method) and m.name == "transegpgd+mi" and m.grads[0].name == "mi"
    assert (METHODS["ds"] + "mi").name == "ds+mi"


@pytest.mark.parametrize("name, match", [
    ("segpgd+cospgd", "two pixel objectives .*'segpgd'.*'cospgd'"),
    ("rp_pgd+transegpgd", "two pixel objectives"),
    ("ds+ds", r"\['ds'\] would appear twice"),
    ("mi+ds+mi", "would appear twice"),
    ("rp_pgd+ds", "'rp_pgd' keeps per-pixel state"),
    ("segtrans+rp_pgd", "'rp_pgd' keeps per-pixel state"),
])
def test_undefined_compositions_fail(name, match):
    with pytest.raises(ValueError, match=match):
        get_method(name)


def test_params_are_routed_and_checked():
    m = get_method("transegpgd+ds")
    resolved = m.resolve({"gamma": 0.2, "lam": 0.3})
    assert resolved["gamma"] == 0.2 and resolved["lam"] == 0.3 and resolved["beta"] == 0.1
    assert resolved["step"] == "linf" and resolved["amp"] is False
    with pytest.raises(TypeError, match=r"unknown parameter\(s\) \['decay'\].*valid parameters: .*'gamma'"):
        m.resolve({"decay": 0.5})
    with pytest.raises(TypeError, match="'lam'"):
        get_method("bim").resolve({"lam": 0.5})          # DS's parameter is not valid for BIM
    with pytest.raises(ValueError, match="stage1_favour.*'correct', 'wrong'"):
        m.resolve({"stage1_favour": "both"})
    with pytest.raises(ValueError, match="gamma"):
        m.resolve({"gamma": 1.5})
    with pytest.raises(ValueError, match="step"):
        m.resolve({"step": "l1"})
    with pytest.raises(ValueError, match="regions"):
        get_method("rp_pgd").resolve({"regions": ("true", "middle")})
    with pytest.raises(ValueError, match="kernel_size"):
        get_method("ti").resolve({"kernel_size": 4})


def test_every_default_names_its_source():
    for name in available():
        for row in describe(name):
            assert row["source"].startswith("["), (name, row)
    rows = {r["parameter"]: r for r in describe("rp_pgd")}
    assert rows["rp_beta"]["default"] == 0.75 and "Eq. 7" in rows["rp_beta"]["source"]
    assert {r["parameter"] for r in describe("ds")} >= {"lam", "scale_range", "min_side"}
