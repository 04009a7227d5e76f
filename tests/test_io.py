from __future__ import annotations

import json

import pytest
import torch

from relreps.io import (
    atomic_path,
    load_tensors,
    metadata_path,
    read_json,
    save_tensors,
    sha256_files,
    short_hash,
    write_json_atomic,
)


def test_tensors_round_trip_with_metadata(tmp_path):
    path = tmp_path / "entry.safetensors"
    tensors = {"a": torch.arange(6.0).reshape(2, 3), "b": torch.ones(4, dtype=torch.int64)}
    save_tensors(path, tensors, {"seed": 3, "name": "x"})
    loaded, metadata = load_tensors(path)
    assert {k: v for k, v in metadata.items() if k != "tensors_sha256"} == {"seed": 3, "name": "x"}
    assert all(torch.equal(loaded[k], tensors[k]) for k in tensors)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "entry.safetensors",
        "entry.safetensors.json",
    ]


def test_corrupt_or_incomplete_entries_raise_clear_errors(tmp_path):
    path = tmp_path / "entry.safetensors"
    save_tensors(path, {"a": torch.ones(3)}, {})
    path.write_bytes(b"not a safetensors file at all")
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        load_tensors(path)
    metadata_path(path).write_text("{broken")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_tensors(path)
    metadata_path(path).unlink()
    with pytest.raises(FileNotFoundError, match="No complete entry"):
        load_tensors(path)


def test_atomic_path_leaves_the_old_file_when_interrupted(tmp_path):
    target = tmp_path / "out.json"
    write_json_atomic(target, {"version": 1})
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as temporary:
        temporary.write_text("half a fi")
        raise KeyboardInterrupt
    assert read_json(target) == {"version": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_hashes_are_stable(tmp_path):
    (tmp_path / "a").write_bytes(b"abc")
    assert sha256_files([tmp_path / "a"]) == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    assert short_hash({"b": 1, "a": [1, 2]}) == short_hash(json.loads('{"a": [1, 2], "b": 1}'))
    assert short_hash({"a": 1}) != short_hash({"a": 2})


def test_atomic_files_get_the_usual_permissions(tmp_path):
    import os
    import stat

    from relreps.io import write_text_atomic

    mask = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "new.txt", "x")
        assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == 0o644
        (tmp_path / "kept.txt").write_text("old")
        (tmp_path / "kept.txt").chmod(0o600)
        write_text_atomic(tmp_path / "kept.txt", "new")
        assert stat.S_IMODE((tmp_path / "kept.txt").stat().st_mode) == 0o600
    finally:
        os.umask(mask)


def test_stored_tensors_are_verified_on_load(tmp_path):
    import json

    import pytest
    import torch

    from relreps.io import load_tensors, save_tensors

    path = tmp_path / "t.safetensors"
    save_tensors(path, {"a": torch.arange(6.0).reshape(2, 3), "b": torch.tensor(1.0)}, {"x": 1})
    tensors, metadata = load_tensors(path)
    assert metadata["x"] == 1 and len(metadata["tensors_sha256"]) == 64
    data = bytearray(path.read_bytes())
    data[-2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="does not match the checksum"):
        load_tensors(path)
    for content in ("[]", "null", "3"):
        save_tensors(path, tensors, {})
        (tmp_path / "t.safetensors.json").write_text(content)
        with pytest.raises(ValueError, match="not an object"):
            load_tensors(path)
    save_tensors(path, tensors, {})
    meta = json.loads((tmp_path / "t.safetensors.json").read_text())
    del meta["tensors_sha256"]  # entries written before checksums still load
    (tmp_path / "t.safetensors.json").write_text(json.dumps(meta))
    assert torch.equal(load_tensors(path)[0]["a"], tensors["a"])
