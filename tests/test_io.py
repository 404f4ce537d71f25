"""Atomic writes: all or nothing, ordinary permissions, hashes."""

from __future__ import annotations

import hashlib
import os
import stat

import pytest

from endobench.io import atomic_path, sha256_file, write_json_atomic, write_text_atomic


def test_atomic_write_replaces_only_on_success(tmp_path):
    target = tmp_path / "out" / "result.json"
    write_json_atomic(target, {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half written")
            raise RuntimeError("interrupted")
    assert target.read_text().strip().startswith("{")
    assert sorted(p.name for p in target.parent.iterdir()) == ["result.json"]


def test_temporary_keeps_the_destination_suffix(tmp_path):
    with atomic_path(tmp_path / "mask.png") as tmp:
        assert tmp.suffix == ".png"
        assert tmp.parent == tmp_path
        tmp.write_bytes(b"x")


def test_written_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_text_atomic(tmp_path / "a.txt", "hello")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_sha256_matches_hashlib(tmp_path):
    data = os.urandom(3 << 20)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    assert sha256_file(path, chunk_size=1 << 16) == hashlib.sha256(data).hexdigest()
