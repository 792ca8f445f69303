"""Property tests over every method and a few compositions, plus the engine's input errors."""
import pytest
import torch
from torch import nn

from segrepro.attacks import attack, available

COMPOSED = ["ds+mi", "transegpgd+mi", "segtrans+di", "transegpgd+ds", "ti+mi", "pgd+segtrans_zoom",
            "segpgd+ds+ti"]
ALL = available() + COMPOSED
SCHEDULED = ("segpgd", "transegpgd", "rp_pgd")  # objectives whose weights depend on T = steps
TOL = 1e-6  # float32 rounding of x0 +- eps


@pytest.mark.parametrize("method", ALL)
def test_within_eps_box_and_seeded(method, tiny_model, batch):
    images, labels = batch
    adv = attack(tiny_model, images, labels, method, eps=0.03, steps=3, seed=7)
    assert adv.shape == images.shape and adv.dtype == images.dtype and not adv.requires_grad
    assert (adv - images).abs().max() <= 0.03 + TOL
    assert adv.min() >= 0 and adv.max() <= 1
    assert (adv != images).any()
    assert torch.equal(adv, attack(tiny_model, images, labels, method, eps=0.03, steps=3, seed=7))


@pytest.mark.parametrize("method", ALL)
def test_snapshots(method, tiny_model, batch):
    images, labels = batch
    steps = 1 if method.startswith("fgsm") else 3
    snaps = attack(tiny_model, images, labels, method, steps=steps, snapshots=[steps, 1], seed=3)
    assert list(snaps) == sorted({1, steps})
    # the snapshot at T always equals a separate run of T steps
    assert torch.equal(snaps[steps], attack(tiny_model, images, labels, method, steps=steps, seed=3))
    if not any(s in method for s in SCHEDULED):  # schedule-free: every snapshot equals a run of that length
        assert torch.equal(snaps[1], attack(tiny_model, images, labels, method, steps=1, seed=3))


def test_snapshot_run_stops_at_the_last_snapshot(tiny_model, batch):
    images, labels = batch
    snaps = attack(tiny_model, images, labels, "segpgd", steps=6, snapshots=[2], seed=0)
    assert list(snaps) == [2]  # schedule of T = 6, run stopped after 2 iterations


def test_seed_changes_random_parts(tiny_model, batch):
    images, labels = batch
    for method in ("pgd", "ds", "segtrans"):
        a = attack(tiny_model, images, labels, method, steps=2, seed=0)
        assert not torch.equal(a, attack(tiny_model, images, labels, method, steps=2, seed=1)), method


def test_fgsm_is_one_step_of_eps(tiny_model, batch):
    images, labels = batch
    adv = attack(tiny_model, images, labels, "fgsm", eps=0.05, steps=10)
    moved = (adv - images).abs()
    inside = (images > 0.05) & (images < 0.95)  # away from the [0,1] clip every moved pixel moved by eps
    assert torch.allclose(moved[inside & (moved > 0)], torch.tensor(0.05), atol=TOL)


def test_bim_matches_a_hand_written_loop(tiny_model, batch):
    images, labels = batch
    x = images.clone()
    for _ in range(3):
        x.requires_grad_(True)
        loss = nn.functional.cross_entropy(tiny_model(x), labels, ignore_index=255)
        (g,) = torch.autograd.grad(loss, x)
        x = torch.min(torch.max(x.detach() + 0.01 * g.sign(), images - 0.03), images + 0.03).clamp(0, 1)
    assert torch.allclose(attack(tiny_model, images, labels, "bim", steps=3), x, atol=1e-6)


def test_model_modes_restored_and_no_param_grads(tiny_model, batch):
    images, labels = batch
    tiny_model.train()
    tiny_model.head.eval()
    attack(tiny_model, images, labels, "rp_pgd", steps=2)
    assert tiny_model.training and tiny_model.body.training and not tiny_model.head.training
    assert all(p.grad is None for p in tiny_model.parameters())
    assert all(p.requires_grad for p in tiny_model.parameters())


def test_l2_step_and_amp(tiny_model, batch):
    images, labels = batch
    adv = attack(tiny_model, images, labels, "pgd", eps=0.5, alpha=0.1, steps=3, step="l2")
    assert (adv - images).flatten(1).norm(dim=1).max() <= 0.5 + 1e-5
    adv = attack(tiny_model, images, labels, "segpgd", steps=2, amp=True)
    assert (adv - images).abs().max() <= 0.03 + TOL


def test_random_start_override(tiny_model, batch):
    images, labels = batch
    a = attack(tiny_model, images, labels, "pgd", steps=2, random_start=False)
    assert torch.equal(a, attack(tiny_model, images, labels, "bim", steps=2))


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(eps=0.0), ValueError, "eps"), (dict(eps=-0.1), ValueError, "eps"), (dict(eps=1.5), ValueError, "eps"),
    (dict(eps=float("nan")), ValueError, "eps"), (dict(eps="0.03"), TypeError, "eps"),
    (dict(alpha=0.0), ValueError, "alpha"), (dict(steps=0), ValueError, "steps"),
    (dict(steps=2.5), TypeError, "steps"), (dict(steps=True), TypeError, "steps"),
    (dict(snapshots=[0]), ValueError, "outside 1..steps"), (dict(steps=4, snapshots=[5]), ValueError, "outside"),
    (dict(snapshots=[]), ValueError, "at least one"), (dict(snapshots=3), TypeError, "list"),
    (dict(snapshots=[1.5]), TypeError, "ints"), (dict(seed=1.0), TypeError, "seed"),
    (dict(gamma=0.1), TypeError, "unknown parameter"),
])
def test_bad_arguments(kwargs, error, match, tiny_model, batch):
    with pytest.raises(error, match=match):
        attack(tiny_model, *batch, "bim", **kwargs)


def test_bad_images_and_labels(tiny_model, batch):
    images, labels = batch
    with pytest.raises(ValueError, match=r"\(N,3,H,W\)"):
        attack(tiny_model, images[:, :1], labels, "bim")
    with pytest.raises(TypeError, match="float"):
        attack(tiny_model, (images * 255).to(torch.uint8), labels, "bim")
    with pytest.raises(ValueError, match=r"\[0,1\]"):
        attack(tiny_model, images * 2, labels, "bim")
    with pytest.raises(TypeError, match="int64"):
        attack(tiny_model, images, labels.int(), "bim")
    with pytest.raises(ValueError, match="do not match"):
        attack(tiny_model, images, labels[:, :-1], "bim")
    bad = labels.clone()
    bad[0, 5, 5] = 7
    with pytest.raises(ValueError, match="outside 0..2"):
        attack(tiny_model, images, bad, "bim")


class HalfSize(nn.Module):
    """Breaks the contract: logits at half the input size; no forward_with_features."""

    num_classes = 3

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, stride=2, padding=1)

    def forward(self, x):
        return self.conv(x)


def test_contract_violations(batch):
    with pytest.raises(ValueError, match="violates the segrepro contract"):
        attack(HalfSize(), *batch, "bim")
    with pytest.raises(TypeError, match="forward_with_features"):
        attack(HalfSize(), *batch, "rp_pgd")


class Plain(nn.Module):
    """A contract-abiding model without the ``num_classes`` attribute."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x)


def test_model_without_num_classes_and_no_valid_pixels(tiny_model, batch):
    images, labels = batch
    a = attack(Plain(tiny_model), images, labels, "cospgd", steps=2)
    assert torch.equal(a, attack(tiny_model, images, labels, "cospgd", steps=2))
    adv = attack(tiny_model, images, torch.full_like(labels, 255), "transegpgd", steps=2)
    assert torch.equal(adv, images)  # nothing to attack: zero gradient, no NaN
