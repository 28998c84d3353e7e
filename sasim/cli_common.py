"""Command-line arguments every spec-taking subcommand shares (model, run, map)."""

from __future__ import annotations

import argparse

__all__ = ["add_spec_arguments"]


def add_spec_arguments(parser: argparse.ArgumentParser, *, mapping_help: str = "replace the mapping section") -> None:
    """``SPEC`` and the ``--arch``, ``--workload`` and ``--mapping`` section overrides."""
    parser.add_argument("spec", metavar="SPEC", nargs="?", help="spec file or bundled example name")
    parser.add_argument("--arch", "--architecture", dest="arch", metavar="X", help="replace the architecture section")
    parser.add_argument("--workload", metavar="X", help="replace the workload section")
    parser.add_argument("--mapping", metavar="X", help=mapping_help)
