"""MMSegmentation adapter: bundled PSPNet/DeepLabV3 configs shrunk to ResNet-18 with narrow channels,
a random-init checkpoint saved here, loaded back through init_model, checked against mmseg's own
inference path, attacked for two iterations with two methods; config/checkpoint mismatches are errors."""
import copy

import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("mmseg", reason="needs the mmseg extra")
from mmengine import Config  # noqa: E402

from segrepro.models.mmseg import bundled_config, init_model  # noqa: E402
from segrepro.validation import check_logits  # noqa: E402

CONFIGS = {"pspnet": "pspnet/pspnet_r50-d8_4xb4-40k_voc12aug-512x512.py",
           "deeplabv3": "deeplabv3/deeplabv3_r50-d8_4xb4-40k_voc12aug-512x512.py"}
CLASSES = ["background", "road", "car", "person", "sky"]


def tiny_config(arch: str) -> Config:
    cfg = Config.fromfile(bundled_config(CONFIGS[arch]))
    bn = dict(type="BN", requires_grad=True)
    # ResNetV1c-18 with base width 16: stages of 16, 32, 64, 128 channels (BasicBlock, expansion 1)
    cfg.model.backbone.update(depth=18, stem_channels=16, base_channels=16, norm_cfg=bn)
    cfg.model.decode_head.update(in_channels=128, channels=16, norm_cfg=bn)
    cfg.model.auxiliary_head.update(in_channels=64, channels=8, norm_cfg=bn)
    return cfg


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A random-init checkpoint per architecture, in mmseg's format, and the model that produced it."""
    torch.set_num_threads(1)
    out = {}
    for arch in CONFIGS:
        torch.manual_seed(0)
        model = init_model(tiny_config(arch), None, num_classes=5)
        path = tmp_path_factory.mktemp(arch) / f"{arch}.pth"
        meta = {"dataset_meta": {"classes": CLASSES, "palette": [[i * 40, 0, 0] for i in range(5)]}}
        torch.save({"state_dict": model.segmentor.state_dict(), "meta": meta}, path)
        out[arch] = (model, path)
    return out


@pytest.mark.parametrize("arch", list(CONFIGS))
def test_checkpoint_round_trip_contract_and_mmseg_reference(saved, arch):
    original, path = saved[arch]
    torch.manual_seed(1)  # a different random init, overwritten by the checkpoint
    model = init_model(tiny_config(arch), path, device="cpu", num_classes=5)
    assert model.num_classes == 5 and model.dataset_meta["classes"] == CLASSES and not model.training
    # the data preprocessor's 0..255 mean/std, scaled to [0,1] inputs (the config swaps BGR->RGB)
    torch.testing.assert_close(model.mean.flatten(), torch.tensor([123.675, 116.28, 103.53]) / 255)
    torch.testing.assert_close(model.std.flatten(), torch.tensor([58.395, 57.12, 57.375]) / 255)
    assert not model.feed_bgr
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        logits, feats = model.forward_with_features(x)
        assert torch.equal(logits, original(x))
    check_logits(logits, x, 5)
    assert feats.shape == (2, 16, 8, 8)  # decode-head channels at output stride 8
    # mmseg's own pipeline on BGR 0..255 images gives the same logits
    from mmseg.structures import SegDataSample

    samples = [SegDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64), pad_shape=(64, 64)))
               for _ in range(2)]
    with torch.no_grad():
        results = model.segmentor.test_step({"inputs": [img.flip(0) * 255 for img in x], "data_samples": samples})
    reference = torch.stack([r.seg_logits.data for r in results])
    torch.testing.assert_close(logits, reference, rtol=1e-4, atol=1e-4)
    # features are the input of conv_seg: applying it and resizing gives the logits
    conv = model.segmentor.decode_head.conv_seg
    torch.testing.assert_close(F.interpolate(conv(feats), size=(64, 64), mode="bilinear"), logits)
    twin = copy.deepcopy(model)  # the feature hook follows the copy
    with torch.no_grad():
        assert torch.equal(twin.features(x), feats)


def test_attack_two_iterations_with_two_methods(saved):
    from segrepro.attacks import attack  # written by the attack issue; fails loudly if missing

    model, _ = saved["pspnet"]
    torch.manual_seed(0)
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        y = model(x).argmax(1)
        clean_loss = F.cross_entropy(model(x), y)
    for method in ("segpgd", "rp_pgd"):
        adv = attack(model, x, y, method, eps=8 / 255, alpha=4 / 255, steps=2, seed=0)
        assert adv.shape == x.shape and 0 <= adv.min() and adv.max() <= 1
        assert (adv - x).abs().max() <= 8 / 255 + 1e-6 and not torch.equal(adv, x)
        with torch.no_grad():
            assert F.cross_entropy(model(adv), y) > clean_loss, method


def test_class_count_mismatch(saved):
    _, path = saved["pspnet"]
    with pytest.raises(ValueError, match=r"does not fit the config.*num_classes=6.*shape mismatch.*conv_seg"):
        init_model(tiny_config("pspnet"), path, num_classes=6)


def test_architecture_mismatch(saved):
    _, path = saved["pspnet"]
    with pytest.raises(ValueError, match=r"does not fit the config.*(missing|unexpected) keys"):
        init_model(tiny_config("deeplabv3"), path, num_classes=5)


def test_meta_class_list_mismatch(saved, tmp_path):
    model, _ = saved["pspnet"]
    path = tmp_path / "four_names.pth"
    torch.save({"state_dict": model.segmentor.state_dict(), "meta": {"dataset_meta": {"classes": CLASSES[:4]}}},
               path)
    with pytest.raises(ValueError, match="lists 4 classes but the config's head has 5"):
        init_model(tiny_config("pspnet"), path, num_classes=5)


def test_missing_files_and_bad_config(tmp_path):
    with pytest.raises(FileNotFoundError, match="never downloads"):
        init_model(tiny_config("pspnet"), tmp_path / "absent.pth", num_classes=5)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        init_model(tmp_path / "absent.py", None)
    with pytest.raises(FileNotFoundError, match="no bundled mmseg config"):
        bundled_config("pspnet/not_a_config.py")
    with pytest.raises(TypeError, match="config must be"):
        init_model(42, None)
    with pytest.raises(ValueError, match="decode_head"):
        init_model({"model": {"type": "EncoderDecoder"}}, None)


def test_sync_bn_becomes_bn_and_cuda_without_gpu(monkeypatch):
    cfg = tiny_config("pspnet")
    cfg.model.decode_head.norm_cfg = dict(type="SyncBN", requires_grad=True)
    model = init_model(cfg, None, num_classes=3)
    assert type(model.segmentor.decode_head.bottleneck.bn).__name__ == "BatchNorm2d"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        init_model(cfg, None, device="cuda")
