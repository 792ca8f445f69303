"""Every method attacks: on a tiny model trained to high clean mIoU, adversarial mIoU is lower."""
import pytest
import torch

from segrepro.attacks import attack, available
from segrepro.metrics import confusion_matrix, miou

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def toy_eval(trained_model, make_toy_data):
    images, labels = make_toy_data(8, size=32, seed=3)
    with torch.no_grad():
        clean = miou(confusion_matrix(trained_model(images).argmax(1), labels, 3))
    assert clean > 0.85, f"the toy model did not train ({clean:.3f})"
    return images, labels, clean


@pytest.mark.parametrize("method", available() + ["ds+mi", "transegpgd+mi", "segtrans+di", "transegpgd+ds"])
def test_attack_lowers_miou(method, trained_model, toy_eval):
    images, labels, clean = toy_eval
    # zoom attacks one region per iteration, so it needs more iterations to cover the image
    steps = 20 if "zoom" in method else 10
    adv = attack(trained_model, images, labels, method, eps=0.08, alpha=0.02, steps=steps)
    with torch.no_grad():
        adv_miou = miou(confusion_matrix(trained_model(adv).argmax(1), labels, 3))
    assert adv_miou < clean - 0.01, f"{method}: clean {clean:.3f}, adversarial {adv_miou:.3f}"
