"""Shared fixtures.

``cache_dir``: a fresh cache folder for one test whose ``text/`` (the Debian package descriptions,
fetched with apt and parsed once: about a minute) is shared by every test of the session. Each
experiment test still encodes, trains and caches embeddings in its own folder.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def debian_text(tmp_path_factory):
    return tmp_path_factory.mktemp("shared-cache") / "text"


@pytest.fixture
def cache_dir(tmp_path, debian_text):
    cache = tmp_path / "cache"
    cache.mkdir()
    debian_text.mkdir(exist_ok=True)  # built by the first test that reads it, then reused
    (cache / "text").symlink_to(debian_text, target_is_directory=True)
    return cache
