"""Faults of the model cache: a foreign file under a config's key must never pass for its model."""
import warnings

import pytest
import torch

import segrepro.train.core as core
from segrepro.models import build, load_checkpoint, save_checkpoint
from segrepro.train import TrainConfig, get_model, model_path, partial_path


class Squares(torch.utils.data.Dataset):
    """3 classes: grey background, one red (1) or blue (2) square per image."""

    num_classes, class_names = 3, ["background", "red", "blue"]

    def __init__(self, length):
        self.labels = torch.zeros(length, 32, 32, dtype=torch.long)
        for i in range(length):
            self.labels[i, 4 + i % 8:20 + i % 8, 6:22] = 1 + i % 2
        colours = torch.tensor([[0.5, 0.5, 0.5], [0.9, 0.1, 0.1], [0.1, 0.1, 0.9]])
        self.images = colours[self.labels].permute(0, 3, 1, 2).contiguous()

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.images[i], self.labels[i]


@pytest.fixture(autouse=True)
def world(monkeypatch, tmp_path):
    monkeypatch.setenv("SEGREPRO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(core, "load_split", lambda config, split: Squares(
        config.train_length if split == "train" else config.val_length))


@pytest.fixture
def retrains(monkeypatch):
    """Record calls to train_model instead of training; returns the list of configs trained."""
    calls = []

    def fake_train(config, device=None, progress=True):
        calls.append(config)
        return build(config.model, 3, config.width)

    monkeypatch.setattr(core, "train_model", fake_train)
    return calls


CONFIG = TrainConfig(model="psp_r18", preset="squares", width=4, epochs=1, train_length=8, val_length=4, batch_size=8)


def plant(model, key=CONFIG.key()):
    """Put ``model`` where the cache looks for CONFIG's model, with meta claiming ``key``."""
    save_checkpoint(model, model_path(CONFIG), {"key": key} if key else {})


@pytest.mark.parametrize("planted, message", [
    (lambda: build("fcn8s_vgg16", 3, 4), r"architecture 'fcn8s_vgg16' \(wanted 'psp_r18'\)"),
    (lambda: build("psp_r18", 5, 4), r"num_classes 5 \(wanted 3\)"),
    (lambda: build("psp_r18", 3, 8), r"width 8 \(wanted 4\)"),
])
def test_foreign_checkpoint_under_the_key_is_retrained(retrains, planted, message):
    plant(planted())
    with pytest.warns(UserWarning, match=message):
        get_model(CONFIG, device="cpu", progress=False)
    assert retrains == [CONFIG]


def test_checkpoint_of_another_key_is_retrained(retrains):
    plant(build("psp_r18", 3, 4), key="0123456789ab")
    with pytest.warns(UserWarning, match=rf"key '0123456789ab' \(wanted '{CONFIG.key()}'\)"):
        get_model(CONFIG, device="cpu", progress=False)
    assert retrains == [CONFIG]


def test_checkpoint_without_a_key_is_retrained(retrains):
    plant(build("psp_r18", 3, 4), key=None)
    with pytest.warns(UserWarning, match=r"key None"):
        get_model(CONFIG, device="cpu", progress=False)
    assert retrains == [CONFIG]


def test_matching_checkpoint_is_used_without_warning(retrains):
    torch.manual_seed(3)
    mine = build("psp_r18", 3, 4)
    plant(mine)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = get_model(CONFIG, device="cpu", progress=False)
    assert retrains == []
    assert all(torch.equal(a, b) for a, b in zip(got.state_dict().values(), mine.state_dict().values()))


def test_foreign_checkpoint_is_replaced_by_a_real_retrain():
    plant(build("fcn8s_vgg16", 3, 4))
    with pytest.warns(UserWarning, match="architecture 'fcn8s_vgg16'"):
        model = get_model(CONFIG, device="cpu", progress=False)
    assert model.config["name"] == "psp_r18" and model.checkpoint_meta["key"] == CONFIG.key()
    stored = load_checkpoint(model_path(CONFIG))  # the file now holds the right model
    assert stored.config["name"] == "psp_r18" and stored.checkpoint_meta["key"] == CONFIG.key()


def test_resume_checkpoint_of_another_key_is_ignored(monkeypatch):
    # a usable resume file of the same architecture, but written for another config
    other = TrainConfig(model="psp_r18", preset="squares", width=4, epochs=2, train_length=8, val_length=4,
                        batch_size=8, seed=5)
    model, optimizer, scheduler = core._fresh_state(other, 3, 1, torch.device("cpu"))
    torch.save({"format": core.PARTIAL_FORMAT, "key": other.key(), "epoch": 1, "history": [{"epoch": 1}],
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict()}, partial_path(CONFIG))
    monkeypatch.setattr(core, "_run_epoch", lambda *a, **k: 0.0)  # no real training needed
    with pytest.warns(UserWarning, match=rf"ignoring unusable resume checkpoint .*belongs to config key {other.key()}"):
        trained = core.train_model(CONFIG, device="cpu", progress=False)
    assert [h["epoch"] for h in trained.checkpoint_meta["history"]] == [1]  # its one epoch ran, from scratch


@pytest.mark.parametrize("given, message", [
    (lambda: build("fcn8s_vgg16", 3, 4), r"holds psp_r18 \(num_classes=3, width=4\), which does not match the given "
                                         r"model fcn8s_vgg16 \(num_classes=3, width=4\)"),
    (lambda: build("psp_r18", 4, 4), r"does not match the given model psp_r18 \(num_classes=4, width=4\)"),
])
def test_user_checkpoint_into_a_mismatching_model_raises(tmp_path, given, message):
    path = save_checkpoint(build("psp_r18", 3, 4), tmp_path / "mine.pt")
    with pytest.raises(ValueError, match=message):
        load_checkpoint(path, given())
