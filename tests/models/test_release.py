"""Loading released models: sha256-verified, weights_only, clear errors for tampered or missing files."""
import json

import pytest
import torch

from segrepro.models import build, release, save_checkpoint
from segrepro.train import TrainConfig, get_model


def _release(folder, name="psp_r18/shapes", key="k1"):
    torch.manual_seed(0)
    model = build("psp_r18", num_classes=10, width=4).eval()
    path = save_checkpoint(model, folder / "m.pt", {"preset": "shapes"})
    entry = {"name": name, "key": key, "file": "m.pt", "sha256": release.sha256(path)}
    (folder / "manifest.json").write_text(json.dumps({"models": {name: entry}}))
    return model, path


def test_load_verifies_and_returns_eval_model(tmp_path):
    model, _ = _release(tmp_path)
    loaded = release.load("psp_r18/shapes", folder=tmp_path)
    x = torch.rand(1, 3, 32, 32)
    assert not loaded.training and torch.equal(loaded(x), model(x))
    assert loaded.checkpoint_meta["release"] == "psp_r18/shapes"
    assert release.available(tmp_path) == ["psp_r18/shapes"] and release.find("k1", tmp_path) == "psp_r18/shapes"


def test_tampered_file_is_an_error_naming_it(tmp_path):
    _, path = _release(tmp_path)
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"psp_r18/shapes.*m\.pt.*sha256"):
        release.load("psp_r18/shapes", folder=tmp_path)


def test_truncated_file_is_an_error(tmp_path):
    _, path = _release(tmp_path)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ValueError, match="modified or truncated"):
        release.load("psp_r18/shapes", folder=tmp_path)


def test_missing_file_and_unknown_name(tmp_path):
    _, path = _release(tmp_path)
    path.unlink()
    with pytest.raises(FileNotFoundError, match="m.pt is missing"):
        release.load("psp_r18/shapes", folder=tmp_path)
    with pytest.raises(ValueError, match="released: psp_r18/shapes"):
        release.load("dlv3_r18/shapes", folder=tmp_path)


def test_unreadable_manifest(tmp_path):
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ValueError, match="manifest.*unreadable"):
        release.available(tmp_path)


def test_get_model_returns_the_release_when_the_config_matches(tmp_path, monkeypatch):
    config = TrainConfig(model="psp_r18", preset="shapes", width=4, epochs=1, train_length=16)
    model, _ = _release(tmp_path, key=config.key())
    monkeypatch.setattr(release, "WEIGHTS_DIR", tmp_path)
    monkeypatch.setenv("SEGREPRO_CACHE", str(tmp_path / "cache"))
    got = get_model(config, device="cpu", progress=False)  # would train (and take seconds) without the release
    assert got.checkpoint_meta["release"] == "psp_r18/shapes"
    assert not (tmp_path / "cache" / "models").exists() or not any((tmp_path / "cache" / "models").glob("*.pt"))


def test_get_model_refuses_a_tampered_release_rather_than_retraining(tmp_path, monkeypatch):
    config = TrainConfig(model="psp_r18", preset="shapes", width=4, epochs=1, train_length=16)
    _, path = _release(tmp_path, key=config.key())
    path.write_bytes(path.read_bytes()[:-10])
    monkeypatch.setattr(release, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(ValueError, match="modified or truncated"):
        get_model(config, device="cpu", progress=False)
