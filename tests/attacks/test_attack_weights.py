"""Equation-level tests of the pixel weights, regions, schedules and prototypes (hand-computed values)."""
import math

import pytest
import torch

from segrepro.attacks import objectives as O

LN3 = math.log(3.0)


def _logits(*pixels):
    """(1,C,1,P) logits from per-pixel logit lists."""
    return torch.tensor(pixels, dtype=torch.float32).T[None, :, None, :]


def test_segpgd_weights_first_and_last_iteration():
    logits = _logits([2.0, 0.0], [2.0, 0.0], [0.0, 2.0])  # predictions 0, 0, 1
    labels = torch.tensor([[[0, 1, 255]]])                # correct, wrong, ignored
    # t = 1: lambda = 0 -> 1 on correct, 0 on wrong
    assert torch.allclose(O.segpgd_weights(logits, labels, 1, 4), torch.tensor([[[1.0, 0.0, 0.0]]]))
    # t = T = 4: lambda = 3/8
    assert torch.allclose(O.segpgd_weights(logits, labels, 4, 4), torch.tensor([[[0.625, 0.375, 0.0]]]))
    with pytest.raises(ValueError, match="1..T"):
        O.segpgd_weights(logits, labels, 5, 4)


def test_cospgd_weights():
    logits = _logits([0.0, LN3], [0.0, LN3], [0.0, LN3])  # softmax (1/4, 3/4), ||p|| = sqrt(10)/4
    labels = torch.tensor([[[1, 0, 255]]])
    expected = torch.tensor([[[3 / math.sqrt(10), 1 / math.sqrt(10), 0.0]]])
    assert torch.allclose(O.cospgd_weights(logits, labels), expected, atol=1e-6)


def test_weighted_ce_divides_by_valid_pixels():
    logits = torch.zeros(1, 2, 1, 4)  # CE = ln 2 everywhere
    labels = torch.tensor([[[0, 1, 255, 255]]])
    weights = torch.tensor([[[1.0, 0.5, 7.0, 7.0]]])  # weights on ignored pixels must not count
    assert O.weighted_ce(logits, labels, weights).item() == pytest.approx(0.75 * math.log(2))
    assert O.weighted_ce(logits, labels).item() == pytest.approx(math.log(2))
    assert O.weighted_ce(logits, torch.full((1, 1, 4), 255)).item() == 0.0  # no valid pixel: 0, not NaN


@pytest.mark.parametrize("favour, expected", [("correct", [0.9, 0.1, 0.0]), ("wrong", [0.1, 0.9, 0.0])])
def test_transegpgd_stage1_weights(favour, expected):
    logits = _logits([2.0, 0.0], [2.0, 0.0], [2.0, 0.0])
    labels = torch.tensor([[[0, 1, 255]]])
    w = O.transegpgd_stage1_weights(logits, labels, gamma=0.1, favour=favour)
    assert torch.allclose(w, torch.tensor([expected]).view(1, 1, 3))


def test_transegpgd_stage_switch():
    logits = torch.stack([_logits([2.0, 0.0], [0.0, 2.0])[0], _logits([0.0, 2.0], [0.0, 2.0])[0]])
    labels = torch.tensor([[[0, 0]], [[0, 255]]])  # image 0: one pixel correct; image 1: all fooled
    none = torch.zeros(2, dtype=torch.bool)
    # T = 4: the half switch is at ceil(4/2) + 1 = 3
    assert O.transegpgd_stage2_flags(none, logits, labels, 2, 4, "half").tolist() == [False, True]
    assert O.transegpgd_stage2_flags(none, logits, labels, 3, 4, "half").tolist() == [True, True]
    assert O.transegpgd_stage2_flags(none, logits, labels, 3, 4, "all_fooled").tolist() == [False, True]
    # T = 5: ceil(5/2) + 1 = 4
    assert O.transegpgd_stage2_flags(none, logits, labels, 3, 5, "half").tolist() == [False, True]
    assert O.transegpgd_stage2_flags(none, logits, labels, 4, 5, "half").tolist() == [True, True]
    # sticky: once in stage 2, an image stays there
    was = torch.tensor([True, False])
    assert O.transegpgd_stage2_flags(was, logits, labels, 1, 4, "all_fooled").tolist() == [True, True]


def test_pixel_kl_value():
    clean, adv = _logits([0.0, 0.0]), _logits([0.0, LN3])  # p = (1/2, 1/2), q = (1/4, 3/4)
    assert O.pixel_kl(clean, adv).item() == pytest.approx(0.5 * math.log(4 / 3), abs=1e-6)


def test_transegpgd_stage2_split_against_per_image_mean():
    # image 0: KL = 0, k, k, and a huge KL on an ignored pixel (must not enter the mean)
    clean0 = _logits([1.0, 0.0], [0.0, 0.0], [0.0, 0.0], [10.0, 0.0])[0]
    adv0 = _logits([1.0, 0.0], [0.0, LN3], [LN3, 0.0], [0.0, 10.0])[0]
    # image 1: KL = 0 and a small KL, all below image 0's mean but one above its own mean
    clean1 = _logits([0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0])[0]
    adv1 = _logits([0.0, 0.0], [0.0, 0.1], [0.0, 0.0], [0.0, 0.0])[0]
    labels = torch.tensor([[[0, 0, 0, 255]], [[0, 0, 0, 0]]])
    w = O.transegpgd_stage2_weights(torch.stack([adv0, adv1]), torch.stack([clean0, clean1]), labels, beta=0.1)
    assert torch.allclose(w, torch.tensor([[[0.1, 0.9, 0.9, 0.0]], [[0.1, 0.9, 0.1, 0.1]]]))


def test_rppgd_regions_over_a_sequence_of_predictions():
    labels = torch.tensor([[0, 0, 0, 0, 255]])
    clean_pred = torch.tensor([[0, 0, 0, 1, 0]])
    clean_correct = (clean_pred == labels) & (labels != 255)
    ever = torch.zeros_like(clean_correct)
    # iterate 1: pixel 1 flips to wrong
    ever = O.rppgd_update(ever, clean_correct, torch.tensor([[0, 1, 0, 0, 1]]), labels)
    t, b, f = O.rppgd_regions(clean_correct, ever, labels)
    assert t.int().tolist() == [[1, 0, 1, 0, 0]] and b.int().tolist() == [[0, 1, 0, 0, 0]]
    assert f.int().tolist() == [[0, 0, 0, 1, 0]]
    # iterate 2: pixel 1 is correct again but stays in B; pixel 2 flips
    ever = O.rppgd_update(ever, clean_correct, torch.tensor([[0, 0, 1, 0, 0]]), labels)
    t, b, f = O.rppgd_regions(clean_correct, ever, labels)
    assert t.int().tolist() == [[1, 0, 0, 0, 0]] and b.int().tolist() == [[0, 1, 1, 0, 0]]
    assert f.int().tolist() == [[0, 0, 0, 1, 0]]


def test_rppgd_lambdas():
    assert O.rppgd_lambdas(1, 10) == pytest.approx((19 / 20, 0.0, 1 / 20))
    assert O.rppgd_lambdas(10, 10) == pytest.approx((0.5, 0.45, 0.05))
    for bad in [(0, 10), (11, 10), (1, 0)]:
        with pytest.raises(ValueError, match="1 <= i <= N"):
            O.rppgd_lambdas(*bad)


def _proto_case():
    # 2x2 map, D = 2: class 0 at (1,0),(1,0); class 1 at (0,1),(1,1) -> P0 = (1,0), P1 = (0.5,1)
    feats = torch.tensor([[[1.0, 1.0], [0.0, 1.0]], [[0.0, 0.0], [1.0, 1.0]]])[None]
    labels = torch.tensor([[[0, 0], [1, 1]]])
    return feats, labels


def test_prototype_loss_two_classes():
    feats, labels = _proto_case()
    mask = torch.ones(1, 2, 2, dtype=torch.bool)
    cos = 0.5 / math.sqrt(1.25)
    assert O.prototype_loss(feats, labels, mask, num_classes=2).item() == pytest.approx(2 * cos, abs=1e-6)
    # dropping pixel (1,1) from the True region gives P1 = (0,1), orthogonal to P0
    mask[0, 1, 1] = False
    assert O.prototype_loss(feats, labels, mask, num_classes=2).item() == pytest.approx(0.0, abs=1e-7)


def test_prototype_loss_zero_below_two_prototypes_and_batch_mean():
    feats, labels = _proto_case()
    only_class0 = torch.tensor([[[True, True], [False, False]]])
    assert O.prototype_loss(feats, labels, only_class0, num_classes=2).item() == 0.0
    both = torch.cat([feats, feats]), torch.cat([labels, labels])
    masks = torch.cat([torch.ones(1, 2, 2, dtype=torch.bool), only_class0])
    expected = (2 * 0.5 / math.sqrt(1.25) + 0.0) / 2
    assert O.prototype_loss(*both, masks, num_classes=2).item() == pytest.approx(expected, abs=1e-6)


def test_prototype_loss_three_classes_and_full_size_labels():
    # P0 = (1,0), P1 = (0,1), P2 = (1,1): ordered-pair cosines sum to 4/sqrt(2); C(3,2) = 3
    feats = torch.tensor([[[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [1.0, 0.0]]])[None]
    small = torch.tensor([[[0, 1], [2, 255]]])
    full = small.repeat_interleave(2, 1).repeat_interleave(2, 2)  # labels at 2x the feature size
    mask = torch.ones(1, 4, 4, dtype=torch.bool)
    value = O.prototype_loss(feats, full, mask, num_classes=3).item()
    assert value == pytest.approx(4 / math.sqrt(2) / 3, abs=1e-6)
    assert O.prototype_loss(feats, full, mask).item() == pytest.approx(value)  # num_classes inferred


def test_prototype_loss_is_differentiable_in_features():
    feats, labels = _proto_case()
    feats.requires_grad_(True)
    O.prototype_loss(feats, labels, torch.ones(1, 2, 2, dtype=torch.bool), num_classes=2).backward()
    assert feats.grad.abs().sum() > 0


def test_class_argmax_matches_argmax_with_first_index_on_ties():
    logits = torch.tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0], [-1.0, -2.0, -3.0]]).T.reshape(1, 3, 1, 3)
    assert O.class_argmax(logits).tolist() == [[[1, 0, 0]]]
    z = torch.randn(2, 5, 4, 4)
    assert torch.equal(O.class_argmax(z), z.argmax(1))


def test_cw_margin_by_hand():
    # pixel 1: y=0, logits (2, 0, 1): max other 1 - 2 = -1; pixel 2: y=0, (0, 3, 1): 3 > kappa=0 -> 0;
    # pixel 3: ignored. Mean over the 2 valid pixels: -0.5 (kappa 0); with kappa 5: (-1 + 3) / 2 = 1.
    logits = _logits([2.0, 0.0, 1.0], [0.0, 3.0, 1.0], [9.0, 0.0, 0.0])  # (1,3,1,3)
    labels = torch.tensor([[[0, 0, 255]]])
    assert O.cw_margin(logits, labels).item() == pytest.approx(-0.5)
    assert O.cw_margin(logits, labels, kappa=5.0).item() == pytest.approx(1.0)
    assert O.cw_margin(logits, torch.full_like(labels, 255)).item() == 0.0
