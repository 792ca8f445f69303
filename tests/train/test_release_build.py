"""The shipped releases match today's code, data and recipes; a rebuild is resumable."""
import pytest

from segrepro.models import release
from segrepro.train import release as recipes
from segrepro.train.classifier import ClassifierConfig


@pytest.fixture(scope="module")
def manifest():
    models = release.read_manifest()
    if not models:
        pytest.fail("segrepro/weights/manifest.json is missing: run `segrepro train --release`")
    return models


def test_every_recipe_is_released_with_its_current_key(manifest):
    stale = {name: (manifest.get(name, {}).get("key"), cfg.key()) for name, cfg in recipes.configs().items()
             if manifest.get(name, {}).get("key") != cfg.key()}
    assert not stale, (f"released weights are stale for {sorted(stale)} (manifest key, current key): {stale}. "
                       "A model, the data generator or a recipe changed: run `segrepro train --release --only "
                       + " ".join(sorted(stale)) + "` and commit segrepro/weights/")


def test_manifest_records_current_versions_and_intact_files(manifest):
    versions = recipes.code_versions()
    for name, entry in manifest.items():
        assert {k: entry[k] for k in versions} == versions, f"{name} was trained with other code/data versions"
        release.verified_path(name)  # raises on a missing, modified or truncated file
        assert entry["train_seconds"] > 0 and entry["hardware"] and entry["commit"]


def test_released_models_meet_their_targets(manifest):
    clean = {n: e["clean_miou_512"] for n, e in manifest.items() if "clean_miou_512" in e and "@" not in n}
    assert min(clean.values()) >= 0.55 and sum(clean.values()) / len(clean) >= 0.60, clean
    for name, entry in manifest.items():
        if "@" not in name:
            continue
        base = manifest[name.split("@")[0] + "/" + entry["preset"]]
        assert entry["clean_miou_512"] >= 0.70 * base["clean_miou_512"], name
        assert entry["pgd20_miou_256"] >= base["pgd20_miou_256"] + 0.10, name


def test_total_size_is_at_most_40_mb(manifest):
    assert sum(e["bytes"] for e in manifest.values()) <= 40e6


def test_embedded_profile_uses_only_releases():
    from segrepro.run.profiles import get_profile
    from segrepro.studies.dynamic_scaling.classification import CLASSIFIERS, ClsSettings
    from segrepro.run.zoo import train_config

    profile = get_profile("embedded")
    names = [(preset, m) for preset in profile.presets for m in profile.models]
    names += [(profile.presets[0], m) for m in profile.at_models]
    missing = [n for n in names if release.find(train_config(profile, *n).key()) is None]
    settings = ClsSettings.from_profile(profile)
    missing += [n for n in CLASSIFIERS if release.find(settings.config(n).key()) is None]
    assert not missing, f"the embedded profile would train {missing}"


def test_rebuild_is_resumable_and_writes_a_verified_manifest(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGREPRO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(recipes.CLEAN_RECIPE, "epochs", 1)
    monkeypatch.setitem(recipes.CLEAN_RECIPE, "train_length", 32)
    monkeypatch.setitem(recipes.CLEAN_RECIPE, "val_length", 16)
    monkeypatch.setitem(recipes.CLEAN_RECIPE, "width", 4)
    monkeypatch.setitem(recipes.CLEAN_RECIPE, "size", 64)
    monkeypatch.setitem(recipes.AT_RECIPE, "train_length", 16)
    monkeypatch.setitem(recipes.AT_RECIPE, "epochs", 1)
    monkeypatch.setattr(recipes, "EVAL_IMAGES", 16)
    monkeypatch.setattr(recipes, "ROBUST_IMAGES", 8)
    names = ["psp_r18/shapes", "psp_r18@PGD3-AT/shapes"]
    rows = recipes.rebuild(only=names, device="cpu", folder=tmp_path / "w", progress=False)
    assert [r["name"] for r in rows] == names and all(0 <= r["clean"] <= 1 for r in rows)
    assert rows[1]["pgd20"] is not None
    for name in names:
        release.verified_path(name, tmp_path / "w")
    built = []
    monkeypatch.setattr(recipes, "build_one", lambda name, *a, **k: built.append(name))
    recipes.rebuild(only=names, device="cpu", folder=tmp_path / "w", progress=False)
    assert built == []  # a rerun of the same rebuild skips what it finished


def test_unknown_release_name_lists_valid_ones():
    with pytest.raises(ValueError, match="psp_r18/shapes"):
        recipes.rebuild(only=["nope/shapes"])
    assert isinstance(recipes.configs()["r18_cls/shapes"], ClassifierConfig)
