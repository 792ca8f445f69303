"""Every zoo model satisfies the segrepro contract."""
import pytest
import torch

from segrepro.models import available, build
from segrepro.models.small_resnet import DilatedBasicBlock

WIDTH = 4
# features (channels, stride) by hand from the architectures: FCN-8s concatenates fc7 (16w), pool4 (8w)
# and pool3 (4w) at stride 8; FCN-16s fc7 and pool4 at stride 16; PSP's bottleneck has 8w channels,
# DeepLab's ASPP head 4w, both at output stride 8.
FEATURES = {"fcn8s_vgg16": (28 * WIDTH, 8), "fcn16s_vgg16": (24 * WIDTH, 16), "psp_r18": (8 * WIDTH, 8),
            "psp_r34": (8 * WIDTH, 8), "dlv3_r18": (4 * WIDTH, 8), "dlv3_r34": (4 * WIDTH, 8)}


def test_available_lists_the_six_models():
    assert available() == sorted(FEATURES)


@pytest.mark.parametrize("name", sorted(FEATURES))
@pytest.mark.parametrize("size", [(64, 64), (64, 128)])
def test_contract_shapes_and_features(name, size):
    torch.manual_seed(0)
    model = build(name, num_classes=5, width=WIDTH).eval()
    x = torch.rand(2, 3, *size)
    logits, feats = model.forward_with_features(x)
    channels, stride = FEATURES[name]
    assert logits.shape == (2, 5, *size)
    assert feats.shape == (2, channels, size[0] // stride, size[1] // stride)
    assert torch.isfinite(logits).all()
    assert torch.equal(model(x), logits) and torch.equal(model.features(x), feats)
    assert model.config == {"name": name, "num_classes": 5, "width": WIDTH}


@pytest.mark.parametrize("name", sorted(FEATURES))
def test_features_are_the_input_of_the_final_classifier(name):
    model = build(name, num_classes=3, width=WIDTH).eval()
    seen = []
    model.classifier.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    feats = model.features(torch.rand(1, 3, 64, 64))
    assert len(seen) == 1 and torch.equal(seen[0], feats)


@pytest.mark.parametrize("name", sorted(FEATURES))
def test_gradient_reaches_the_input(name):
    model = build(name, num_classes=3, width=WIDTH).train()
    x = torch.rand(2, 3, 64, 64, requires_grad=True)
    model(x).logsumexp(1).mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


@pytest.mark.parametrize("name", ["psp_r18", "dlv3_r34"])
def test_resnet_blocks_start_with_zero_last_bn(name):
    blocks = [m for m in build(name, 3, width=WIDTH).modules() if isinstance(m, DilatedBasicBlock)]
    assert len(blocks) == (8 if name.endswith("18") else 16)
    assert all(torch.count_nonzero(b.bn2.weight) == 0 for b in blocks)


def test_dilated_layers_keep_stride_8():
    model = build("psp_r34", 3, width=WIDTH)
    layer3, layer4 = model.backbone.layers[2], model.backbone.layers[3]
    # as torchvision's replace_stride_with_dilation, the first block of a layer keeps the previous dilation
    assert [b.conv2.dilation for b in layer3] == [(1, 1)] + [(2, 2)] * 5
    assert [b.conv2.dilation for b in layer4] == [(2, 2), (4, 4), (4, 4)]
    assert all(b.conv1.stride == (1, 1) for b in (*layer3, *layer4))


def test_unknown_model_lists_valid_names():
    with pytest.raises(ValueError, match="valid names.*fcn8s_vgg16"):
        build("unet", 3)


@pytest.mark.parametrize("kw", [{"num_classes": 0}, {"num_classes": 2.5}, {"num_classes": 3, "width": 0}])
def test_bad_sizes_are_rejected(kw):
    with pytest.raises(ValueError, match="positive integer"):
        build("psp_r18", **kw)


def test_wrong_image_shape_is_rejected():
    with pytest.raises(ValueError, match=r"\(N,3,H,W\)"):
        build("dlv3_r18", 3, width=WIDTH)(torch.rand(1, 1, 64, 64))
