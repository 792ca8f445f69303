"""Faults of the datasets: unknown names, missing folders, empty or too small synthetic sets."""
import re

import pytest
import torch

from segrepro.data import available, get_dataset, num_classes
from segrepro.models import build


@pytest.fixture(autouse=True)
def cache(monkeypatch, tmp_path):
    monkeypatch.setenv("SEGREPRO_CACHE", str(tmp_path / "cache"))


def test_unknown_dataset_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown dataset 'vocc'; valid datasets: \['cityscapes', 'shapes', "
                                         r"'street', 'voc'\]"):
        get_dataset("vocc", "val")
    with pytest.raises(ValueError, match=r"unknown dataset 'vocc'"):
        num_classes("vocc")


def test_num_classes_without_building():
    assert {name: num_classes(name) for name in available()} == {"cityscapes": 19, "shapes": 10, "street": 13,
                                                                  "voc": 21}


def test_voc_root_that_does_not_exist(tmp_path):
    root = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match=rf"PASCAL VOC not found under '{re.escape(str(root))}': missing "
                                                r"\[.*VOC2012/JPEGImages'"):
        get_dataset("voc", "val", root=root)


def test_voc_root_without_labels_names_the_missing_folders(tmp_path):
    (tmp_path / "VOCdevkit" / "VOC2012" / "JPEGImages").mkdir(parents=True)
    with pytest.raises(FileNotFoundError) as info:
        get_dataset("voc", "val", root=tmp_path)
    missing = re.search(r"missing (\[.*?\])", str(info.value)).group(1)
    assert "SegmentationClass" in missing and "val.txt" in missing and "JPEGImages" not in missing


def test_cityscapes_root_without_gtfine_names_it(tmp_path):
    (tmp_path / "leftImg8bit" / "val").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=rf"Cityscapes not found under .*missing "
                                                rf"\['{re.escape(str(tmp_path / 'gtFine' / 'val'))}'\]"):
        get_dataset("cityscapes", "val", root=tmp_path)


@pytest.mark.parametrize("length, error, message", [
    (0, ValueError, r"length must be >= 1, got 0"),
    (-3, ValueError, r"length must be >= 1, got -3"),
    (2.5, TypeError, r"length must be an int, got float"),
])
def test_synthetic_bad_length(length, error, message):
    with pytest.raises(error, match=message):
        get_dataset("shapes", "val", length=length)


def test_synthetic_size_too_small():
    with pytest.raises(ValueError, match=r"size must be at least 16 pixels per side, got \(8, 8\)"):
        get_dataset("shapes", "val", length=2, size=8)


@pytest.mark.parametrize("mode", ["eval", "train"])
@pytest.mark.parametrize("name", ["fcn8s_vgg16", "fcn16s_vgg16"])
def test_vgg_on_images_below_32_px_says_so(name, mode):
    x, _ = get_dataset("shapes", "val", length=1, size=24).tensors()
    model = build(name, 10, 4).train(mode == "train")
    with pytest.raises(ValueError, match=rf"{name} failed on \(24, 24\) images \(.+\); inputs below 32 px per side "
                                         r"are too small for nets that pool five times, such as the zoo's VGG nets"):
        model(x)
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 10, 32, 32)  # 32 px is enough
