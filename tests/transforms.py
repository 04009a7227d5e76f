"""Random transformations of a latent space, shared by the invariance tests."""

from __future__ import annotations

import numpy as np


def transform(kind: str, rng: np.random.Generator, d: int, magnitude: float):
    """A random transformation of the given kind, applied identically to samples and anchors."""
    if kind == "orthogonal":
        q, r = np.linalg.qr(rng.normal(size=(d, d)))
        q = q * np.sign(np.diag(r))  # Haar-distributed, reflections included
        return lambda z: z @ q
    if kind == "isotropic_scaling":
        return lambda z: magnitude * z
    if kind == "translation":
        shift = magnitude * rng.normal(size=d)
        return lambda z: z + shift
    if kind == "permutation":
        perm = rng.permutation(d)
        while d > 1 and np.array_equal(perm, np.arange(d)):
            perm = rng.permutation(d)
        return lambda z: z[:, perm]
    raise AssertionError(kind)
