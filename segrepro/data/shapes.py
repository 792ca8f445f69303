"""The ``shapes`` preset: a VOC-like scene of textured objects on a cluttered background.

Classes (id: name = shape, hue, texture). Every cue is shared by at least two classes, so a pixel's
class follows only from combining cues (shape needs the object's extent, texture a neighbourhood):

====  ===================  ========  =====  =======
 id    name                 shape     hue    texture
====  ===================  ========  =====  =======
 0     background           --        --     --
 1     red_flat_disc        disc      red    flat
 2     green_striped_disc   disc      green  stripes
 3     blue_checked_disc    disc      blue   checker
 4     red_striped_square   square    red    stripes
 5     green_checked_square square    green  checker
 6     blue_flat_square     square    blue   flat
 7     red_checked_tri      triangle  red    checker
 8     green_flat_tri       triangle  green  flat
 9     window               small pale square, *only* when it lies on a large object
====  ===================  ========  =====  =======

``window`` is the context class: identical pale squares lying on the background are labelled
background. Background distractors borrow the objects' hues and textures (rings, bars, blobs and
pale squares), so colour or texture alone never says "object".

Scene: 1-6 objects whose radii are log-uniform between ``R_MIN`` and ``R_MAX`` (relative to the
image side), centres up to 10 % outside the frame (objects cut by the border), drawn largest first so
small objects occlude large ones (each object after the first is a decoy with probability ``P_DECOY``);
then windows on the visible part of large objects; then global jitter and noise.

Measured pixel shares (train split, seed 0, 2000 images at 96x96):
background 76.3 %; per object class 2.0-3.5 % (discs 3.1-3.5, squares 2.7-3.4, triangles 2.0-2.2,
each class in 25-29 % of the images); window 0.7 % (in 54 % of the images). Decoys (objects with an
unlisted cue combination) and distractors are counted as background.

Difficulty knobs (module constants; changing one must bump ``synthetic.VERSION``):
``NOISE`` (pixel noise std), ``HUE_JITTER`` (object hue spread, in turns), ``SAT_RANGE``/``VAL_RANGE``
(object saturation/value), ``TEXTURE_LOW`` (texture contrast: dark-cell gain), ``P_DECOY`` (chance
that an object other than the first is a decoy: an unlisted shape/hue/texture combination labelled
background, the strongest knob: it forces the model to combine all three cues), ``N_DISTRACTORS``,
``R_MIN``/``R_MAX`` (object sizes), ``WINDOW_MIN_R`` (how large a host object must be).
"""
from __future__ import annotations

import numpy as np

from . import _draw as D

CLASS_NAMES = (
    "background", "red_flat_disc", "green_striped_disc", "blue_checked_disc", "red_striped_square",
    "green_checked_square", "blue_flat_square", "red_checked_tri", "green_flat_tri", "window",
)
# (shape, hue, texture) per object class 1..8
OBJECTS = (
    ("disc", "red", "flat"), ("disc", "green", "stripes"), ("disc", "blue", "checker"),
    ("square", "red", "stripes"), ("square", "green", "checker"), ("square", "blue", "flat"),
    ("triangle", "red", "checker"), ("triangle", "green", "flat"),
)
# every other (shape, hue, texture) combination is a decoy, drawn like an object but labelled background
DECOYS = tuple((s, h, t) for s in ("disc", "square", "triangle") for h in ("red", "green", "blue")
               for t in ("flat", "stripes", "checker") if (s, h, t) not in OBJECTS)
WINDOW = 9
HUES = {"red": 0.0, "green": 0.33, "blue": 0.62}
TEXTURES = ("flat", "stripes", "checker")
SIZE = (96, 96)

# difficulty knobs
NOISE = 0.05
CHANNEL_JITTER = 0.05
HUE_JITTER = 0.04
SAT_RANGE = (0.45, 0.9)
VAL_RANGE = (0.45, 0.95)
TEXTURE_LOW = 0.6
N_OBJECTS = (1, 6)
N_DISTRACTORS = (2, 6)
P_DECOY = 0.35
R_MIN, R_MAX = 0.04, 0.42
WINDOW_MIN_R = 0.14

PALETTE = np.array([
    (0, 0, 0), (230, 40, 40), (40, 200, 60), (40, 90, 230), (250, 140, 40), (150, 230, 60),
    (60, 200, 230), (200, 40, 160), (230, 230, 60), (255, 255, 255),
], dtype=np.uint8)


def _texture(rng, kind, k):
    """A texture map for ``kind`` with random orientation and phase; ``None`` for flat."""
    if kind == "flat":
        return None
    period = rng.uniform(5.0, 8.0) * k
    angle, phase = rng.uniform(0, np.pi), rng.uniform(0, period)
    fn = D.stripes if kind == "stripes" else D.checker
    return fn(period, angle, phase, low=TEXTURE_LOW)


def _colour(rng, hue):
    return D.hsv_to_rgb(hue + rng.normal(0, HUE_JITTER), rng.uniform(*SAT_RANGE), rng.uniform(*VAL_RANGE))


def _shape_mask(shape, kind, cx, cy, r, angle):
    if kind == "disc":
        return D.disk(shape, cx, cy, r)
    if kind == "square":
        # half-side r * 0.85 gives a square of about the same area as the disc of radius r
        return D.rect(shape, cx, cy, 0.85 * r, 0.85 * r, angle)
    return D.triangle(shape, cx, cy, 1.25 * r, angle)


def _pale(rng):
    return D.hsv_to_rgb(rng.uniform(0, 1), rng.uniform(0.0, 0.2), rng.uniform(0.85, 1.0))


def _background(rng, shape, k):
    """Low-saturation background with smooth shading and distractors that carry no label."""
    h, w = shape
    canvas = np.empty((h, w, 3), dtype=np.float32)
    base = D.hsv_to_rgb(rng.uniform(0, 1), rng.uniform(0.0, 0.3), rng.uniform(0.3, 0.8))
    canvas[:] = base
    canvas += D.smooth_field(rng, shape, 0.15)[..., None]
    side = min(h, w)
    for _ in range(rng.integers(N_DISTRACTORS[0], N_DISTRACTORS[1] + 1)):
        kind = rng.integers(4)
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        if kind == 3:  # window look-alike: only context separates it from class 9
            s = rng.uniform(0.03, 0.06) * side
            D.paint(canvas, D.rect(shape, cx, cy, s, s, rng.uniform(-0.3, 0.3)), _pale(rng))
            continue
        if kind == 0:  # ring in an object hue/texture
            r = rng.uniform(0.06, 0.2) * side
            mask = D.ring(shape, cx, cy, r, r * rng.uniform(0.5, 0.75))
        elif kind == 1:  # thin bar
            mask = D.rect(shape, cx, cy, rng.uniform(0.1, 0.35) * side, rng.uniform(0.015, 0.04) * side,
                          rng.uniform(0, np.pi))
        else:  # blob: overlapping discs, not a clean shape
            mask = np.zeros(shape, dtype=bool)
            for _ in range(3):
                mask |= D.disk(shape, cx + rng.normal(0, 0.05 * side), cy + rng.normal(0, 0.05 * side),
                               rng.uniform(0.03, 0.08) * side)
        hue = HUES[rng.choice(list(HUES))]
        D.paint(canvas, mask, _colour(rng, hue), _texture(rng, TEXTURES[rng.integers(3)], k))
    return canvas


def generate(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw one ``shapes`` image.

    Args:
        rng: generator seeded from ``(seed, split, index)``; the only source of randomness.
        height, width: image size in pixels.

    Returns:
        ``(image uint8 (H, W, 3), label uint8 (H, W))``.
    """
    shape = (height, width)
    side = min(height, width)
    k = side / 96.0
    canvas = _background(rng, shape, k)
    label = np.zeros(shape, dtype=np.uint8)
    n = rng.integers(N_OBJECTS[0], N_OBJECTS[1] + 1)
    radii = np.sort(np.exp(rng.uniform(np.log(R_MIN), np.log(R_MAX), size=n)))[::-1] * side
    hosts = []
    for i, r in enumerate(radii):
        if i > 0 and rng.random() < P_DECOY:  # an unlisted cue combination: looks like an object, is background
            cls = 0
            kind, hue, tex = DECOYS[rng.integers(len(DECOYS))]
        else:
            cls = int(rng.integers(len(OBJECTS))) + 1
            kind, hue, tex = OBJECTS[cls - 1]
        # the first (largest) object stays inside-ish so every image shows at least one object
        lo, hi = (0.25, 0.75) if i == 0 else (-0.1, 1.1)
        cx, cy = rng.uniform(lo, hi) * width, rng.uniform(lo, hi) * height
        mask = _shape_mask(shape, kind, cx, cy, r, rng.uniform(0, 2 * np.pi))
        D.paint(canvas, mask, _colour(rng, HUES[hue]), _texture(rng, tex, k))
        label[mask] = cls
        if cls and r >= WINDOW_MIN_R * side and rng.random() < 0.7:
            hosts.append((cls, cx, cy, r))
    # windows go last, onto the visible part of their host, so nothing drawn later can break the context
    for cls, cx, cy, r in hosts:
        for _ in range(rng.integers(1, 4)):
            s = rng.uniform(0.03, 0.06) * side
            wx, wy = cx + rng.uniform(-0.5, 0.5) * r, cy + rng.uniform(-0.5, 0.5) * r
            angle = rng.uniform(-0.3, 0.3)
            margin = D.rect(shape, wx, wy, s + 1.5, s + 1.5, angle)
            if not (label[margin] == cls).all():
                continue  # a window lies entirely on its host, with a rim of visible host around it
            win = D.rect(shape, wx, wy, s, s, angle)
            D.paint(canvas, win, _pale(rng))
            label[win] = WINDOW
    image = D.finish(rng, canvas, NOISE, CHANNEL_JITTER, brightness=(0.85, 1.15))
    return image, label
