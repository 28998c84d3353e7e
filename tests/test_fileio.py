"""Atomic output files: all or nothing, with the usual file mode."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from sasim.fileio import atomic_open, write_text_atomic


def test_write_text_atomic_writes_with_the_umask_mode(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    old = os.umask(0o022)
    try:
        write_text_atomic(path, "hello\n")
    finally:
        os.umask(old)
    assert path.read_text() == "hello\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"), atomic_open(path, binary=True) as fh:
        fh.write(b"new, half written")
        raise RuntimeError("boom")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_a_missing_directory_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        write_text_atomic(tmp_path / "missing" / "out.txt", "x")
