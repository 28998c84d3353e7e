"""Command-line arguments every spec-taking subcommand shares (model, run, map)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console
from rich.status import Status

if TYPE_CHECKING:
    from sasim.spec import Spec

__all__ = ["add_lut_ram_bits", "add_spec_arguments", "add_table_limit", "load_full_spec", "lut_ram_bits_argument",
           "seed_argument", "status_line", "table_limit_argument"]


def add_spec_arguments(parser: argparse.ArgumentParser, *, mapping_help: str = "replace the mapping section") -> None:
    """``SPEC`` and the ``--arch``, ``--workload`` and ``--mapping`` section overrides."""
    parser.add_argument("spec", metavar="SPEC", nargs="?", help="spec file or bundled example name")
    parser.add_argument("--arch", "--architecture", dest="arch", metavar="X", help="replace the architecture section")
    parser.add_argument("--workload", metavar="X", help="replace the workload section")
    parser.add_argument("--mapping", metavar="X", help=mapping_help)


def load_full_spec(args: argparse.Namespace, usage: Callable[[str], Exception]) -> Spec:
    """The spec named by ``SPEC`` with the section flags applied; without ``SPEC`` all three
    flags are needed (``usage(message)`` builds the command's usage error)."""
    from sasim.cli import SECTION_FLAGS
    from sasim.spec import load_spec

    flags = {"architecture": args.arch, "workload": args.workload, "mapping": args.mapping}
    overrides = {section: value for section, value in flags.items() if value is not None}
    if args.spec is None and len(overrides) < len(flags):
        missing = [SECTION_FLAGS[s] for s in flags if s not in overrides]
        raise usage(f"no SPEC given: name a spec file or a bundled example, or give all of --arch, --workload and "
                    f"--mapping (missing: {', '.join(missing)})")
    return load_spec(args.spec, overrides, override_labels=SECTION_FLAGS)


def _non_negative(text: str, what: str, digits: str | None = None) -> int:
    """``digits`` (by default ``text``) as an integer of 0 or more, else a usage error
    saying the flag must be ``what``."""
    try:
        value = int(text if digits is None else digits)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be {what}, not {text!r}")
    return value


def seed_argument(text: str) -> int:
    """The ``--seed`` flag's type: a non-negative integer."""
    return _non_negative(text, "a non-negative integer")


def placement_seeds_argument(text: str) -> list[int]:
    """The ``--seeds`` flag's type (``sasim synth``, the synthesis benchmarks): distinct
    nextpnr placement seeds, comma-separated."""
    from sasim.synth.targets import parse_seeds

    try:
        return parse_seeds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def table_limit_argument(text: str) -> int:
    """The ``--table-limit`` flag's type: a positive integer, with ``_`` or ``,`` separators
    and an optional decimal suffix ``k`` (thousand) or ``M`` (million): ``50M``, ``4,000,000``."""
    digits = text.strip().replace(",", "").replace("_", "")
    scale = {"k": 1_000, "K": 1_000, "M": 1_000_000}.get(digits[-1:], 1)
    if scale > 1:
        digits = digits[:-1]
    try:
        value = int(digits) * scale
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"must be a positive number of entries (digits, optionally ending in k or M), not {text!r}")
    return value


def add_table_limit(parser: argparse.ArgumentParser) -> None:
    """``--table-limit`` of ``sasim gen``, ``verify`` and ``synth``."""
    from sasim.gen.tables import MAX_TABLE_ENTRIES

    parser.add_argument(
        "--table-limit", type=table_limit_argument, default=MAX_TABLE_ENTRIES, metavar="ENTRIES",
        help=f"largest sequencer tables to build, in entries: 2000000, 2M or 500k (default {MAX_TABLE_ENTRIES:,}). "
             f"The tables grow with the workload's array steps and are compiled in full (about 2 s and 110 MB "
             f"per million entries) before long ones are stored as blocks of ROM. Raise it for a large workload "
             f"(a 256x256x256 GEMM on a 4x4 array: 28M)")


def lut_ram_bits_argument(text: str) -> int:
    """The ``--lut-ram-bits`` flag's type: a number of bits, 0 or more (``_`` or ``,`` allowed)."""
    return _non_negative(text, "a number of bits, 0 or more", text.strip().replace(",", "").replace("_", ""))


def add_lut_ram_bits(parser: argparse.ArgumentParser) -> None:
    """``--lut-ram-bits`` of ``sasim gen`` and ``synth``."""
    from sasim.gen.memory import LUT_RAM_BITS

    parser.add_argument(
        "--lut-ram-bits", type=lut_ram_bits_argument, default=LUT_RAM_BITS, metavar="BITS",
        help=f"buffer banks of at most this many bits (words x width) are marked for LUT RAM, larger ones for "
             f"block RAM (default {LUT_RAM_BITS}; 0 puts every bank in block RAM). A region banked for many "
             f"lanes has banks of a few words, and a block RAM each can exhaust the device")


@contextmanager
def status_line(show: bool, text: str) -> Iterator[Status | None]:
    """A transient status line on stderr reading ``text`` (``None`` and nothing shown unless
    ``show``: callers pass whether stderr is a terminal and the output is not JSON)."""
    if not show:
        yield None
        return
    with Console(file=sys.stderr, markup=False, highlight=False).status(text) as status:
        yield status
