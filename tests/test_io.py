"""Atomic writes: all or nothing, ordinary permissions, one-line errors naming the file, hashes."""

from __future__ import annotations

import errno
import hashlib
import os
import stat

import pytest

from endobench.errors import OutputError, os_error_message
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


def _only_the_target(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (errno.ENOSPC, "no space left"),
        (errno.EACCES, "permission denied"),
        (errno.EROFS, "read-only file system"),
        (errno.EDQUOT, "quota"),
    ],
)
def test_os_errors_while_writing_name_the_file_and_leave_nothing(tmp_path, code, words):
    target = tmp_path / "scores.json"
    target.write_text("old\n")
    with pytest.raises(OutputError, match=words) as caught:
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise OSError(code, os.strerror(code))
    message = str(caught.value)
    assert message.startswith(f"cannot write {target}: ") and "\n" not in message
    assert target.read_text() == "old\n" and _only_the_target(tmp_path) == ["scores.json"]


def test_refusals_of_the_file_system_are_output_errors(tmp_path):
    (tmp_path / "a_file").write_text("x")
    cases = {
        tmp_path / ("x" * 300 + ".json"): "path too long",
        tmp_path / "a_file" / "inside.json": "is a file, not a folder",
        tmp_path: "is a folder",
        tmp_path / ("deep/" * 1000) / "x.json": "path too long",
    }
    for target, words in cases.items():
        with pytest.raises(OutputError, match=words):
            write_text_atomic(target, "hello")
    assert _only_the_target(tmp_path) == ["a_file"]


def test_errors_about_another_file_pass_through(tmp_path):
    with pytest.raises(FileNotFoundError):
        with atomic_path(tmp_path / "out.txt") as tmp:
            tmp.write_text((tmp_path / "missing.txt").read_text())
    assert _only_the_target(tmp_path) == []


def test_os_error_message_wording():
    err = OSError(errno.ENOSPC, "No space left on device", "/x/y.png")
    assert os_error_message(err) == (
        "cannot write /x/y.png: no space left on the device (free some space there and run again)"
    )
    assert os_error_message(err, action=None).startswith("/x/y.png: no space left")
    odd = OSError(errno.ENOSPC, "No space", "a\nb.png")
    assert "\n" not in os_error_message(odd)


def test_temporaries_left_by_a_killed_process_are_recognised_and_removed(tmp_path):
    from endobench.io import is_temporary, remove_temporaries

    keep = [tmp_path / "a_mask.jpg", tmp_path / ".DS_Store", tmp_path / "sub" / ".hidden.tmp"]
    stale = [tmp_path / ".a_mask.k3j_x9q2.tmp.jpg", tmp_path / "sub" / ".run.abcdefgh.tmp.json"]
    for path in keep + stale:
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"")
    with atomic_path(tmp_path / "b.png") as tmp:
        assert is_temporary(tmp)  # the names atomic_path really makes
    assert sorted(remove_temporaries(tmp_path)) == sorted(stale)
    assert all(path.exists() for path in keep) and not any(path.exists() for path in stale)


def test_library_errors_that_carry_an_os_error_are_output_errors(tmp_path):
    target = tmp_path / "w.safetensors"
    with pytest.raises(OutputError, match="no space left"):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"part")
            raise RuntimeError("Error while serializing: I/O error: No space (os error 28)")
    with pytest.raises(ValueError, match="a bug"):  # anything else passes through unchanged
        with atomic_path(target) as tmp:
            raise ValueError("a bug")
    assert _only_the_target(tmp_path) == []
