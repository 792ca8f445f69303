"""Input transforms: sizes, label handling, region maps and gradient flow (hand-built tensors)."""
import pytest
import torch

from segrepro.attacks import transforms as T
from segrepro.attacks.context import AttackContext


def _regions(size=4, k=2):
    """Image whose region r (row-major in a k x k grid) has value r/10, and labels equal to r."""
    labels = torch.zeros(1, size, size, dtype=torch.int64)
    for idx, ((r0, r1), (c0, c1)) in enumerate((r, c) for r in T._bounds(size, k) for c in T._bounds(size, k)):
        labels[0, r0:r1, c0:c1] = idx
    return (labels.float() / 10)[:, None].expand(1, 3, size, size).contiguous(), labels


def test_ds_size_and_min_side_floor():
    assert T.ds_size(96, 96, 0.5) == (48, 48)
    assert T.ds_size(96, 64, 1.5) == (144, 96)
    assert T.ds_size(96, 96, 0.25) == (32, 32)                 # 24 floored at min_side = 32
    assert T.ds_size(96, 96, 0.25, min_side=16) == (24, 24)
    assert T.ds_size(20, 20, 0.5) == (20, 20)                  # the floor never exceeds the native side


def test_dynamic_scale_moves_labels_by_nearest_neighbour():
    labels = torch.arange(16).view(1, 4, 4)
    images = torch.full((1, 3, 4, 4), 0.25)
    x2, y2 = T.dynamic_scale(images, labels, 2.0, min_side=1)
    assert x2.shape == (1, 3, 8, 8) and torch.allclose(x2, torch.full_like(x2, 0.25))
    assert torch.equal(y2, labels.repeat_interleave(2, 1).repeat_interleave(2, 2))
    _, y_half = T.dynamic_scale(images, labels, 0.5, min_side=1)
    assert torch.equal(y_half, labels[:, 1::2, 1::2])         # pixel-centre nearest: source rows 1, 3
    with pytest.raises(ValueError, match="positive"):
        T.dynamic_scale(images, labels, 0.0)


def test_diverse_input_pad_sizes_and_ignore_padding():
    images = torch.rand(1, 3, 10, 20)
    labels = torch.ones(1, 10, 20, dtype=torch.int64)
    x2, y2 = T.diverse_input(images, labels, 10, (0, 1))      # no resize, offset one column
    assert x2.shape == (1, 3, 11, 22) and y2.shape == (1, 11, 22)
    assert torch.equal(x2[..., :10, 1:21], images)
    assert (x2[..., 10, :] == 0).all() and (x2[..., :, 0] == 0).all() and (x2[..., :, 21] == 0).all()
    assert (y2[:, 10, :] == 255).all() and (y2[:, :, 0] == 255).all() and (y2[:, :10, 1:21] == 1).all()
    with pytest.raises(ValueError, match="does not fit"):
        T.diverse_input(images, labels, 10, (2, 0))


def test_region_shuffle_fixed_permutation():
    images, labels = _regions(4, 2)
    x2, y2 = T.region_shuffle(images, labels, 2, perm=[3, 2, 1, 0])  # slot j takes region perm[j]
    expected = torch.tensor([[3, 3, 2, 2], [3, 3, 2, 2], [1, 1, 0, 0], [1, 1, 0, 0]])
    assert torch.equal(y2[0], expected)
    assert torch.allclose(x2[0, 0] * 10, expected.float())         # the image moved with its label


def test_region_shuffle_unequal_regions_are_resized():
    images, labels = _regions(5, 2)          # rows/cols (0,2) and (2,5): the last absorbs the remainder
    x2, y2 = T.region_shuffle(images, labels, 2, perm=[3, 1, 2, 0])
    assert y2.shape == (1, 5, 5)
    assert (y2[0, :2, :2] == 3).all() and (y2[0, 2:, 2:] == 0).all()  # 3x3 -> 2x2 and 2x2 -> 3x3
    assert (y2[0, :2, 2:] == 1).all() and (y2[0, 2:, :2] == 2).all()
    assert torch.allclose(x2[0, 0] * 10, y2[0].float())
    with pytest.raises(ValueError, match="permutation"):
        T.region_shuffle(images, labels, 2, perm=[0, 0, 1, 2])
    with pytest.raises(ValueError, match="exceeds"):
        T.region_shuffle(images, labels, 6, torch.Generator())


def test_region_zoom():
    labels = torch.zeros(1, 4, 4, dtype=torch.int64)
    labels[0, :2, 2:] = torch.tensor([[5, 6], [7, 8]])
    images = (labels.float() / 10)[:, None].expand(1, 3, 4, 4)
    x2, y2 = T.region_zoom(images, labels, 2, index=1)                # top-right region to full size
    expected = torch.tensor([[5, 5, 6, 6], [5, 5, 6, 6], [7, 7, 8, 8], [7, 7, 8, 8]])
    assert torch.equal(y2[0], expected)
    assert x2.shape == images.shape and x2[0, 0, 0, 0] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="region index"):
        T.region_zoom(images, labels, 2, index=4)


def _ctx(images, labels, **params):
    return AttackContext(model=None, images=images, labels=labels, num_classes=3, eps=0.03, alpha=0.01, steps=2,
                         params=params, generator=torch.Generator(), host_generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("part, params", [
    (T.DynamicScaling(), dict(lam=0.5, scale_range=(0.6, 0.6), min_side=1)),
    (T.DynamicScaling(), dict(lam=0.5, scale_range=(1.4, 1.4), min_side=1)),
    (T.DiverseInputs(), dict(di_prob=1.0, di_ratio=1.1)),
    (T.RegionShuffle(), dict(grid_sizes=(3,))),
    (T.RegionZoom(), dict(grid_sizes=(2,))),
])
def test_gradient_reaches_the_native_grid(part, params, tiny_model):
    images = torch.rand(2, 3, 20, 20)
    labels = torch.randint(0, 3, (2, 20, 20))
    x = images.clone().requires_grad_(True)
    xt, yt, geometry = part.apply(x, labels, _ctx(images, labels, **params))
    assert xt.shape[-2:] == yt.shape[-2:]
    loss = torch.nn.functional.cross_entropy(tiny_model(xt), yt, ignore_index=255)
    (grad,) = torch.autograd.grad(loss, x)
    assert grad.shape == images.shape and grad.abs().sum() > 0
    # the recorded geometry replays the same change on another map
    assert torch.allclose(geometry.apply(images, "image"), xt.detach())


def test_di_sizes_drawn_in_range():
    images, labels = torch.rand(1, 3, 20, 20), torch.zeros(1, 20, 20, dtype=torch.int64)
    ctx = _ctx(images, labels, di_prob=1.0, di_ratio=1.1)
    for _ in range(10):
        xt, yt, _ = T.DiverseInputs().apply(images, labels, ctx)
        assert xt.shape[-2:] == (22, 22)
        assert 20 * 20 <= int((yt != 255).sum()) <= 21 * 21       # resized side r in {20, 21}
    never = _ctx(images, labels, di_prob=0.0, di_ratio=1.1)
    assert T.DiverseInputs().apply(images, labels, never)[2] is None
