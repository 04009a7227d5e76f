"""A short end-to-end demonstration of the core on real data (scikit-learn's handwritten digits).

Model A embeds the digits with PCA; model B is model A after an unknown rotation and rescaling,
the kind of difference two training runs of one network show. Their absolute latents disagree
(cosine ~0) and a classifier trained on A fails on B; their relative representations, over the
same anchor images, agree (cosine 1) and the classifier works on B with no retraining.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "run_demo",
]


def run_demo(seed: int = 0) -> dict[str, float]:
    from scipy.stats import special_ortho_group
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    import relreps

    images, labels = load_digits(return_X_y=True)
    train_images, test_images, train_labels, test_labels = train_test_split(
        images, labels, test_size=0.3, random_state=seed, stratify=labels
    )
    encoder = PCA(n_components=32, random_state=seed).fit(train_images)
    rotation = special_ortho_group.rvs(32, random_state=seed)
    scale = 3.7

    def encode_a(x: np.ndarray) -> np.ndarray:
        return encoder.transform(x)

    def encode_b(x: np.ndarray) -> np.ndarray:
        return scale * encoder.transform(x) @ rotation

    anchors = relreps.select_anchors(
        train_images, 100, "stratified", labels=train_labels, seed=seed
    )
    anchor_images = anchors.take(train_images)

    def relative(encode, x):
        return relreps.relative_projection(encode(x), encode(anchor_images))

    def mean_row_cosine(u: np.ndarray, v: np.ndarray) -> float:
        return float(
            np.mean(np.sum(u * v, 1) / np.linalg.norm(u, axis=1) / np.linalg.norm(v, axis=1))
        )

    absolute_cosine = mean_row_cosine(encode_a(test_images), encode_b(test_images))
    relative_cosine = mean_row_cosine(
        relative(encode_a, test_images), relative(encode_b, test_images)
    )

    absolute_head = LogisticRegression(max_iter=3000).fit(encode_a(train_images), train_labels)
    relative_head = LogisticRegression(max_iter=3000).fit(
        relative(encode_a, train_images), train_labels
    )
    scores = {
        "absolute_cosine_a_vs_b": absolute_cosine,
        "relative_cosine_a_vs_b": relative_cosine,
        "absolute_accuracy_a": absolute_head.score(encode_a(test_images), test_labels),
        "absolute_accuracy_stitched_b": absolute_head.score(encode_b(test_images), test_labels),
        "relative_accuracy_a": relative_head.score(relative(encode_a, test_images), test_labels),
        "relative_accuracy_stitched_b": relative_head.score(
            relative(encode_b, test_images), test_labels
        ),
    }
    print("relreps demo: real digits, encoder A = PCA-32, encoder B = A rotated and scaled x3.7")
    print(f"  anchors: {len(anchors)} class-balanced training images (seed {seed})")
    print(f"  mean cosine between A and B, absolute latents:    {absolute_cosine:+.3f}")
    print(f"  mean cosine between A and B, relative latents:    {relative_cosine:+.3f}")
    print("  classifier trained on A, test accuracy:")
    for kind in ("absolute", "relative"):
        on_a, on_b = scores[f"{kind}_accuracy_a"], scores[f"{kind}_accuracy_stitched_b"]
        print(f"    {kind}: on A {on_a:.3f}   on B (stitched) {on_b:.3f}")
    return scores
