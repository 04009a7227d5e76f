"""Latents of the Fashion-MNIST test images by two AE seeds of the ae-stitching full run."""
import sys
import numpy as np
import torch
from relreps.datasets.images import load_image_dataset
from relreps.models.autoencoders import load_autoencoder

models = sys.argv[1]
data = load_image_dataset()
test = torch.from_numpy(data.test_images).float().div(255).unsqueeze(1)
for seed, name in enumerate(sys.argv[2:4]):
    model, _ = load_autoencoder(f"{models}/{name}")
    with torch.inference_mode():
        np.save(f"ae-seed{seed}.npy", model.embed(test).numpy())
np.save("fashion-test-labels.npy", data.test_labels)
print(data.name, test.shape)
