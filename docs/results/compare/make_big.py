"""Two 1,000,000 x 384 float32 embedding files (1.43 GiB each) of the same samples: b is a
rotated, rescaled copy of a plus noise, a stand-in for two models' embeddings larger than this
machine would like to hold; labels.npy: 20 clusters. Run in an empty folder."""
import numpy as np
from numpy.lib.format import open_memmap
n, d = 1_000_000, 384
rng = np.random.default_rng(0)
q = np.linalg.qr(rng.normal(size=(d, d)))[0].astype(np.float32)
centres = rng.normal(size=(20, d)).astype(np.float32) * 2
a = open_memmap("a.npy", mode="w+", dtype=np.float32, shape=(n, d))
b = open_memmap("b.npy", mode="w+", dtype=np.float32, shape=(n, d))
labels = rng.integers(0, 20, size=n)
for s in range(0, n, 100_000):
    e = s + 100_000
    x = centres[labels[s:e]] + rng.normal(size=(e - s, d)).astype(np.float32)
    a[s:e] = x
    b[s:e] = 1.7 * x @ q + 0.3 * rng.normal(size=(e - s, d)).astype(np.float32)
a.flush(); b.flush(); np.save("labels.npy", labels)
