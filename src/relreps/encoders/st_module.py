"""A relative projection as the last module of a sentence-transformers pipeline.

Usage::

    from sentence_transformers import SentenceTransformer
    from relreps.encoders.st_module import RelativeModule

    model = SentenceTransformer("all-MiniLM-L6-v2")
    model.append(RelativeModule.from_texts(model, anchor_texts))   # anchors embedded once
    model.encode(["a text"])                                       # (1, n_anchors): relative
    model.save("minilm-relative")
    SentenceTransformer("minilm-relative", trust_remote_code=True)  # the same pipeline

The anchors' embeddings, computed by the same model before the module was appended, are stored
with it (``anchors.safetensors``; the anchor texts and settings in ``config.json``), so a relative
encoder is one saved folder. sentence-transformers 6 imports a module class from outside its own
package only with ``trust_remote_code=True``, for local folders too; relreps' module runs no code
from the folder (it is imported from the installed relreps) and reads no pickle.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from relreps.encoders import require

__all__ = ["RelativeModule"]

try:  # sentence-transformers >= 5 keeps its module base class here
    from sentence_transformers.base.modules import Module as _Module
except ImportError:  # without the 'text' extra: importable, and says what to install when used
    _Module = torch.nn.Module


class RelativeModule(_Module):
    """Replaces ``sentence_embedding`` by its relative projection onto stored anchors (the
    absolute embedding stays available as ``absolute_embedding``).

    Parameters
    ----------
    anchors
        ``(k, d)`` anchor embeddings by the same pipeline.
    similarity, center
        As in :func:`relreps.relative_projection`.
    anchor_texts
        The texts the anchors embed (kept for the record).
    """

    config_keys = ["similarity", "center", "anchor_texts"]  # noqa: RUF012 (the library's form)

    def __init__(
        self,
        anchors: torch.Tensor,
        similarity: str = "cosine",
        center: str | None = None,
        anchor_texts: list[str] | None = None,
    ) -> None:
        require("sentence_transformers.base.modules", "sentence-transformers>=5", "text")
        super().__init__()
        from relreps.projection import CENTER_OPTIONS
        from relreps.similarities import get_similarity

        if not isinstance(anchors, torch.Tensor) or anchors.ndim != 2 or len(anchors) == 0:
            raise ValueError("anchors must be a non-empty 2-D tensor (n_anchors, dim).")
        get_similarity(similarity)
        if center not in CENTER_OPTIONS:
            raise ValueError(f"center must be one of {CENTER_OPTIONS}, got {center!r}.")
        if anchor_texts is not None and len(anchor_texts) != len(anchors):
            raise ValueError(f"{len(anchor_texts)} anchor texts for {len(anchors)} anchors.")
        self.register_buffer("anchors", anchors.detach().float().clone())
        self.similarity, self.center = similarity, center
        self.anchor_texts = list(anchor_texts) if anchor_texts is not None else None

    @classmethod
    def from_texts(
        cls, model: Any, texts: list[str], similarity: str = "cosine", center: str | None = None
    ) -> RelativeModule:
        """Embed ``texts`` with ``model`` (a ``SentenceTransformer`` not yet ending in a relative
        module) and keep them as the anchors."""
        if any(isinstance(module, RelativeModule) for module in model):
            raise ValueError("This model already ends in a RelativeModule: embed with the base.")
        anchors = model.encode(list(texts), convert_to_tensor=True, show_progress_bar=False)
        return cls(anchors.cpu(), similarity, center, list(texts))

    def forward(self, features: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        from relreps.projection import relative_projection

        absolute = features["sentence_embedding"]
        anchors = self.anchors.to(device=absolute.device, dtype=absolute.dtype)
        features["absolute_embedding"] = absolute
        features["sentence_embedding"] = relative_projection(
            absolute, anchors, self.similarity, center=self.center
        )
        return features

    def get_embedding_dimension(self) -> int:
        return int(self.anchors.shape[0])

    get_sentence_embedding_dimension = get_embedding_dimension

    def save(self, output_path: str, *args: Any, **kwargs: Any) -> None:
        from safetensors.torch import save_file

        os.makedirs(output_path, exist_ok=True)
        self.save_config(output_path)
        save_file(
            {"anchors": self.anchors.contiguous()}, os.path.join(output_path, "anchors.safetensors")
        )

    @classmethod
    def load(cls, model_name_or_path: str, subfolder: str = "", **kwargs: Any) -> RelativeModule:
        from safetensors.torch import load_file

        options = {k: kwargs[k] for k in ("token", "cache_folder", "revision", "local_files_only")
                   if k in kwargs}  # fmt: skip
        config = cls.load_config(model_name_or_path, subfolder=subfolder, **options)
        path = cls.load_file_path(model_name_or_path, "anchors.safetensors", subfolder=subfolder,
                                  **options)  # fmt: skip
        if path is None:
            raise ValueError(f"No anchors.safetensors in {model_name_or_path}/{subfolder}.")
        return cls(load_file(path)["anchors"], **config)
