"""Vectorised numpy drawing primitives shared by the synthetic presets.

Every primitive returns a boolean mask (or a float map) over the whole ``(H, W)`` canvas. Full-canvas
numpy operations on a 96x96 grid cost about 10 microseconds each, so a scene of a few dozen shapes
draws in about a millisecond without any per-pixel Python loop. Coordinates are in pixels with
pixel centres at ``i + 0.5``; angles are in radians.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=8)
def grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates ``(yy, xx)``, each float32 ``(H, W)``; cached and read-only."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32) + 0.5
    yy.setflags(write=False)
    xx.setflags(write=False)
    return yy, xx


def _crop(shape, cx, cy, reach):
    """Slices of the canvas within ``reach`` pixels of ``(cx, cy)``, and their coordinate grids.

    Shapes are evaluated only inside their bounding box: most objects are small, so this is where
    the generator's speed comes from.
    """
    h, w = shape
    y0, y1 = max(int(cy - reach) - 1, 0), min(int(cy + reach) + 2, h)
    x0, x1 = max(int(cx - reach) - 1, 0), min(int(cx + reach) + 2, w)
    yy, xx = grid(h, w)
    sl = (slice(y0, max(y1, y0)), slice(x0, max(x1, x0)))
    return sl, yy[sl] - cy, xx[sl] - cx


def _place(shape, sl, local):
    mask = np.zeros(shape, dtype=bool)
    mask[sl] = local
    return mask


def disk(shape, cx, cy, r):
    """Filled circle of radius ``r``."""
    sl, dy, dx = _crop(shape, cx, cy, r)
    return _place(shape, sl, dx * dx + dy * dy <= r * r)


def ring(shape, cx, cy, r_out, r_in):
    """Annulus between radii ``r_in`` and ``r_out``."""
    sl, dy, dx = _crop(shape, cx, cy, r_out)
    d2 = dx * dx + dy * dy
    return _place(shape, sl, (d2 <= r_out * r_out) & (d2 >= r_in * r_in))


def rect(shape, cx, cy, half_w, half_h, angle=0.0):
    """Filled rectangle of half-sizes ``half_w`` x ``half_h`` rotated by ``angle`` about its centre."""
    sl, dy, dx = _crop(shape, cx, cy, float(np.hypot(half_w, half_h)))
    c, s = np.cos(angle), np.sin(angle)
    return _place(shape, sl, (np.abs(dx * c + dy * s) <= half_w) & (np.abs(dy * c - dx * s) <= half_h))


def box(shape, x0, y0, x1, y1):
    """Axis-aligned rectangle ``[x0, x1) x [y0, y1)`` in pixel coordinates (cheap slicing)."""
    mask = np.zeros(shape, dtype=bool)
    h, w = shape
    ya, yb = max(int(round(y0)), 0), min(int(round(y1)), h)
    xa, xb = max(int(round(x0)), 0), min(int(round(x1)), w)
    if ya < yb and xa < xb:
        mask[ya:yb, xa:xb] = True
    return mask


def triangle(shape, cx, cy, r, angle=0.0):
    """Filled equilateral triangle with circumradius ``r`` (inradius ``r / 2``)."""
    sl, dy, dx = _crop(shape, cx, cy, r)
    local = np.ones(dx.shape, dtype=bool)
    for k in range(3):
        a = angle + k * 2.0 * np.pi / 3.0
        local &= dx * np.cos(a) + dy * np.sin(a) <= 0.5 * r
    return _place(shape, sl, local)


def polygon_rows(shape, left, right):
    """Mask of pixels with ``left[y] <= x < right[y]`` for per-row bounds (float arrays of length H)."""
    _, xx = grid(*shape)
    return (xx >= np.asarray(left, np.float32)[:, None]) & (xx < np.asarray(right, np.float32)[:, None])


# --- textures: callables mapping pixel coordinates (ys, xs) to a gain in [low, 1] --------------------------

def stripes(period, angle, phase, low=0.5):
    """Hard-edged parallel stripes: gain ``1`` on half the period and ``low`` on the other half."""
    c, s = np.float32(np.cos(angle)), np.float32(np.sin(angle))

    def tex(ys, xs):
        on = np.mod(xs * c + ys * s + phase, period) < 0.5 * period
        return np.where(on, np.float32(1.0), np.float32(low))
    return tex


def checker(period, angle, phase, low=0.5):
    """Checkerboard of square cells of side ``period / 2``, alternating gain ``1`` and ``low``."""
    c, s = np.float32(np.cos(angle)), np.float32(np.sin(angle))
    cell = 0.5 * period

    def tex(ys, xs):
        u, v = (xs * c + ys * s + phase) / cell, (ys * c - xs * s + phase) / cell
        on = (np.floor(u) + np.floor(v)) % 2 == 0
        return np.where(on, np.float32(1.0), np.float32(low))
    return tex


def smooth_field(rng, shape, amplitude, n_waves=3, max_freq=2.0):
    """Low-frequency shading: a sum of random plane waves, mean zero, peak about ``amplitude``.

    Each wave ``cos(a x + b y + c)`` is expanded into two outer products of 1-D vectors, which is
    much cheaper than evaluating the cosine on the full grid.
    """
    h, w = shape
    y = np.arange(h, dtype=np.float32) + 0.5
    x = np.arange(w, dtype=np.float32) + 0.5
    field = np.zeros(shape, dtype=np.float32)
    for _ in range(n_waves):
        fx, fy = rng.uniform(-max_freq, max_freq, size=2)
        ph = rng.uniform(0, 2 * np.pi)
        ax, by = 2 * np.pi * fx * x / w + ph, 2 * np.pi * fy * y / h
        field += np.outer(np.cos(by), np.cos(ax)) - np.outer(np.sin(by), np.sin(ax))
    return field * np.float32(amplitude / n_waves)


# --- colour ---------------------------------------------------------------------------------------------------

def hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    """One HSV colour (hue in turns) to float32 RGB in [0, 1]."""
    h = h % 1.0
    i = int(h * 6.0) % 6
    f = h * 6.0 - int(h * 6.0)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    rgb = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return np.asarray(rgb, dtype=np.float32)


def paint(canvas, mask, colour, texture=None):
    """Write ``colour`` into ``canvas`` where ``mask``, modulated by ``texture(ys, xs)`` when given."""
    if texture is None:
        np.copyto(canvas, colour, where=mask[..., None])  # faster than boolean-index assignment
    else:
        yy, xx = grid(*mask.shape)
        canvas[mask] = texture(yy[mask], xx[mask])[:, None] * colour[None, :]


def finish(rng, canvas, noise, channel_jitter, brightness=(1.0, 1.0)):
    """Global photometric jitter and pixel noise, then quantise to uint8 ``(H, W, 3)``.

    Args:
        rng: the image's generator.
        canvas: float RGB canvas ``(H, W, 3)``; modified in place.
        noise: standard deviation of i.i.d. Gaussian pixel noise (in [0, 1] units).
        channel_jitter: standard deviation of a per-channel gain (a cheap white-balance shift).
        brightness: range of a global gain.
    """
    gain = rng.uniform(*brightness) * (1.0 + rng.normal(0.0, channel_jitter, size=3))
    canvas *= gain.astype(np.float32)
    canvas += rng.standard_normal(canvas.shape, dtype=np.float32) * np.float32(noise)
    np.clip(canvas, 0.0, 1.0, out=canvas)
    return (canvas * 255.0 + 0.5).astype(np.uint8)
