"""Shared fixtures.

``cache_dir``: a fresh cache folder for one test whose ``text/`` (the Debian package descriptions,
fetched with apt and parsed once: about a minute) is shared by every test of the session. Each
experiment test still encodes, trains and caches embeddings in its own folder. ``text_cache``
makes such a folder anywhere (e.g. one per test module).
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def text_cache(tmp_path_factory):
    shared = tmp_path_factory.mktemp("shared-cache") / "text"
    shared.mkdir()  # built by the first test that reads it, then reused

    def make(folder):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "text").symlink_to(shared, target_is_directory=True)
        return folder

    return make


@pytest.fixture
def cache_dir(tmp_path, text_cache):
    return text_cache(tmp_path / "cache")
