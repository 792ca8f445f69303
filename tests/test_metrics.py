"""Metric values on hand-computed confusion matrices (spec/methods.md, Metrics)."""
import math

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from segrepro.metrics import (Counts, attack_success_rate, confusion_matrix, evaluate, miou, mis_ratio, per_class_iou,
                              pixel_accuracy, predict, relative_drop)
from segrepro.models.wrap import SegModel

# 2x3 image, 3 classes, one ignored pixel. Valid pixels (target -> pred): 0->0, 0->1, 1->1, 1->2, 2->2.
TARGET = torch.tensor([[0, 0, 1], [1, 2, 255]])
PRED = torch.tensor([[0, 1, 1], [2, 2, 0]])
CONF = [[1, 1, 0],
        [0, 1, 1],
        [0, 0, 1]]
# IoU_c = TP / (row + col - TP): class 0: 1/(2+1-1), class 1: 1/(2+2-1), class 2: 1/(1+2-1)
IOU = [1 / 2, 1 / 3, 1 / 2]


def test_confusion_matrix_rows_are_targets():
    conf = confusion_matrix(PRED, TARGET, 3)
    assert conf.dtype == torch.int64
    assert conf.tolist() == CONF


def test_per_class_iou_miou_accuracy():
    conf = torch.tensor(CONF)
    assert per_class_iou(conf).tolist() == pytest.approx(IOU)
    assert miou(conf) == pytest.approx(4 / 9)
    assert pixel_accuracy(conf) == pytest.approx(3 / 5)


def test_absent_class_is_nan_and_left_out_of_the_mean():
    conf = confusion_matrix(PRED, TARGET, 4)  # class 3 neither in target nor predicted
    iou = per_class_iou(conf)
    assert math.isnan(iou[3]) and miou(conf) == pytest.approx(4 / 9)


def test_class_only_predicted_counts_as_zero_iou():
    conf = torch.tensor([[2, 1], [0, 0]])  # class 1 never true, predicted once: union 1, IoU 0
    assert per_class_iou(conf).tolist() == pytest.approx([2 / 3, 0.0])
    assert miou(conf) == pytest.approx(1 / 3)


def test_mis_ratio_counts_valid_pixels():
    assert mis_ratio(PRED, TARGET) == pytest.approx(2 / 5)


def test_attack_success_rate_and_relative_drop():
    target = torch.tensor([0, 1, 2, 255, 1])
    clean = torch.tensor([0, 1, 0, 0, 1])  # correct at 0, 1, 4 (3 is ignored)
    adv = torch.tensor([1, 1, 0, 1, 2])    # wrong again at 0 and 4
    assert attack_success_rate(clean, adv, target) == pytest.approx(2 / 3)
    assert relative_drop(0.3, 0.6) == pytest.approx(0.5)
    assert math.isnan(relative_drop(0.1, 0.0))


def test_all_ignored_gives_nan():
    target = torch.full((2, 2), 255)
    assert math.isnan(mis_ratio(target.clone(), target))
    assert math.isnan(miou(confusion_matrix(target.clone(), target, 3)))


@pytest.mark.parametrize("pred, target, err, match", [
    (torch.zeros(2, 3, dtype=torch.long), torch.zeros(3, 2, dtype=torch.long), ValueError, "does not match"),
    (torch.zeros(2, 2), torch.zeros(2, 2, dtype=torch.long), TypeError, "integer class ids"),
    (torch.zeros(2, 2, dtype=torch.long), torch.full((2, 2), 5), ValueError, "target holds class ids"),
    (torch.full((2, 2), 3), torch.zeros(2, 2, dtype=torch.long), ValueError, "pred holds class ids"),
])
def test_confusion_matrix_bad_input(pred, target, err, match):
    with pytest.raises(err, match=match):
        confusion_matrix(pred, target, 3)


class RedThreshold(SegModel):
    """Predicts class 1 where the red channel exceeds its ImageNet mean, else class 0."""

    def __init__(self):
        super().__init__(num_classes=2, config={"name": "red", "width": 0})
        self.scale = torch.nn.Parameter(torch.ones(()))

    def _run(self, x):
        red = x[:, :1] * self.scale
        return torch.cat([-red, red], 1), red


# red = [[1, 0], [1, 0]] -> pred [[1, 0], [1, 0]]; labels [[1, 0], [0, 255]]
IMAGES = torch.zeros(1, 3, 2, 2)
IMAGES[0, 0, :, 0] = 1.0
LABELS = torch.tensor([[[1, 0], [0, 255]]])
# valid pixels: 1->1, 0->0, 0->1: conf [[1, 1], [0, 1]]; IoU0 = 1/2, IoU1 = 1/2; accuracy 2/3


def test_predict_is_argmax_and_restores_mode():
    model = RedThreshold().train()
    assert predict(model, IMAGES).tolist() == [[[1, 0], [1, 0]]]
    assert model.training


@pytest.mark.parametrize("data", [(IMAGES, LABELS), TensorDataset(IMAGES, LABELS),
                                  DataLoader(TensorDataset(IMAGES, LABELS), batch_size=1)])
def test_evaluate_record(data):
    record = evaluate(RedThreshold(), data)
    assert record["miou"] == pytest.approx(0.5)
    assert record["pixel_accuracy"] == pytest.approx(2 / 3)
    assert record["mis_ratio"] == pytest.approx(1 / 3)
    assert record["per_class_iou"] == pytest.approx([0.5, 0.5])
    assert (record["n_images"], record["n_pixels"]) == (1, 3)


@pytest.mark.parametrize("images, labels, err, match", [
    (IMAGES * 2, LABELS, ValueError, r"\[0,1\]"),
    (IMAGES.long(), LABELS, TypeError, "float"),
    (IMAGES[:, :1], LABELS, ValueError, r"\(N,3,H,W\)"),
    (IMAGES, torch.tensor([[[1, 7], [0, 255]]]), ValueError, "outside 0..1"),
    (IMAGES, LABELS[:, :1], ValueError, "do not match"),
    (IMAGES, LABELS.int(), TypeError, "int64"),
])
def test_evaluate_bad_input(images, labels, err, match):
    with pytest.raises(err, match=match):
        evaluate(RedThreshold(), (images, labels))


def test_evaluate_rejects_unknown_data():
    with pytest.raises(TypeError, match="Dataset"):
        evaluate(RedThreshold(), 42)


def test_class_argmax_takes_the_first_maximum_like_argmax():
    import torch

    from segrepro.metrics import class_argmax

    logits = torch.tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0], [0.0, -1.0, 5.0]]).T.reshape(1, 3, 1, 3)
    # per-pixel class scores: (1, 3, 3) -> tie, first is 1; (2, 0, 2) -> tie, first is 0; (0, -1, 5) -> 2
    assert class_argmax(logits).tolist() == [[[1, 0, 2]]]
    tie = torch.tensor([2.0, 2.0, 1.0]).view(1, 3, 1, 1)
    assert class_argmax(tie).item() == 0  # first maximum on ties, as torch.argmax


# ---------------------------------------------------------------- per-image counts
def _random_batch(seed, n=6, c=4, hw=9):
    g = torch.Generator().manual_seed(seed)
    target = torch.randint(0, c, (n, hw, hw), generator=g)
    target[:, 0, :3] = 255
    pred = torch.randint(0, c, (n, hw, hw), generator=g)
    clean = torch.where(torch.rand(n, hw, hw, generator=g) < 0.7, target.clamp(max=c - 1), pred)
    return pred, target, clean


def test_image_counts_sum_to_the_confusion_matrix_metrics():
    from segrepro.metrics import image_counts, metrics_from_counts

    pred, target, clean = _random_batch(0)
    counts = image_counts(pred, target, 4, clean_pred=clean)
    got = metrics_from_counts(counts)
    conf = confusion_matrix(pred, target, 4)
    assert got["miou"] == pytest.approx(miou(conf))
    assert got["mis_ratio"] == pytest.approx(mis_ratio(pred, target))
    assert got["asr"] == pytest.approx(attack_success_rate(clean, pred, target))


def test_image_counts_by_hand():
    from segrepro.metrics import image_counts

    target = torch.tensor([[[0, 1], [1, 255]]])
    pred = torch.tensor([[[0, 0], [1, 1]]])
    c = image_counts(pred, target, 2, clean_pred=target.clamp(max=1))
    assert c["inter"].tolist() == [[1, 1]] and c["pred_area"].tolist() == [[2, 1]]
    assert c["label_area"].tolist() == [[1, 2]] and c["valid"].tolist() == [3] and c["correct"].tolist() == [2]
    assert c["clean_correct"].tolist() == [3] and c["flipped"].tolist() == [1]


def test_weighted_counts_equal_a_duplicated_dataset():
    import numpy as np

    from segrepro.metrics import image_counts, metrics_from_counts

    pred, target, clean = _random_batch(1)
    counts = {k: v.numpy() for k, v in image_counts(pred, target, 4, clean_pred=clean).items()}
    w = np.array([2, 0, 1, 1, 0, 3])  # image 0 twice, image 5 three times
    idx = np.repeat(np.arange(6), w)
    dup = image_counts(pred[idx], target[idx], 4, clean_pred=clean[idx])
    for k, v in metrics_from_counts(counts, w).items():
        assert float(v) == pytest.approx(float(metrics_from_counts(dup)[k]))


def test_counts_add_over_batches_and_give_every_metric():
    target = torch.tensor([0, 1, 2, 255, 1])
    clean = torch.tensor([0, 1, 0, 0, 1])
    adv = torch.tensor([1, 1, 0, 1, 2])
    whole = Counts.of(adv, target, 3, clean_pred=clean)
    halves = Counts.of(adv[:2], target[:2], 3, clean_pred=clean[:2]) + Counts.of(adv[2:], target[2:], 3,
                                                                                   clean_pred=clean[2:])
    assert halves.conf.tolist() == whole.conf.tolist() and (halves.clean_right, halves.flipped) == (3, 2)
    assert whole.asr == pytest.approx(2 / 3) and whole.mis_ratio == pytest.approx(3 / 4)
    assert whole.miou == miou(confusion_matrix(adv, target, 3))
    assert math.isnan(Counts.of(adv, target, 3).asr)  # no clean prediction: nothing to flip
