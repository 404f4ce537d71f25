"""Seeded binary masks for the parity tests: blobs, noise and the edge cases, at real sizes."""

from __future__ import annotations

import numpy as np

#: (height, width) of the data sets: Kvasir-like 1080x1350, PolypGen-like 576x720, CVC 288x384.
REAL_SIZES = ((1080, 1350), (576, 720), (288, 384))


def blob(shape: tuple[int, int], rng: np.random.Generator, count: int = 2) -> np.ndarray:
    """Union of random ellipses, uint8 0/1."""
    h, w = shape
    yy, xx = np.mgrid[:h, :w]
    out = np.zeros(shape, dtype=bool)
    for _ in range(count):
        cy, cx = rng.uniform(0.2, 0.8) * h, rng.uniform(0.2, 0.8) * w
        ry, rx = rng.uniform(0.05, 0.3) * h, rng.uniform(0.05, 0.3) * w
        out |= ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1
    return out.astype(np.uint8)


def noise(shape: tuple[int, int], rng: np.random.Generator, density: float = 0.3) -> np.ndarray:
    """Independent random pixels, uint8 0/1."""
    return (rng.random(shape) < density).astype(np.uint8)


def single_pixel(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(shape, dtype=np.uint8)
    out[rng.integers(shape[0]), rng.integers(shape[1])] = 1
    return out


def one_row(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(shape, dtype=np.uint8)
    out[rng.integers(shape[0]), :] = 1
    return out


def equal_rows(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Every row the same random row (vertical stripes)."""
    return np.broadcast_to(noise((1, shape[1]), rng, 0.5), shape).copy()


def case_pairs(seed: int = 0) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(label, truth, prediction) uint8 0/1 pairs covering the edge cases at the real sizes."""
    rng = np.random.default_rng(seed)
    big, mid, small = REAL_SIZES
    empty = lambda s: np.zeros(s, np.uint8)  # noqa: E731
    full = lambda s: np.ones(s, np.uint8)  # noqa: E731
    return [
        ("blobs-1080", blob(big, rng), blob(big, rng)),
        ("blobs-576", blob(mid, rng), blob(mid, rng, 3)),
        ("blob-vs-noise-288", blob(small, rng), noise(small, rng, 0.1)),
        ("noise-288", noise(small, rng), noise(small, rng, 0.5)),
        ("empty-pred-576", blob(mid, rng), empty(mid)),
        ("empty-truth-288", empty(small), blob(small, rng)),
        ("both-empty-288", empty(small), empty(small)),
        ("both-full-288", full(small), full(small)),
        ("full-vs-blob-288", full(small), blob(small, rng)),
        ("single-pixel-576", single_pixel(mid, rng), single_pixel(mid, rng)),
        ("one-row-288", one_row(small, rng), blob(small, rng)),
        ("equal-rows-288", equal_rows(small, rng), equal_rows(small, rng)),
        ("equal-rows-vs-empty-288", equal_rows(small, rng), empty(small)),
    ]
