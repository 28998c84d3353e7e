"""Every generated design is clean under ``verilator --lint-only -Wall`` (no warning at all)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from rtl_helpers import assert_lint_clean, design_of
from test_cross_check import CASES

from sasim.gen import generate
from sasim.verify.run import _environment


@pytest.mark.parametrize("name", sorted(CASES))
def test_verilator_lint_is_clean(name: str, tmp_path: Path) -> None:
    rtl, _ = generate(design_of(*CASES[name]), tmp_path)
    assert_lint_clean(tmp_path, *rtl.sources)


def test_lint_catches_a_warning(tmp_path: Path) -> None:
    """The check can fail: a width mismatch is reported."""
    _environment("verilator")
    (tmp_path / "bad.v").write_text("module bad(input wire [3:0] a, output wire [7:0] b);\nassign b = a;\nendmodule\n")
    proc = subprocess.run(["verilator", "--lint-only", "-Wall", "bad.v"], cwd=tmp_path,
                          capture_output=True, text=True, check=False)
    assert proc.returncode != 0 and "WIDTHEXPAND" in proc.stderr
