"""Adversarial training: the half-clean/half-adversarial batch, names and cache keys, the training
attack's inputs, robustness direction and resume (tiny per-pixel task of ``_at_toys``)."""
import dataclasses

import pytest
import torch

import segrepro.train.adversarial as adv_mod
import segrepro.train.core as core
from _at_toys import ToyNet, ToyPixels, install
from segrepro.run.battery import EvalAttack, robustness_table
from segrepro.train import TrainConfig, model_path, partial_path, train_model
from segrepro.train.adversarial import AT_RECIPE, adversarial_batch, at_config, at_name, split_sizes

torch.set_num_threads(1)


def toy_config(**kw):
    base = dict(model="psp_r18", preset="toy", epochs=3, train_length=48, val_length=32, batch_size=8, lr=0.1)
    return TrainConfig(**{**base, **kw})


def at_toy(**kw):
    return toy_config(**{"at_method": "pgd", "at_steps": 2, **kw})


# ---------------------------------------------------------------- the batch


@pytest.mark.parametrize("batch, expected", [(8, (4, 4)), (5, (3, 2)), (2, (1, 1))])
def test_split_sizes(batch, expected):
    assert split_sizes(batch) == expected


@pytest.mark.parametrize("n", [6, 5])
def test_first_half_is_untouched_and_second_half_is_adversarial_within_eps(n):
    torch.manual_seed(0)
    model = ToyNet()
    x, y = ToyPixels(n, seed=3).tensors()
    out, labels = adversarial_batch(model, x, y, at_toy(), torch.Generator().manual_seed(0))
    n_clean = n - n // 2
    assert out.shape == x.shape and labels is y
    assert torch.equal(out[:n_clean], x[:n_clean])
    delta = out[n_clean:] - x[n_clean:]
    assert delta.abs().max() <= 0.03 + 1e-6
    assert (delta.flatten(1).abs().amax(1) > 0.005).all()  # every adversarial image moved
    assert ((out >= 0) & (out <= 1)).all()


def test_attack_runs_in_eval_mode_then_the_mode_is_restored_and_no_grad_accumulates():
    model = ToyNet().train()
    x, y = ToyPixels(4, seed=3).tensors()
    adversarial_batch(model, x, y, at_toy(at_steps=3), torch.Generator().manual_seed(0))
    assert model.modes and not any(model.modes)  # every attack forward saw eval mode
    assert model.training
    assert all(p.grad is None for p in model.parameters())
    model.eval()
    adversarial_batch(model, x, y, at_toy(), None)
    assert not model.training


def test_seed_comes_from_the_epoch_generator():
    model = ToyNet()
    x, y = ToyPixels(4, seed=3).tensors()
    a = adversarial_batch(model, x, y, at_toy(), torch.Generator().manual_seed(5))[0]
    b = adversarial_batch(model, x, y, at_toy(), torch.Generator().manual_seed(5))[0]
    c = adversarial_batch(model, x, y, at_toy(), torch.Generator().manual_seed(6))[0]
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_batch_errors():
    x, y = ToyPixels(2, seed=3).tensors()
    with pytest.raises(ValueError, match="at least 2 images"):
        adversarial_batch(ToyNet(), x[:1], y[:1], at_toy())
    with pytest.raises(ValueError, match="unknown training attack 'fgsmx'.*rp_pgd"):
        adversarial_batch(ToyNet(), x, y, toy_config(at_method="fgsmx"))


# ---------------------------------------------------------------- names and configs


@pytest.mark.parametrize("method, steps, name", [("pgd", 3, "PGD3-AT"), ("segpgd", 3, "SegPGD3-AT"),
                                                 ("cospgd", 7, "CosPGD7-AT"), ("rp_pgd", 3, "RP-PGD3-AT"),
                                                 ("RP-PGD", 7, "RP-PGD7-AT"), ("SegPGD", 7, "SegPGD7-AT")])
def test_at_name_follows_the_papers(method, steps, name):
    assert at_name(at_config(toy_config(), method, steps=steps)) == name


def test_at_name_of_clean_and_of_a_checkpoint_record():
    assert at_name(toy_config()) == "Standard"
    assert at_name({"at_method": "cospgd", "at_steps": 3}) == "CosPGD3-AT"
    assert at_name({"at_method": None}) == "Standard"


def test_at_config_fine_tunes_from_the_clean_key_with_the_recipe():
    clean = toy_config()
    cfg = at_config(clean, "SegPGD", steps=7)
    assert cfg.at_method == "segpgd" and cfg.at_steps == 7 and cfg.init_from == clean.key()
    assert all(getattr(cfg, k) == v for k, v in AT_RECIPE.items())
    assert (cfg.model, cfg.preset, cfg.lr, cfg.at_eps, cfg.at_alpha) == ("psp_r18", "toy", 0.1, 0.03, 0.01)
    assert at_config(clean, "pgd", epochs=5, lr=0.5).epochs == 5


def test_cache_keys_distinguish_at_configs():
    clean, other = toy_config(), toy_config(seed=1)
    configs = [clean, at_config(clean, "pgd"), at_config(clean, "segpgd"), at_config(clean, "cospgd"),
               at_config(clean, "rp_pgd"), at_config(clean, "pgd", steps=7), at_config(clean, "pgd", at_eps=0.06),
               at_config(clean, "pgd", at_alpha=0.005),
               dataclasses.replace(at_config(clean, "pgd"), init_from=other.key())]
    assert len({c.key() for c in configs}) == len(configs)
    assert len({model_path(c) for c in configs}) == len(configs)
    assert at_config(clean, "pgd").key() == at_config(clean, "PGD").key()  # stable, name-independent


def test_at_config_errors():
    clean = toy_config()
    with pytest.raises(ValueError, match="clean base config.*PGD3-AT"):
        at_config(at_config(clean, "pgd"), "pgd")
    with pytest.raises(ValueError, match="unknown training attack 'mifgsm'"):
        at_config(clean, "mifgsm")
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        at_config(clean, "pgd", steps=0)
    with pytest.raises(ValueError, match=r"unknown TrainConfig field\(s\) \['epoch'\]"):
        at_config(clean, "pgd", epoch=2)
    with pytest.raises(TypeError, match="must be a name"):
        at_config(clean, 3)


# ---------------------------------------------------------------- training runs


@pytest.mark.slow
def test_training_attack_only_sees_training_images(monkeypatch, tmp_path):
    install(monkeypatch, tmp_path)
    seen = []
    real = adv_mod.attack

    def spy(model, images, labels, method, **kw):
        seen.append(images.clone())
        return real(model, images, labels, method, **kw)

    monkeypatch.setattr(adv_mod, "attack", spy)
    cfg = at_toy(epochs=2, train_length=16)
    train_model(cfg, progress=False)
    train_x, _ = core.load_split(cfg, "train").tensors()
    val_x, _ = core.load_split(cfg, "val").tensors()
    allowed = {t.numpy().tobytes() for t in torch.cat([train_x, train_x.flip(-1)])}
    val = {t.numpy().tobytes() for t in torch.cat([val_x, val_x.flip(-1)])}
    attacked = [img.numpy().tobytes() for batch in seen for img in batch]
    assert len(attacked) == 2 * (16 // 8) * 4  # epochs x steps x adversarial half
    assert all(a in allowed for a in attacked)
    assert not any(a in val for a in attacked)


@pytest.mark.slow
def test_adversarial_fine_tuning_makes_the_model_more_robust(monkeypatch, tmp_path):
    install(monkeypatch, tmp_path)
    clean_cfg = toy_config()
    clean = train_model(clean_cfg, progress=False)
    at = train_model(at_config(clean_cfg, "pgd", steps=3, epochs=3, lr=0.1, train_length=48), progress=False)
    assert at.checkpoint_meta["train_config"]["init_from"] == clean_cfg.key()
    x, y = core.load_split(clean_cfg, "val").tensors()
    table = robustness_table({"clean": clean, "at": at}, x, y,
                             [EvalAttack("Clean", None), EvalAttack("PGD", "pgd", (10,))]).set_index(["model", "attack"])
    # the toy task: the clean model uses the perfect, non-robust channel (all pixels flip under PGD);
    # AT keeps the ~80 % of pixels the robust channel gets right (mIoU about 0.67)
    assert table.loc[("at", "PGD"), "miou"] >= table.loc[("clean", "PGD"), "miou"] + 0.3
    assert table.loc[("at", "PGD"), "training_attack"] == "PGD3-AT"


@pytest.mark.slow
def test_interrupted_at_run_resumes_from_its_last_epoch(monkeypatch, tmp_path):
    install(monkeypatch, tmp_path)
    cfg = at_toy(epochs=3, train_length=16)
    reference = {k: v.clone() for k, v in train_model(cfg, progress=False).state_dict().items()}
    model_path(cfg).unlink()

    class Killed(Exception):
        pass

    real_evaluate, calls = core.evaluate, []

    def dies_in_epoch_2(*args, **kw):  # evaluation follows each epoch, before its checkpoint is saved
        calls.append(1)
        if len(calls) == 2:
            raise Killed
        return real_evaluate(*args, **kw)

    monkeypatch.setattr(core, "evaluate", dies_in_epoch_2)
    with pytest.raises(Killed):
        train_model(cfg, progress=False)
    assert partial_path(cfg).is_file() and not model_path(cfg).is_file()

    monkeypatch.setattr(core, "evaluate", real_evaluate)
    attacked = []
    real_batch = adv_mod.adversarial_batch
    monkeypatch.setattr(adv_mod, "adversarial_batch", lambda *a, **k: attacked.append(1) or real_batch(*a, **k))
    resumed = train_model(cfg, progress=False)
    assert len(attacked) == 2 * (16 // 8)  # only epochs 2 and 3 ran
    assert [h["epoch"] for h in resumed.checkpoint_meta["history"]] == [1, 2, 3]
    state = resumed.state_dict()
    assert all(torch.equal(state[k], reference[k]) for k in reference)
    assert not partial_path(cfg).is_file()
