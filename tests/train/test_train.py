"""Training: cache hit, resume after a kill, determinism, adversarial hook (tiny fake dataset)."""
import sys
import types

import pytest
import torch

import segrepro.train.core as core
from segrepro.train import TrainConfig, get_model, model_path, partial_path, train_model

COLOURS = torch.tensor([[0.1, 0.1, 0.1], [0.9, 0.2, 0.2], [0.2, 0.3, 0.9]])


class Rectangles(torch.utils.data.Dataset):
    """Dark background (class 0) with one red (1) or blue (2) rectangle, seeded per index."""

    num_classes, class_names = 3, ["background", "red", "blue"]

    def __init__(self, length, size=32, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.labels = torch.zeros(length, size, size, dtype=torch.long)
        for i in range(length):
            y0, x0 = torch.randint(0, size // 2, (2,), generator=g).tolist()
            h, w = torch.randint(size // 4, size // 2, (2,), generator=g).tolist()
            self.labels[i, y0:y0 + h, x0:x0 + w] = 1 + i % 2
        self.images = COLOURS[self.labels].permute(0, 3, 1, 2).contiguous()

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.images[i], self.labels[i]


@pytest.fixture(autouse=True)
def tiny_world(monkeypatch, tmp_path):
    monkeypatch.setenv("SEGREPRO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(core, "load_split", lambda config, split: Rectangles(
        config.train_length if split == "train" else config.val_length, seed=config.data_seed + (split == "val")))


def tiny(**kw):
    base = dict(model="psp_r18", preset="rects", width=4, epochs=2, train_length=16, val_length=8, batch_size=8)
    return TrainConfig(**{**base, **kw})


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def assert_same(a, b):
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_key_is_stable_short_and_sees_every_field():
    assert tiny().key() == tiny().key()
    assert len(tiny().key()) == 12 and int(tiny().key(), 16) >= 0
    keys = {tiny().key(), tiny(seed=1).key(), tiny(lr=1e-3).key(), tiny(at_method="pgd").key(),
            tiny(scale_aug=True).key(), tiny(init_from="abc").key()}
    assert len(keys) == 6


def test_config_rejects_unknown_model_and_bad_numbers():
    with pytest.raises(ValueError, match="valid names.*psp_r18"):
        tiny(model="resnet9000")
    with pytest.raises(ValueError, match="epochs"):
        tiny(epochs=0)


@pytest.mark.slow
def test_train_caches_final_checkpoint_with_meta():
    config = tiny()
    model = train_model(config, device="cpu", progress=False)
    meta = model.checkpoint_meta
    assert not model.training and model.num_classes == 3
    assert model_path(config).is_file() and not partial_path(config).exists()
    assert [h["epoch"] for h in meta["history"]] == [1, 2]
    assert meta["preset"] == "rects" and meta["train_config"]["seed"] == 0 and meta["key"] == config.key()
    assert 0.0 <= meta["val_miou"] <= 1.0


@pytest.mark.slow
def test_second_get_model_hits_the_cache(monkeypatch):
    config = tiny(epochs=1)
    first = get_model(config, device="cpu", progress=False)

    def no_training(*args, **kwargs):
        raise AssertionError("get_model retrained a cached model")

    monkeypatch.setattr(core, "train_model", no_training)
    second = get_model(config, device="cpu", progress=False)
    assert_same(weights(first), weights(second))
    assert second.checkpoint_meta["history"] == first.checkpoint_meta["history"]


@pytest.mark.slow
def test_corrupt_cache_entry_is_retrained():
    config = tiny(epochs=1)
    model_path(config).write_bytes(b"broken")
    with pytest.warns(UserWarning, match="corrupt checkpoint"):
        model = get_model(config, device="cpu", progress=False)
    assert model.checkpoint_meta["key"] == config.key()


@pytest.mark.slow
def test_same_seed_same_weights_other_seed_differs():
    config = tiny(epochs=1)
    a = weights(train_model(config, device="cpu", progress=False))
    b = weights(train_model(config, device="cpu", progress=False))
    c = weights(train_model(tiny(epochs=1, seed=1), device="cpu", progress=False))
    assert_same(a, b)
    assert not torch.equal(a["classifier.weight"], c["classifier.weight"])


@pytest.mark.slow
def test_resume_after_kill_continues_from_the_next_epoch(monkeypatch, tmp_path):
    config = tiny(epochs=2)
    uninterrupted = weights(train_model(config, device="cpu", progress=False))
    monkeypatch.setenv("SEGREPRO_CACHE", str(tmp_path / "second"))

    real_epoch, ran = core._run_epoch, []

    def killed_in_epoch_2(*args):
        if args[5] == 1:  # the 0-based epoch index
            raise KeyboardInterrupt
        return real_epoch(*args)

    monkeypatch.setattr(core, "_run_epoch", killed_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        train_model(config, device="cpu", progress=False)
    assert partial_path(config).is_file() and not model_path(config).exists()

    monkeypatch.setattr(core, "_run_epoch", lambda *args: ran.append(args[5]) or real_epoch(*args))
    resumed = train_model(config, device="cpu", progress=False)
    assert ran == [1]
    assert [h["epoch"] for h in resumed.checkpoint_meta["history"]] == [1, 2]
    assert_same(uninterrupted, weights(resumed))


@pytest.mark.slow
def test_adversarial_batches_go_through_the_at_hook(monkeypatch):
    calls = []

    def adversarial_batch(model, images, labels, config, generator):
        calls.append((images.shape, config.at_method, isinstance(generator, torch.Generator)))
        return images.flip(0), labels.flip(0)

    monkeypatch.setitem(sys.modules, "segrepro.train.adversarial",
                        types.SimpleNamespace(adversarial_batch=adversarial_batch))
    train_model(tiny(epochs=1, at_method="pgd"), device="cpu", progress=False)
    assert calls == [(torch.Size([8, 3, 32, 32]), "pgd", True)] * 2


@pytest.mark.slow
def test_init_from_a_cached_clean_model():
    clean = tiny(epochs=1)
    start = weights(train_model(clean, device="cpu", progress=False))
    tuned = weights(train_model(tiny(epochs=1, lr=1e-12, init_from=clean.key()), device="cpu", progress=False))
    assert torch.allclose(start["classifier.weight"], tuned["classifier.weight"], atol=1e-6)
    with pytest.raises(FileNotFoundError, match="init_from='nope'"):
        train_model(tiny(init_from="nope"), device="cpu", progress=False)


def test_flip_moves_the_label_with_the_image():
    data = Rectangles(4)
    images, labels = core._augment(data.images, data.labels, False, torch.Generator().manual_seed(3))
    assert torch.equal(COLOURS[labels].permute(0, 3, 1, 2), images)
    assert not torch.equal(images, data.images)  # seed 3 flips at least one of the four


def test_scale_augmentation_keeps_multiples_of_8_and_label_values():
    data = Rectangles(4)
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        images, labels = core._augment(data.images, data.labels, True, g)
        assert images.shape[-1] % 8 == 0 and images.shape[-2:] == labels.shape[-2:]
        assert 24 <= images.shape[-1] <= 40 and set(labels.unique().tolist()) <= {0, 1, 2}
        assert 0 <= images.min() and images.max() <= 1


@pytest.mark.slow
def test_unusable_resume_checkpoint_is_ignored_with_a_warning():
    config = tiny(epochs=1)
    reference = weights(train_model(config, device="cpu", progress=False))
    model_path(config).unlink()
    partial_path(config).write_bytes(b"half a checkpoint")
    with pytest.warns(UserWarning, match="ignoring unusable resume checkpoint"):
        model = train_model(config, device="cpu", progress=False)
    assert_same(reference, weights(model))  # trained from scratch, same seed
