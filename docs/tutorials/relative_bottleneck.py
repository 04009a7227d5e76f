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
# # Train a relative bottleneck in your own PyTorch model
#
# Two copies of the same network, trained from different seeds, learn latent spaces that differ
# by roughly an angle-preserving map. Put `relreps.RelativeProjection` between the encoder and
# the classifier, and the classifier reads *cosines to anchor samples* instead of coordinates:
# then the encoder of one copy can be joined to the classifier of the other with no training.
#
# Data: scikit-learn's 8x8 handwritten digits (1,797 images, shipped with scikit-learn).

# %%
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import relreps

digits = load_digits()
x = torch.tensor(digits.data / 16.0, dtype=torch.float32)
y = torch.tensor(digits.target)
train, test = train_test_split(np.arange(len(y)), test_size=0.3, random_state=0, stratify=y)
anchors = relreps.select_anchors(None, 64, "stratified", labels=digits.target[train], seed=0)
anchor_images = anchors.take(x[train])  # the same 64 images for every model
print(len(train), "training images,", len(test), "test images,", len(anchors), "anchors")


# %% [markdown]
# The model: an encoder to a 32-d latent, then either the latent itself (absolute) or its
# cosine to the anchors' latents followed by a LayerNorm (relative), then a linear classifier.
# The anchors go through the *same* encoder at every step, so their latents move with it.


# %%
class Classifier(torch.nn.Module):
    def __init__(self, relative: bool, seed: int) -> None:
        super().__init__()
        with torch.random.fork_rng():  # seeded initialisation, global generator left as it was
            torch.manual_seed(seed)
            self.encoder = torch.nn.Sequential(
                torch.nn.Linear(64, 128), torch.nn.SiLU(), torch.nn.Linear(128, 32)
            )
            if relative:  # cosine to the anchors' latents, then a LayerNorm
                k = len(anchor_images)
                self.bottleneck = relreps.RelativeProjection(k, output_norm="layernorm")
            else:
                self.bottleneck = torch.nn.LayerNorm(32)
            self.head = torch.nn.Linear(len(anchor_images) if relative else 32, 10)
        self.relative = relative

    def represent(self, images: torch.Tensor) -> torch.Tensor:
        latents = self.encoder(images)
        if self.relative:
            return self.bottleneck(latents, self.encoder(anchor_images))
        return self.bottleneck(latents)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.represent(images))


def trained(relative: bool, seed: int, epochs: int = 60) -> Classifier:
    model = Classifier(relative, seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    order = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for batch in torch.randperm(len(train), generator=order).split(128):
            rows = train[batch.numpy()]
            loss = torch.nn.functional.cross_entropy(model(x[rows]), y[rows])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return model.eval()


models = {(kind, seed): trained(kind == "relative", seed) for kind in ("absolute", "relative")
          for seed in (0, 1)}  # fmt: skip


# %% [markdown]
# Stitching: encoder (and bottleneck) of seed 0, classifier of seed 1. A relative model's
# encoder computes its own anchors' latents, so the classifier of seed 1 receives cosines to
# the same anchor images, measured in seed 0's space.


# %%
def accuracy(encoder: Classifier, head: Classifier) -> float:
    with torch.inference_mode():
        predicted = head.head(encoder.represent(x[test])).argmax(1)
    return float((predicted == y[test]).float().mean())


scores = {}
for kind in ("absolute", "relative"):
    own = np.mean([accuracy(models[kind, s], models[kind, s]) for s in (0, 1)])
    stitched = np.mean([accuracy(models[kind, a], models[kind, b]) for a, b in ((0, 1), (1, 0))])
    scores[kind] = (own, stitched)
    print(f"{kind:9s} own encoder {own:.3f}   stitched across seeds {stitched:.3f}")

# %% [markdown]
# Both models classify well with their own encoder; only the relative one survives the swap.

# %%
assert scores["relative"][1] > scores["absolute"][1] + 0.3
assert scores["relative"][0] > 0.9
