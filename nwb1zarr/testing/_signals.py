"""Synthetic numbers that look (and compress) roughly like the real ones; every block is seeded from
``(seed, stream, block start)`` so files are reproducible whatever the write order."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRAME_PERIOD = 0.03322  # s, 2p acquisition (~30.1 Hz)
PIX_MASK_COLUMNS = ("x", "y")
"""Column order of every ``pix_mask`` row (NWB 1.0 spec / ainwb): x = column index, y = row index,
so ``img_mask[y, x] == pix_mask_weight``.  Independent of :class:`SessionSpec`."""
_KERNEL = (np.exp(-np.arange(90) / 12.0) * (1 - np.exp(-np.arange(90) / 1.5))).astype(np.float32)


def rng(seed: int, *stream: int) -> np.random.Generator:
    """Independent generator for one named stream of one session."""
    return np.random.default_rng([seed, *stream])


def frame_timestamps(n: int, seed: int) -> np.ndarray:
    """``n`` 2p frame times (float64 s): start ~9.3 s, step ~0.0332 s with jitter, 5 decimals."""
    g = rng(seed, 1)
    steps = FRAME_PERIOD + g.normal(0.0, 2e-5, n)
    steps[0] = 9.2 + g.uniform(0.0, 0.3)
    return np.round(np.cumsum(steps), 5)


@dataclass(frozen=True)
class TraceModel:
    """Per-ROI parameters of the fluorescence model; :meth:`block` renders frames [start, stop)."""

    seed: int
    f0: np.ndarray          # cell baseline
    np0: np.ndarray         # neuropil baseline
    r: np.ndarray           # neuropil contamination ratio (float32)
    rmse: np.ndarray        # (float32)
    period: np.ndarray      # slow drift period (frames)
    phase: np.ndarray
    event_roi: np.ndarray   # calcium events, sorted by frame
    event_frame: np.ndarray
    event_amp: np.ndarray

    @classmethod
    def create(cls, n_rois: int, n_frames: int, seed: int) -> TraceModel:
        g = rng(seed, 20)
        f0 = g.uniform(150, 900, n_rois)
        counts = g.poisson(g.uniform(0.001, 0.006, n_rois) * n_frames)
        roi = np.repeat(np.arange(n_rois), counts)
        frame = g.integers(0, n_frames, roi.size)
        order = np.argsort(frame, kind="stable")
        return cls(seed=seed, f0=f0, np0=f0 * g.uniform(0.5, 0.9, n_rois),
                   r=g.uniform(0.55, 0.85, n_rois).astype(np.float32),
                   rmse=g.uniform(0.05, 0.4, n_rois).astype(np.float32),
                   period=g.uniform(2000, 9000, n_rois), phase=g.uniform(0, 2 * np.pi, n_rois),
                   event_roi=roi[order], event_frame=frame[order],
                   event_amp=g.lognormal(np.log(0.5), 0.5, roi.size).astype(np.float32)[order])

    def transients(self, start: int, stop: int) -> np.ndarray:
        """dF/F of calcium events for frames [start, stop), shape (N, stop - start)."""
        width = stop - start
        lo, hi = np.searchsorted(self.event_frame, [start - _KERNEL.size + 1, stop])
        cols = self.event_frame[lo:hi, None] - start + np.arange(_KERNEL.size)
        flat = self.event_roi[lo:hi, None] * width + cols
        vals = self.event_amp[lo:hi, None] * _KERNEL
        ok = (cols >= 0) & (cols < width)
        out = np.bincount(flat[ok], weights=vals[ok], minlength=self.f0.size * width)
        return out.reshape(self.f0.size, width).astype(np.float32)

    def block(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """raw, neuropil, demixed and dff (float32, quantised) for frames [start, stop)."""
        g = rng(self.seed, 21, start)
        t = np.arange(start, stop, dtype=np.float64)
        drift = np.sin(2 * np.pi * t / self.period[:, None] + self.phase[:, None]).astype(np.float32)
        dff = self.transients(start, stop)
        shape = dff.shape
        f0 = self.f0[:, None].astype(np.float32)
        np0 = self.np0[:, None].astype(np.float32)
        neuropil = np0 * (1 + 0.04 * drift + 0.03 * g.standard_normal(shape, dtype=np.float32))
        raw = f0 * (1 + dff + 0.02 * g.standard_normal(shape, dtype=np.float32)) + self.r[:, None] * neuropil
        demixed = raw + f0 * 0.005 * g.standard_normal(shape, dtype=np.float32)
        dff += 0.004 * drift + 0.03 * g.standard_normal(shape, dtype=np.float32)
        return {"raw": _quantise(raw, 16), "neuropil": _quantise(neuropil, 16),
                "demixed": _quantise(demixed, 16), "dff": _quantise(dff, 1024)}


def _quantise(x: np.ndarray, steps_per_unit: int) -> np.ndarray:
    """Round in place to multiples of 1 / steps_per_unit (float32)."""
    x *= steps_per_unit
    np.round(x, out=x)
    x /= steps_per_unit
    return x


def smooth_frames(start: int, stop: int, shape: tuple[int, int], *, seed: int, stream: int,
                  drift: float) -> np.ndarray:
    """Frames [start, stop) of a smooth random image sequence, values 0..255 (uint8).

    ``drift`` is the phase change per frame (small: a movie; large: unrelated images).
    """
    g = rng(seed, stream)
    k = 5
    amp = g.uniform(15, 45, k)
    fy, fx = g.uniform(0.5, 4.0, (2, k))
    py, px = g.uniform(0, 2 * np.pi, (2, k))
    wy, wx = g.uniform(-drift, drift, (2, k))
    y = 2 * np.pi * np.arange(shape[0]) / shape[0]
    x = 2 * np.pi * np.arange(shape[1]) / shape[1]
    out = np.empty((stop - start, *shape), dtype=np.uint8)
    noise = rng(seed, stream, start)
    for b0 in range(start, stop, 16):
        i = np.arange(b0, min(b0 + 16, stop))[:, None, None]
        cy = amp[:, None] * np.cos(fy[:, None] * y + py[:, None] + wy[:, None] * i)   # (B, k, H)
        cx = np.cos(fx[:, None] * x + px[:, None] + wx[:, None] * i)                  # (B, k, W)
        img = np.matmul(cy.transpose(0, 2, 1).astype(np.float32), cx.astype(np.float32))
        img += noise.integers(-3, 4, img.shape, dtype=np.int8)
        img += 128
        np.clip(img, 0, 255, out=img)
        out[b0 - start:b0 - start + i.size] = img
    return out


def sparse_noise_frames(start: int, stop: int, shape: tuple[int, int], *, seed: int, stream: int
                        ) -> np.ndarray:
    """Locally-sparse-noise frames: grey 127 with a few black (0) / white (255) squares (uint8)."""
    g = rng(seed, stream, start)
    frames = np.full((stop - start, *shape), 127, dtype=np.uint8)
    spots = g.random(frames.shape) < 0.025
    frames[spots] = np.where(g.random(int(spots.sum())) < 0.5, 0, 255)
    return frames


@dataclass(frozen=True)
class RoiMask:
    """One ROI as stored: ``pix_mask`` rows follow :data:`PIX_MASK_COLUMNS`."""

    fov: tuple[int, int]
    pix_mask: np.ndarray         # uint16 (K, 2), rows (x, y)
    pix_mask_weight: np.ndarray  # float32 (K,)

    @property
    def img_mask(self) -> np.ndarray:
        """float32 (H, W) full-frame mask, built on demand (1 MB at 512x512)."""
        img = np.zeros(self.fov, dtype=np.float32)
        img[self.rows, self.cols] = self.pix_mask_weight
        return img

    @property
    def rows(self) -> np.ndarray:
        return self.pix_mask[:, PIX_MASK_COLUMNS.index("y")]

    @property
    def cols(self) -> np.ndarray:
        return self.pix_mask[:, PIX_MASK_COLUMNS.index("x")]


def roi_masks(n_rois: int, fov: tuple[int, int], seed: int) -> list[RoiMask]:
    """Elliptical 0/1 ROIs (may overlap), each with >= 1 pixel (its centre)."""
    g = rng(seed, 30)
    height, width = fov
    radius = max(1.5, min(fov) / 512 * 7)
    reach = int(np.ceil(radius * 1.3))
    dy, dx = np.mgrid[-reach:reach + 1, -reach:reach + 1]
    masks = []
    for _ in range(n_rois):
        ry, rx = radius * g.uniform(0.7, 1.3, 2)
        cy = int(g.integers(int(ry), height - int(ry)))
        cx = int(g.integers(int(rx), width - int(rx)))
        inside = (dy / ry) ** 2 + (dx / rx) ** 2 <= 1
        ys, xs = dy[inside] + cy, dx[inside] + cx
        keep = (ys >= 0) & (ys < height) & (xs >= 0) & (xs < width)
        order = np.lexsort((xs[keep], ys[keep]))  # row-major, like np.nonzero(img_mask)
        coords = {"x": xs[keep][order], "y": ys[keep][order]}
        pix = np.stack([coords[c] for c in PIX_MASK_COLUMNS], axis=1).astype(np.uint16)
        masks.append(RoiMask(fov, pix, np.ones(len(pix), dtype=np.float32)))
    return masks


def max_projection(masks: list[RoiMask], fov: tuple[int, int], seed: int) -> np.ndarray:
    """uint16 (H, W) mean-like image: smooth background plus brighter ROIs."""
    background = smooth_frames(0, 1, fov, seed=seed, stream=31, drift=0.0)[0].astype(np.float64)
    image = 600 + 6 * background + rng(seed, 32).normal(0, 40, fov)
    for m in masks:
        image[m.rows, m.cols] += 900 * m.pix_mask_weight
    return np.clip(image, 0, 65535).astype(np.uint16)


def _smooth_series(n: int, g: np.random.Generator, *, periods: tuple[float, float]) -> np.ndarray:
    t = np.arange(n)
    out = np.zeros(n)
    for _ in range(6):
        out += g.normal() * np.sin(2 * np.pi * t / g.uniform(*periods) + g.uniform(0, 2 * np.pi))
    return out / 6


def running_speed(n: int, seed: int) -> np.ndarray:
    """float32 cm/s: resting with running bouts, small negative noise."""
    g = rng(seed, 40)
    bouts = np.clip(_smooth_series(n, g, periods=(600, 6000)) * 3, 0, None)
    return (bouts * 25 + g.normal(0, 0.8, n)).astype(np.float32)


def motion_offsets(n: int, seed: int) -> np.ndarray:
    """float32 (n, 2) integer-valued x/y shifts in pixels."""
    g = rng(seed, 41)
    steps = g.choice([-1.0, 0.0, 1.0], size=(n, 2), p=[0.02, 0.96, 0.02])
    return np.clip(np.cumsum(steps, axis=0), -12, 12).astype(np.float32)


def pupil(n: int, seed: int) -> dict[str, np.ndarray]:
    """Eye tracking: location (cm), spherical location (deg), pupil area (px); NaN where tracking failed."""
    g = rng(seed, 42)
    x = 4 * _smooth_series(n, g, periods=(100, 3000)) + g.normal(0, 0.05, n)
    y = 3 * _smooth_series(n, g, periods=(100, 3000)) + g.normal(0, 0.05, n)
    area = 3000 + 1500 * _smooth_series(n, g, periods=(300, 9000)) + g.normal(0, 40, n)
    lost = np.zeros(n, dtype=bool)
    for s in g.integers(0, n, max(2, n // 400)):
        lost[s:s + int(g.integers(1, 15))] = True
    location = np.stack([x, y], axis=1)
    spherical = np.degrees(np.arctan2(location, 15.0))
    location[lost] = np.nan
    spherical[lost] = np.nan
    area[lost] = np.nan
    return {"location": location, "spherical": spherical, "area": area}
