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


@pytest.mark.skipif(not torch.cuda.is_available(), reason="host-sync detection needs CUDA")
@pytest.mark.parametrize("method", ["pgd", "segpgd", "cospgd", "transegpgd", "rp_pgd", "ds+mi", "segtrans+di"])
def test_no_host_sync_inside_the_loop(method, tiny_model, batch):
    import warnings
    model = tiny_model.cuda()
    images, labels = (t.cuda() for t in batch)

    def syncs(steps):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                attack(model, images, labels, method, steps=steps)
            finally:
                torch.cuda.set_sync_debug_mode("default")
        return sum("synchroniz" in str(w.message) for w in caught)

    assert syncs(6) == syncs(1)  # only the entry checks sync; the count does not grow with steps


class Counting(nn.Module):
    """Counts forwards of a SegModel (both entry points)."""

    def __init__(self, inner):
        super().__init__()
        self.inner, self.num_classes, self.calls = inner, inner.num_classes, 0

    def forward(self, x):
        self.calls += 1
        return self.inner(x)

    def forward_with_features(self, x):
        self.calls += 1
        return self.inner.forward_with_features(x)


@pytest.mark.parametrize("method, kwargs, forwards", [
    ("transegpgd", {}, 3),                       # x_0 is clean: the first forward gives the clean logits
    ("transegpgd", dict(random_start=True), 4),  # one extra no-grad clean forward
    ("transegpgd+ds", {}, 4),
    ("rp_pgd", {}, 4), ("rp_pgd", dict(random_start=False), 3), ("segpgd", {}, 3),
])
def test_forward_count(method, kwargs, forwards, tiny_model, batch):
    model = Counting(tiny_model)
    attack(model, *batch, method, steps=3, **kwargs)
    assert model.calls == forwards


def _reference(model, images, labels, weights_fn, steps):
    """BIM with a hand-composed weighted CE, written from the spec."""
    from segrepro.attacks import objectives as O
    x = images.clone()
    for t in range(1, steps + 1):
        x.requires_grad_(True)
        logits = model(x)
        loss = O.weighted_ce(logits, labels, weights_fn(logits.detach(), t))
        (g,) = torch.autograd.grad(loss, x)
        x = torch.min(torch.max(x.detach() + 0.01 * g.sign(), images - 0.03), images + 0.03).clamp(0, 1)
    return x


def test_segpgd_and_transegpgd_match_hand_composed_loops(tiny_model, batch):
    from segrepro.attacks import objectives as O
    images, labels = batch
    T = 4
    ref = _reference(tiny_model, images, labels, lambda z, t: O.segpgd_weights(z, labels, t, T), T)
    assert torch.allclose(attack(tiny_model, images, labels, "segpgd", steps=T, random_start=False), ref, atol=1e-6)

    with torch.no_grad():
        clean = tiny_model(images)
    state = {"stage2": torch.zeros(len(images), dtype=torch.bool)}

    def transeg(z, t):
        state["stage2"] = O.transegpgd_stage2_flags(state["stage2"], z, labels, t, T, "half")
        w1 = O.transegpgd_stage1_weights(z, labels, 0.1, "correct")
        w2 = O.transegpgd_stage2_weights(z, clean, labels, 0.1)
        return torch.where(state["stage2"][:, None, None], w2, w1)

    ref = _reference(tiny_model, images, labels, transeg, T)
    assert torch.allclose(attack(tiny_model, images, labels, "transegpgd", steps=T), ref, atol=1e-6)


def test_rppgd_region_part_matches_hand_composed_loop(tiny_model, batch):
    from segrepro.attacks import objectives as O
    images, labels = batch
    N = 3
    with torch.no_grad():
        clean_correct = (tiny_model(images).argmax(1) == labels) & (labels != 255)
    state = {"ever": torch.zeros_like(clean_correct)}

    def region(z, i):
        state["ever"] = O.rppgd_update(state["ever"], clean_correct, z.argmax(1), labels)
        t_mask, b_mask, f_mask = O.rppgd_regions(clean_correct, state["ever"], labels)
        l1, l2, l3 = O.rppgd_lambdas(i, N)
        return l1 * t_mask + l2 * b_mask + l3 * f_mask

    ref = _reference(tiny_model, images, labels, region, N)
    adv = attack(tiny_model, images, labels, "rp_pgd", steps=N, random_start=False, rp_beta=1.0)
    assert torch.allclose(adv, ref, atol=1e-6)


def test_rppgd_full_loss_matches_hand_composed_loop(tiny_model, batch):
    from segrepro.attacks import objectives as O
    images, labels = batch
    N, beta = 3, 0.75
    with torch.no_grad():
        clean_correct = (tiny_model(images).argmax(1) == labels) & (labels != 255)
    ever = torch.zeros_like(clean_correct)
    x = images.clone()
    for i in range(1, N + 1):
        x.requires_grad_(True)
        logits, feats = tiny_model.forward_with_features(x)
        ever = O.rppgd_update(ever, clean_correct, logits.argmax(1), labels)
        t_mask, b_mask, f_mask = O.rppgd_regions(clean_correct, ever, labels)
        l1, l2, l3 = O.rppgd_lambdas(i, N)
        l_r = O.weighted_ce(logits, labels, l1 * t_mask + l2 * b_mask + l3 * f_mask)
        l_p = O.prototype_loss(feats, labels, t_mask, num_classes=3)
        (g,) = torch.autograd.grad(beta * l_r + (1 - beta) * l_p, x)
        x = torch.min(torch.max(x.detach() + 0.01 * g.sign(), images - 0.03), images + 0.03).clamp(0, 1)
    adv = attack(tiny_model, images, labels, "rp_pgd", steps=N, random_start=False)
    assert torch.allclose(adv, x, atol=1e-6)
