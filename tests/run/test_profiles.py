import pytest

from segrepro.run.profiles import Profile, available, get_profile, parse_override


def test_builtin_profiles_and_override():
    assert available() == ["embedded", "paper", "smoke"]
    p = get_profile("embedded", steps=50, seeds=[0, 1, 2], eps=[0.03])
    assert (p.steps, p.seeds, p.eps) == (50, (0, 1, 2), (0.03,))
    assert get_profile("embedded") == get_profile("embedded") and get_profile("embedded").seeds == (0, 1)
    assert isinstance(get_profile(p, n_images=4), Profile) and get_profile(p, n_images=4).steps == 50


def test_unknown_profile_and_field_list_the_valid_ones():
    with pytest.raises(ValueError, match="valid profiles: embedded, paper, smoke"):
        get_profile("huge")
    with pytest.raises(ValueError, match="unknown profile field.*stepz.*valid fields:.*steps"):
        get_profile("smoke", stepz=3)


@pytest.mark.parametrize("text, expected", [
    ("steps=50", ("steps", 50)),
    ("eps=0.03,0.06", ("eps", (0.03, 0.06))),
    ("eps=0.05", ("eps", (0.05,))),
    ("seeds=[0,1]", ("seeds", (0, 1))),
    ("sources=psp_r18,dlv3_r18", ("sources", ("psp_r18", "dlv3_r18"))),
    ('train={"epochs":3}', ("train", {"epochs": 3})),
    ("amp=true", ("amp", True)),
    ("device=cuda", ("device", "cuda")),
    ("device=none", ("device", None)),
    ("alpha=1", ("alpha", 1)),
])
def test_parse_override(text, expected):
    assert parse_override(text) == expected


@pytest.mark.parametrize("text, match", [
    ("steps", "field=value"), ("stepz=3", "unknown profile field"),
    ("steps=many", "steps expects an integer >= 1, got 'many'"), ("steps=1.5", "steps expects an integer >= 1, got 1.5"),
    ("train=3", "train expects a mapping"), ("amp=maybe", "amp expects true or false, got 'maybe'"),
    ("steps=true", "steps expects an integer >= 1, got True"),
])
def test_parse_override_errors(text, match):
    with pytest.raises(ValueError, match=match):
        parse_override(text)


def test_every_profile_field_is_read_by_the_package():
    """No field is silently ignored: each is read (``<obj>.<field>``) outside ``profiles.py``."""
    import dataclasses
    import re
    from pathlib import Path

    package = Path(__file__).resolve().parents[2] / "segrepro"
    code = "\n".join(p.read_text() for p in package.rglob("*.py") if p.name != "profiles.py")
    unread = [f.name for f in dataclasses.fields(Profile) if not re.search(rf"\.{f.name}\b", code)]
    assert unread == []
