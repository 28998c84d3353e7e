"""Helpers the CLI tests share: run ``sasim`` in-process and read what it printed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sasim.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``sasim ARGV``: the exit status, stdout and stderr."""
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def command_json(capsys: pytest.CaptureFixture[str], command: str, *argv: str) -> dict[str, Any]:
    """``sasim COMMAND ARGV --json``, which must succeed and print one JSON object and nothing else."""
    status, out, err = run(capsys, command, *argv, "--json")
    assert status == 0, err
    data = json.loads(out)  # the whole of stdout is one JSON object
    assert isinstance(data, dict)
    return data


def error_line(err: str) -> str:
    """The one line of an error message (no traceback)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]
