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
# # Stitch a classifier across text encoders
#
# Train a topic classifier on one sentence encoder's embeddings, then feed it another
# encoder's embeddings of new texts, with no retraining. On absolute embeddings this is
# impossible (the widths differ) or meaningless (the coordinates are unrelated); on relative
# embeddings (cosine to the same anchor texts in each space) it works.
#
# Data: Debian package descriptions in 10 topics (fetched once from Debian's package index);
# encoders: MiniLM (384-d), the multilingual Universal Sentence Encoder (512-d).

# %%
import os

import numpy as np
from sklearn.linear_model import LogisticRegression

import relreps
from relreps.cache import EmbeddingCache
from relreps.datasets.debian import load_descriptions, topic_dataset
from relreps.datasets.text import balanced_sample
from relreps.encoders import default_cache_dir, get_encoder

PER_TOPIC = int(os.environ.get("RELREPS_TUTORIAL_PER_TOPIC", "100"))  # texts per topic

records, _ = load_descriptions(default_cache_dir() / "text")
data = topic_dataset(records, max_chars=300)
rows = balanced_sample(data.labels, PER_TOPIC, seed=0)
texts, labels = [data.texts[i] for i in rows], data.labels[rows]
cache = EmbeddingCache(default_cache_dir() / "embeddings")
x = {
    name: cache.embed(get_encoder(name), texts, label="tutorial", progress=False)
    for name in ("minilm", "use")
}
order = np.random.default_rng(0).permutation(len(texts))
train, test = order[: len(order) * 7 // 10], order[len(order) * 7 // 10 :]
print(len(train), "training and", len(test), "test texts")

# %% [markdown]
# Anchors: class-balanced training texts. *Parallel* anchors are the same texts embedded by
# each encoder; `anchors.take(space)` picks those rows from any space.

# %%
anchors = relreps.select_anchors(None, 10 * PER_TOPIC // 5, "stratified", labels=labels[train],
                                 seed=0)  # fmt: skip


def relative(name: str, center=None) -> np.ndarray:
    space = x[name]
    return relreps.relative_projection(space, anchors.take(space[train]), center=center)


# %% [markdown]
# A logistic regression on each representation of MiniLM's training texts, scored on the
# test texts as each encoder represents them. "Centred" subtracts the anchors' mean in each
# space before the cosine (later work; it often helps across encoders).

# %%
scores = {}
for mode, center in (("relative", None), ("relative, centred", "anchors")):
    spaces = {name: relative(name, center) for name in x}
    head = LogisticRegression(max_iter=3000).fit(spaces["minilm"][train], labels[train])
    for name in x:
        scores[mode, name] = head.score(spaces[name][test], labels[test])
absolute = LogisticRegression(max_iter=3000).fit(x["minilm"][train], labels[train])
scores["absolute", "minilm"] = absolute.score(x["minilm"][test], labels[test])
for (mode, name), accuracy in scores.items():
    kind = "own encoder" if name == "minilm" else "stitched"
    print(f"{mode:18s} head trained on MiniLM, texts from {name:6s} ({kind}): {accuracy:.3f}")

# %% [markdown]
# The absolute head cannot even read USE's 512-d vectors. The relative head trained on MiniLM
# reads USE's relative vectors well above chance (0.1), without ever seeing USE.

# %%
assert scores["relative", "use"] > 0.3
assert scores["relative", "minilm"] > 0.5
