"""The ``street`` preset: a Cityscapes-like layered street scene at a 1:2 aspect (64x128).

Classes (Cityscapes names and order where they exist): 0 road, 1 sidewalk, 2 building, 3 fence,
4 pole, 5 traffic_light, 6 traffic_sign, 7 vegetation, 8 terrain, 9 sky, 10 person, 11 car, 12 truck.
Pixels labelled 255 (ignore): the ego vehicle's bonnet at the bottom of some images and "void"
clutter on the sidewalks (bins, boxes), as Cityscapes leaves such pixels unlabelled.

Scene: sky above a random horizon; a skyline of buildings (with window grids) and trees; a
perspective road towards a random vanishing point, flanked by sidewalks and sometimes terrain;
fences, poles carrying signs or traffic lights, people on the sidewalks (some crossing), cars and
trucks on the road sized by their distance. Objects are drawn far to near, so near ones occlude.
The spatial prior is strong (sky on top, road at the bottom) but every class varies in colour, and
small classes (pole, sign, light, person) are a few pixels wide.

Measured pixel shares (train split, seed 0, 2000 images at 64x128):
sky 24.7, road 21.4, building 14.2, sidewalk 12.3, terrain 9.1, car 6.5, truck 3.4, vegetation 2.7,
person 1.3, fence 0.8, pole 0.5, traffic_sign 0.3, traffic_light 0.2, ignore 2.7 (%). Share of images
containing each class: road/sidewalk/sky 100 %, building 99, pole 85, car 83, person 81, vegetation 72,
terrain 61, traffic_sign 57, traffic_light 47, fence 38, truck 36; ignore pixels in 65 %.

Difficulty knobs (module constants; changing one must bump ``synthetic.VERSION``): ``NOISE``,
``CHANNEL_JITTER``, ``BRIGHTNESS`` (global lighting range), ``N_CARS``, ``N_PEOPLE``, ``N_POLES``,
``P_EGO`` / ``P_VOID`` (how often ignore pixels appear).
"""
from __future__ import annotations

import numpy as np

from . import _draw as D

CLASS_NAMES = ("road", "sidewalk", "building", "fence", "pole", "traffic_light", "traffic_sign",
               "vegetation", "terrain", "sky", "person", "car", "truck")
(ROAD, SIDEWALK, BUILDING, FENCE, POLE, LIGHT, SIGN, VEGETATION, TERRAIN, SKY, PERSON, CAR,
 TRUCK) = range(13)
IGNORE = 255
SIZE = (64, 128)

NOISE = 0.05
CHANNEL_JITTER = 0.06
BRIGHTNESS = (0.6, 1.25)
N_CARS = (0, 6)
N_PEOPLE = (0, 6)
N_POLES = (1, 4)
P_EGO = 0.5
P_VOID = 0.5

# Cityscapes' own colour map for the shared classes
PALETTE = np.array([
    (128, 64, 128), (244, 35, 232), (70, 70, 70), (190, 153, 153), (153, 153, 153), (250, 170, 30),
    (220, 220, 0), (107, 142, 35), (152, 251, 152), (70, 130, 180), (220, 20, 60), (0, 0, 142),
    (0, 0, 70),
], dtype=np.uint8)


def _hsv(rng, h, s, v, jitter=0.03):
    return D.hsv_to_rgb(h + rng.normal(0, jitter), rng.uniform(*s), rng.uniform(*v))


def _draw(canvas, label, mask, colour, cls, texture=None):
    D.paint(canvas, mask, colour, texture)
    np.copyto(label, np.uint8(cls), where=mask)


class _Scene:
    """The per-image geometry: horizon, vanishing point and the road/sidewalk edges per row."""

    def __init__(self, rng, h, w):
        self.h, self.w, self.k = h, w, h / 64.0
        self.horizon = rng.uniform(0.36, 0.5) * h
        self.vx = rng.uniform(0.3, 0.7) * w
        self.road_l, self.road_r = self.vx - rng.uniform(0.4, 0.8) * w, self.vx + rng.uniform(0.4, 0.8) * w
        self.walk = rng.uniform(1.3, 1.7)  # sidewalk outer edge as a multiple of the road half-width

    def t(self, y):
        """Depth fraction: 0 at the horizon, 1 at the bottom row."""
        return np.clip((np.asarray(y, np.float32) - self.horizon) / (self.h - self.horizon), 0, 1)

    def edges(self, y, factor=1.0):
        t = self.t(y)
        return self.vx + factor * t * (self.road_l - self.vx), self.vx + factor * t * (self.road_r - self.vx)


def _ground(rng, sc, canvas, label):
    h, w = sc.h, sc.w
    rows = np.arange(h, dtype=np.float32) + 0.5
    below = (rows >= sc.horizon)[:, None] & np.ones((1, w), dtype=bool)
    terrain = rng.random() < 0.6
    out_cls, out_col = (TERRAIN, _hsv(rng, 0.22, (0.3, 0.6), (0.35, 0.6), 0.04)) if terrain else \
        (SIDEWALK, None)
    walk_col = _hsv(rng, 0.9, (0.05, 0.25), (0.5, 0.8), 0.1)
    road_col = _hsv(rng, 0.7, (0.0, 0.15), (0.25, 0.5), 0.1)
    _draw(canvas, label, below, out_col if terrain else walk_col, out_cls)
    wl, wr = sc.edges(rows, sc.walk)
    _draw(canvas, label, below & D.polygon_rows((h, w), wl, wr), walk_col, SIDEWALK)
    rl, rr = sc.edges(rows)
    road = below & D.polygon_rows((h, w), rl, rr)
    _draw(canvas, label, road, road_col, ROAD)
    if rng.random() < 0.6:  # dashed centre line: still road
        mid = (rl + rr) / 2
        half = 0.5 + 1.0 * sc.t(rows) * sc.k
        yy, _ = D.grid(h, w)
        dash = np.mod(yy - sc.horizon, 8 * sc.k) < 4 * sc.k
        line = road & D.polygon_rows((h, w), mid - half, mid + half) & dash
        D.paint(canvas, line, np.array([0.9, 0.9, 0.85], np.float32))


def _skyline(rng, sc, canvas, label):
    h, w, k = sc.h, sc.w, sc.k
    base = sc.horizon + 2 * k
    x = rng.uniform(-10, 0) * k
    while x < w:
        seg = rng.uniform(10, 40) * k
        kind = rng.random()
        if kind < 0.65:
            top = rng.uniform(0.03 * h, sc.horizon - 4 * k)
            mask = D.box((h, w), x, top, x + seg, base)
            col = _hsv(rng, rng.choice([0.05, 0.1, 0.6]), (0.0, 0.35), (0.3, 0.85), 0.02)
            period = rng.uniform(4, 7) * k
            ox, oy = rng.uniform(0, period, size=2)

            def windows(ys, xs, period=period, ox=ox, oy=oy):
                on = (np.mod(xs + ox, period) < 0.5 * period) & (np.mod(ys + oy, period) < 0.55 * period)
                return np.where(on, np.float32(0.55), np.float32(1.0))
            _draw(canvas, label, mask, col, BUILDING, windows if rng.random() < 0.8 else None)
        elif kind < 0.85:
            _tree(rng, sc, canvas, label, x + seg / 2, base)
        x += seg


def _tree(rng, sc, canvas, label, cx, base):
    h, w, k = sc.h, sc.w, sc.k
    height = rng.uniform(0.25, 0.5) * h
    trunk = D.box((h, w), cx - 0.8 * k, base - height * 0.6, cx + 0.8 * k, base)
    col = _hsv(rng, 0.28, (0.4, 0.8), (0.25, 0.55), 0.04)
    crown = np.zeros((h, w), dtype=bool)
    for _ in range(rng.integers(2, 5)):
        crown |= D.disk((h, w), cx + rng.normal(0, 3 * k), base - height + rng.normal(0, 3 * k),
                        rng.uniform(4, 9) * k)
    _draw(canvas, label, trunk, _hsv(rng, 0.08, (0.3, 0.6), (0.2, 0.4)), VEGETATION)
    leaves = D.checker(rng.uniform(2.5, 4) * k, rng.uniform(0, np.pi), 0.0, low=0.75)
    _draw(canvas, label, crown, col, VEGETATION, leaves)


def _pole(rng, sc, canvas, label, x, base, depth):
    h, w, k = sc.h, sc.w, sc.k
    height = (14 + 22 * depth) * k
    half = max(0.5, 0.4 + 0.8 * depth) * k
    top = base - height
    _draw(canvas, label, D.box((h, w), x - half, top, x + half, base),
          _hsv(rng, 0.6, (0.0, 0.15), (0.35, 0.7)), POLE)
    r = (2 + 2.5 * depth) * k
    kind = rng.random()
    if kind < 0.45:  # traffic sign: disc, triangle or square in a saturated colour
        cy = top + r
        form = rng.integers(3)
        mask = (D.disk((h, w), x, cy, r) if form == 0 else D.triangle((h, w), x, cy, 1.2 * r, -np.pi / 2)
                if form == 1 else D.rect((h, w), x, cy, r, r))
        _draw(canvas, label, mask, _hsv(rng, rng.choice([0.0, 0.6, 0.14]), (0.6, 1.0), (0.6, 1.0)), SIGN)
    elif kind < 0.8:  # traffic light: dark box with one lit lamp
        mask = D.box((h, w), x - 0.6 * r, top, x + 0.6 * r, top + 2.4 * r)
        _draw(canvas, label, mask, _hsv(rng, 0.1, (0.0, 0.3), (0.05, 0.2)), LIGHT)
        lamp = rng.integers(3)
        D.paint(canvas, D.disk((h, w), x, top + (0.45 + 0.75 * lamp) * r, 0.45 * r) & mask,
                D.hsv_to_rgb([0.0, 0.12, 0.35][lamp], 0.9, 1.0))


def _person(rng, sc, canvas, label, x, base, depth):
    h, w, k = sc.h, sc.w, sc.k
    height = (6 + 18 * depth) * k * rng.uniform(0.85, 1.1)
    half = height / 7
    body = D.rect((h, w), x, base - 0.55 * height, half, 0.25 * height)
    legs = (D.box((h, w), x - half, base - 0.32 * height, x - 0.2 * half, base)
            | D.box((h, w), x + 0.2 * half, base - 0.32 * height, x + half, base))
    head = D.disk((h, w), x, base - 0.88 * height, 0.12 * height)
    _draw(canvas, label, legs, _hsv(rng, 0.62, (0.1, 0.5), (0.1, 0.4)), PERSON)
    _draw(canvas, label, body, _hsv(rng, rng.uniform(0, 1), (0.2, 0.9), (0.2, 0.9), 0.0), PERSON)
    _draw(canvas, label, head, _hsv(rng, 0.07, (0.3, 0.6), (0.4, 0.8)), PERSON)


def _vehicle(rng, sc, canvas, label, x, base, depth, truck):
    h, w, k = sc.h, sc.w, sc.k
    width = (8 + 32 * depth) * k * (1.3 if truck else 1.0)
    height = width * (0.75 if truck else 0.5)
    col = _hsv(rng, rng.uniform(0, 1), (0.0, 0.8), (0.15, 0.95), 0.0)
    cls = TRUCK if truck else CAR
    if truck:
        cab = D.box((h, w), x - width / 2, base - height * 0.7, x - width / 6, base)
        _draw(canvas, label, D.box((h, w), x - width / 6, base - height, x + width / 2, base - 0.15 * height),
              _hsv(rng, rng.choice([0.0, 0.14, 0.6]), (0.0, 0.4), (0.6, 0.95)), cls)
        _draw(canvas, label, cab, col, cls)
    else:
        body = D.box((h, w), x - width / 2, base - 0.6 * height, x + width / 2, base - 0.15 * height)
        cabin = D.box((h, w), x - width * 0.32, base - height, x + width * 0.32, base - 0.55 * height)
        _draw(canvas, label, body | cabin, col, cls)
        glass = D.box((h, w), x - width * 0.27, base - 0.92 * height, x + width * 0.27, base - 0.62 * height)
        D.paint(canvas, glass, _hsv(rng, 0.58, (0.1, 0.4), (0.15, 0.45)))
    for sx in (-0.3, 0.3):
        wheel = D.disk((h, w), x + sx * width, base - 0.15 * height, max(0.1 * width, 0.8 * k))
        _draw(canvas, label, wheel, np.array([0.08, 0.08, 0.08], np.float32), cls)


def generate(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Draw one ``street`` image.

    Args:
        rng: generator seeded from ``(seed, split, index)``; the only source of randomness.
        height, width: image size in pixels (the layout is designed for a 1:2 aspect).

    Returns:
        ``(image uint8 (H, W, 3), label uint8 (H, W))`` with 255 marking ignored pixels.
    """
    sc = _Scene(rng, height, width)
    h, w, k = height, width, sc.k
    canvas = np.empty((h, w, 3), dtype=np.float32)
    label = np.full((h, w), SKY, dtype=np.uint8)
    sky_col = _hsv(rng, 0.58, (0.0, 0.5), (0.6, 1.0))
    canvas[:] = sky_col
    canvas += D.smooth_field(rng, (h, w), 0.08, max_freq=1.0)[..., None]
    _skyline(rng, sc, canvas, label)
    _ground(rng, sc, canvas, label)
    if rng.random() < 0.4:  # fence along the far edge of the sidewalk
        x0 = rng.uniform(-0.2, 0.7) * w
        fh = rng.uniform(3, 6) * k
        slats = D.stripes(rng.uniform(2.5, 4) * k, 0.0, 0.0, low=0.6)
        mask = D.box((h, w), x0, sc.horizon + 2 * k - fh, x0 + rng.uniform(0.2, 0.5) * w, sc.horizon + 2 * k)
        _draw(canvas, label, mask, _hsv(rng, 0.08, (0.1, 0.4), (0.35, 0.7)), FENCE, slats)

    # things, sorted far to near; each entry: (base row, kind, x)
    items = []
    for _ in range(rng.integers(N_POLES[0], N_POLES[1] + 1)):
        items.append(("pole", rng.uniform(sc.horizon + 3 * k, h)))
    for _ in range(rng.integers(N_PEOPLE[0], N_PEOPLE[1] + 1)):
        items.append(("person", rng.uniform(sc.horizon + 3 * k, h)))
    n_cars = rng.integers(N_CARS[0], N_CARS[1] + 1)
    for _ in range(max(n_cars, 1 if not items else 0)):
        items.append(("truck" if rng.random() < 0.15 else "car", rng.uniform(sc.horizon + 3 * k, h)))
    if rng.random() < P_VOID:
        items.append(("void", rng.uniform(sc.horizon + 3 * k, h)))
    for kind, base in sorted(items, key=lambda item: item[1]):
        depth = float(sc.t(base))
        rl, rr = sc.edges(base)
        wl, wr = sc.edges(base, sc.walk)
        on_walk = rng.uniform(wl, rl) if rng.random() < 0.5 else rng.uniform(rr, wr)
        if kind == "pole":
            _pole(rng, sc, canvas, label, on_walk, base, depth)
        elif kind == "person":
            x = rng.uniform(rl, rr) if rng.random() < 0.25 else on_walk
            _person(rng, sc, canvas, label, x, base, depth)
        elif kind == "void":
            r = (1.5 + 3 * depth) * k
            mask = D.rect((h, w), on_walk, base - r, r, r * rng.uniform(0.7, 1.5))
            _draw(canvas, label, mask, _hsv(rng, rng.uniform(0, 1), (0.0, 0.6), (0.1, 0.7)), IGNORE)
        else:
            lane = rng.uniform(0.15, 0.85)
            _vehicle(rng, sc, canvas, label, rl + lane * (rr - rl), base, depth, kind == "truck")
    if rng.random() < P_EGO:  # ego vehicle's bonnet
        yy, xx = D.grid(h, w)
        top = h - rng.uniform(3, 7) * k
        bonnet = yy >= top + ((xx - w / 2) / (0.7 * w)) ** 2 * (h - top) * 2
        _draw(canvas, label, bonnet, _hsv(rng, rng.uniform(0, 1), (0.0, 0.3), (0.05, 0.3)), IGNORE)
    return D.finish(rng, canvas, NOISE, CHANNEL_JITTER, brightness=BRIGHTNESS), label
