# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Project embeddings larger than memory on a Dask cluster
#
# A corpus of embeddings rarely fits in memory at once. relreps projects it block by block:
# `relreps.blockwise.project_to_file` writes the relative representation to a `.npy` file under
# a memory budget, resumes after an interruption, and runs its blocks on a `dask.distributed`
# cluster when given one; `relreps.relative_projection` on a Dask array stays lazy.
#
# Here the "corpus" is a folder of `.npy` shards written for the tutorial (set
# `RELREPS_TUTORIAL_ROWS` for more rows); the same calls take a single `.npy` file or a zarr
# store. Needs `pip install relreps[dask]`.

# %%
import json
import os
import tempfile
from pathlib import Path

import numpy as np
from distributed import Client, LocalCluster

import relreps
from relreps.blockwise import project_to_file
from relreps.dask import from_rows

ROWS = int(os.environ.get("RELREPS_TUTORIAL_ROWS", "400000"))
folder = Path(tempfile.mkdtemp())
(folder / "shards").mkdir()
rng = np.random.default_rng(0)
for number, start in enumerate(range(0, ROWS, 100_000)):
    shard = rng.normal(size=(min(100_000, ROWS - start), 128)).astype(np.float32)
    np.save(folder / "shards" / f"part-{number:04d}.npy", shard)
print(ROWS, "rows of 128 float32 in", len(list((folder / "shards").iterdir())), "shards")

# %% [markdown]
# Anchors are rows of the corpus; `select_anchors` needs only the row count for random anchors,
# and the anchors' vectors are read from the shards.

# %%
rows = from_rows(folder / "shards", chunk_rows=50_000)  # lazy (n, 128) Dask array
anchors = relreps.select_anchors(None, 256, n_samples=rows.shape[0], seed=0)
anchor_vectors = rows[np.sort(anchors.indices)].compute()
print(rows, anchor_vectors.shape)

# %% [markdown]
# A local cluster of two single-threaded workers stands in for a real one (pass its
# `tcp://host:8786` address instead). Workers must see the input and output paths.

# %%
cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
client = Client(cluster)
run = project_to_file(
    folder / "shards", anchor_vectors, folder / "relative.npy", memory="1GB", scheduler=client,
    progress=False,
)  # fmt: skip
print(run)

# %% [markdown]
# The file on disk equals the in-memory projection, and the lazy Dask projection agrees too.

# %%
relative = np.load(folder / "relative.npy", mmap_mode="r")
lazy = relreps.relative_projection(rows, anchor_vectors)
check = slice(ROWS // 2, ROWS // 2 + 1000)
expected = relreps.relative_projection(np.asarray(rows[check]), anchor_vectors)
np.testing.assert_allclose(relative[check], expected, rtol=1e-5, atol=1e-6)
np.testing.assert_allclose(lazy[check].compute(), expected, rtol=1e-5, atol=1e-6)
print(relative.shape, relative.dtype)

# %% [markdown]
# Beside the output, a JSON file records the input's fingerprint, the anchors' checksum and the
# settings. An interrupted run, started again with the same arguments, continues from its
# finished blocks (verifying that the input has not changed); a finished file is never
# overwritten by accident.

# %%
meta = json.loads((folder / "relative.npy.json").read_text())
print({key: meta[key] for key in ("n_anchors", "similarity", "dtype", "anchors_sha256")})
client.close()
cluster.close()
