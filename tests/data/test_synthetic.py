"""Tests of the synthetic presets: determinism, caching, class coverage, the context class, bad input."""
from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch

from segrepro.data import available, get_dataset
from segrepro.data import synthetic as S

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SEGREPRO_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def shapes_sample():
    """150 ``shapes`` train images generated directly (no cache), shared by the coverage tests."""
    pairs = [S.generate_one("shapes", "train", i) for i in range(150)]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


@pytest.fixture(scope="module")
def street_sample():
    pairs = [S.generate_one("street", "train", i) for i in range(150)]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


# --- determinism ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("preset", ["shapes", "street"])
def test_same_index_gives_identical_bytes(preset):
    a_img, a_lab = S.generate_one(preset, "val", 7, seed=3)
    b_img, b_lab = S.generate_one(preset, "val", 7, seed=3)
    assert a_img.tobytes() == b_img.tobytes() and a_lab.tobytes() == b_lab.tobytes()


def test_cached_dataset_entry_equals_regenerated_single_image():
    ds = S.SyntheticSegmentation("shapes", "train", length=6, seed=1)
    img, lab = S.generate_one("shapes", "train", 4, seed=1)
    np.testing.assert_array_equal(ds.images[4], img)
    np.testing.assert_array_equal(ds.labels[4], lab)


def test_shorter_dataset_is_a_prefix_of_a_longer_one():
    short = S.SyntheticSegmentation("street", "val", length=3)
    long = S.SyntheticSegmentation("street", "val", length=5)
    np.testing.assert_array_equal(short.images, long.images[:3])


@pytest.mark.parametrize("other", [dict(seed=1), dict(split="test"), dict(index=1)])
def test_images_differ_across_seeds_splits_and_indices(other):
    base = dict(split="val", index=0, seed=0)
    a, _ = S.generate_one("shapes", base["split"], base["index"], seed=base["seed"])
    kw = {**base, **other}
    b, _ = S.generate_one("shapes", kw["split"], kw["index"], seed=kw["seed"])
    assert not np.array_equal(a, b)


# --- caching ----------------------------------------------------------------------------------------------

def test_cache_hit_does_not_regenerate(monkeypatch):
    first = S.SyntheticSegmentation("shapes", "val", length=4)

    def fail(*args, **kwargs):
        raise AssertionError("generator called although the split is cached")
    monkeypatch.setattr(S, "generate_one", fail)
    second = S.SyntheticSegmentation("shapes", "val", length=4)
    np.testing.assert_array_equal(first.images, second.images)
    np.testing.assert_array_equal(first.labels, second.labels)


def test_corrupt_cache_file_is_regenerated():
    first = S.SyntheticSegmentation("shapes", "val", length=2)
    path = S._cache_path("shapes", "val", 0, (96, 96), 2)
    path.write_bytes(b"not an npz")
    again = S.SyntheticSegmentation("shapes", "val", length=2)
    np.testing.assert_array_equal(first.images, again.images)
    assert path.stat().st_size > 2 * 96 * 96 * 4  # a real file was written back


def test_cache_key_separates_size_and_length():
    keys = {S._cache_path("shapes", "val", 0, (96, 96), 2), S._cache_path("shapes", "val", 0, (64, 64), 2),
            S._cache_path("shapes", "val", 0, (96, 96), 3), S._cache_path("shapes", "test", 0, (96, 96), 2)}
    assert len(keys) == 4


# --- dtype, shape, range ----------------------------------------------------------------------------------

@pytest.mark.parametrize("preset,size,expected", [("shapes", None, (96, 96)), ("street", None, (64, 128)),
                                                  ("shapes", 64, (64, 64)), ("street", (32, 64), (32, 64))])
def test_item_and_tensor_shapes(preset, size, expected):
    ds = S.SyntheticSegmentation(preset, "test", size=size, length=3)
    image, label = ds[1]
    assert image.dtype == torch.float32 and image.shape == (3, *expected)
    assert 0.0 <= image.min() and image.max() <= 1.0
    assert label.dtype == torch.int64 and label.shape == expected
    assert ds.images.dtype == np.uint8 and ds.images.shape == (3, *expected, 3)
    assert ds.labels.dtype == np.uint8 and ds.labels.shape == (3, *expected)
    x, y = ds.tensors([2, 0])
    assert x.shape == (2, 3, *expected) and y.shape == (2, *expected) and y.dtype == torch.int64
    torch.testing.assert_close(x[1], ds[0][0])
    assert len(ds) == 3 and ds.num_classes == len(ds.class_names) and ds.ignore_index == 255


def test_item_pixel_is_uint8_over_255():
    ds = S.SyntheticSegmentation("shapes", "val", length=1)
    r, g, b = ds.images[0, 5, 9]
    assert ds[0][0][:, 5, 9].tolist() == pytest.approx([r / 255, g / 255, b / 255])


def test_default_lengths_and_class_counts():
    assert S.PRESETS["shapes"].lengths == {"train": 2000, "val": 300, "test": 300}
    assert len(S.PRESETS["shapes"].class_names) == 10
    assert len(S.PRESETS["street"].class_names) >= 12
    assert S.PRESETS["street"].size == (64, 128)


# --- content ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sample", ["shapes_sample", "street_sample"])
def test_every_class_appears_in_many_images(sample, request):
    _, labels = request.getfixturevalue(sample)
    preset = sample.split("_")[0]
    n_classes = len(S.PRESETS[preset].class_names)
    present = np.stack([(labels == c).any(axis=(1, 2)) for c in range(n_classes)], axis=1).sum(0)
    assert present.min() >= 20, dict(zip(S.PRESETS[preset].class_names, present.tolist()))
    assert set(np.unique(labels)) <= set(range(n_classes)) | {255}


def test_window_only_occurs_on_top_of_another_object(shapes_sample):
    _, labels = shapes_sample
    win = labels == 9
    assert win.any()
    ring = np.zeros_like(win)  # 4-neighbours of window pixels
    ring[:, 1:] |= win[:, :-1]
    ring[:, :-1] |= win[:, 1:]
    ring[:, :, 1:] |= win[:, :, :-1]
    ring[:, :, :-1] |= win[:, :, 1:]
    ring &= ~win
    assert ring.any() and not (labels[ring] == 0).any()


def test_shapes_objects_vary_widely_in_size(shapes_sample):
    _, labels = shapes_sample
    areas = np.stack([(labels == c).sum(axis=(1, 2)) for c in range(1, 9)], axis=1)
    areas = areas[areas > 0]
    assert areas.min() < 60 and areas.max() > 2500  # from a few dozen pixels to over a quarter image


def test_street_has_ignore_pixels_and_sky_above_road(street_sample):
    _, labels = street_sample
    assert (labels == 255).mean() > 0.001
    rows = np.arange(labels.shape[1])[None, :, None]
    sky_row = (rows * (labels == 9)).sum() / (labels == 9).sum()
    road_row = (rows * (labels == 0)).sum() / (labels == 0).sum()
    assert sky_row < labels.shape[1] / 3 < road_row


# --- classification variant -------------------------------------------------------------------------------

def test_dominant_class_hand_computed():
    labels = np.zeros((3, 2, 3), dtype=np.uint8)
    labels[0] = [[1, 1, 2], [2, 2, 0]]      # 1: 2 px, 2: 3 px -> class 2 (position 1)
    labels[1] = [[3, 3, 1], [1, 0, 255]]    # tie 1 vs 3 -> lower id, class 1 (position 0)
    assert S.dominant_class(labels, (1, 2, 3)).tolist() == [1, 0, -1]


def test_classification_dataset_labels_match_segmentation():
    seg = S.SyntheticSegmentation("shapes", "val", length=5)
    cls = S.SyntheticClassification("shapes", "val", length=5)
    assert cls.num_classes == 9 and cls.class_names[0] == "red_flat_disc"
    image, target = cls[3]
    counts = np.bincount(seg.labels[3].ravel(), minlength=10)[1:]
    assert isinstance(target, int) and target == int(np.argmax(counts))
    torch.testing.assert_close(image, seg[3][0])
    assert cls.tensors()[1].shape == (5,)


# --- registry, rendering, bad input -----------------------------------------------------------------------

def test_registry():
    assert available() == ["cityscapes", "shapes", "street", "voc"]
    ds = get_dataset("street", "val", length=2)
    assert isinstance(ds, S.SyntheticSegmentation) and ds.size == (64, 128)


def test_render_grid_and_palette():
    from matplotlib.figure import Figure
    fig = S.render_grid(S.SyntheticSegmentation("street", "val", length=3), n=3, columns=2)
    assert isinstance(fig, Figure) and len(fig.axes) == 2 * 2 * 2
    assert S.palette("street").shape == (13, 3)
    rgb = S.colourise(np.array([[0, 255]], dtype=np.uint8), "shapes")
    assert rgb.tolist() == [[[0, 0, 0], [128, 128, 128]]]


@pytest.mark.parametrize("call,match", [
    (lambda: S.SyntheticSegmentation("squares"), r"unknown preset 'squares'.*\['shapes', 'street'\]"),
    (lambda: S.SyntheticSegmentation("shapes", "valid"), r"unknown split 'valid'.*\['train', 'val', 'test'\]"),
    (lambda: get_dataset("imagenet"), r"unknown dataset 'imagenet'.*'voc'"),
    (lambda: S.SyntheticSegmentation("shapes", size=8), r"at least 16"),
    (lambda: S.SyntheticSegmentation("shapes", length=0), r"length must be >= 1"),
    (lambda: S.SyntheticSegmentation("shapes", seed=-1), r"seed must be a non-negative int"),
    (lambda: S.generate_one("shapes", "val", -1), r"index must be >= 0"),
])
def test_bad_values_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("kw,match", [(dict(size=(96, 96, 3)), "size must be an int or a pair"),
                                      (dict(size=96.0), "size must be an int or a pair"),
                                      (dict(length=2.5), "length must be an int")])
def test_bad_types_raise_type_error(kw, match):
    with pytest.raises(TypeError, match=match):
        S.SyntheticSegmentation("shapes", "val", **kw)
