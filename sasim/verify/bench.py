"""The cocotb testbench of a generated accelerator (run by :func:`sasim.verify.verify`).

It plays the DRAM: requests are answered by the simulator's own
:class:`~sasim.sim.dram.DramChannel`, so the RTL sees exactly the memory timing the
simulator sees. Each cycle, at the falling clock edge, it reads the request ports in
engine order (inputs in workload order, then the output), drives the elements that
move in that cycle, collects the output elements the RTL streams and raises
``wr_done`` in the last cycle of a write; while the DRAM is idle it sleeps until a port
that can start something changes. When ``done`` rises it reads every
performance counter and writes what it saw to ``result.json`` in the work directory
(``SASIM_VERIFY_DIR``); the comparison with the simulator is the caller's. What each
request moves comes from ``dram_tiles.pkl`` there: the buffer tiles of the program the
generator compiled, so the testbench does not walk the loop nest again.
"""

from __future__ import annotations

import json
import os
import pickle
import time
from collections import deque
from pathlib import Path
from typing import Any

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.triggers import FallingEdge, First, RisingEdge, Timer

from sasim.sim.dram import DramChannel, DramOp

#: A run that is not done after this many cycles beyond the simulator's count has hung.
HANG_MARGIN = 1000

#: The clock period driven (any value: the testbench counts cycles, not time).
PERIOD_NS = 10


def _pack(values: list[int], bits: int) -> int:
    mask = (1 << bits) - 1
    word = 0
    for i, v in enumerate(values):
        word |= (int(v) & mask) << (i * bits)
    return word


def _unpack(word: int, count: int, bits: int) -> list[int]:
    mask = (1 << bits) - 1
    half = 1 << (bits - 1)
    out = []
    for i in range(count):
        v = (word >> (i * bits)) & mask
        out.append(v - (1 << bits) if v >= half else v)
    return out


@cocotb.test()
async def run_accelerator(dut: Any) -> None:
    work = Path(os.environ["SASIM_VERIFY_DIR"])
    with open(work / "design.pkl", "rb") as f:
        design = pickle.load(f)
    manifest = json.loads((work / "context.json").read_text())
    tensors = dict(np.load(work / "tensors.npz"))
    limit = int(manifest["sim_cycles"]) + HANG_MARGIN
    wl = design.workload
    with open(work / "dram_tiles.pkl", "rb") as f:  # each tensor's buffer tiles, in transfer order
        dram_tiles: dict[str, list[np.ndarray]] = pickle.load(f)
    arch = design.architecture
    dram = DramChannel(latency=arch.dram.latency, bits_per_cycle=arch.dram.bits_per_cycle)
    ports = manifest["ports"]

    inputs = []
    for t in wl.operands:
        pre = ports[t]["prefix"]
        inputs.append({
            "t": t, "bits": design.bits(t), "lanes": ports[t]["lanes"], "tiles": dram_tiles[t],
            "flat": np.asarray(tensors[t]).ravel(), "pending": deque(),
            "req": getattr(dut, f"{pre}_req_valid"), "count": getattr(dut, f"{pre}_req_count"),
            "tile": getattr(dut, f"{pre}_req_tile"), "rd_count": getattr(dut, f"{pre}_rd_count"),
            "rd_data": getattr(dut, f"{pre}_rd_data"), "next": 0, "moved": False,
        })
    o = wl.output
    pre = ports[o]["prefix"]
    o_bits = design.bits(o)
    o_tiles = dram_tiles[o]
    o_req, o_count, o_tile = (getattr(dut, f"{pre}_req_{x}") for x in ("valid", "count", "tile"))
    o_wr_count, o_wr_data, o_wr_done = (getattr(dut, f"{pre}_wr_{x}") for x in ("count", "data", "done"))
    memory = np.zeros(int(np.prod(wl.shape(o))), dtype=np.int64)
    writes: deque[dict[str, Any]] = deque()
    protocol: list[str] = []

    def fail(msg: str) -> None:
        if len(protocol) < 20:
            protocol.append(msg)

    for t in inputs:
        t["rd_count"].value = 0
        t["rd_data"].value = 0
    o_wr_done.value = 0
    dut.perf_sel.value = 0
    dut.start.value = 0
    dut.rst.value = 1
    cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())  # type: ignore[arg-type]
    for _ in range(3):
        await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    dut.start.value = 1
    await RisingEdge(dut.clk)
    wall = time.perf_counter()
    done_at = None
    # The ports that can start something while the DRAM is idle (no element due, no write
    # open): the testbench then sleeps until one of them changes instead of waking every
    # cycle. They are driven by the RTL's registers, so they change only after a rising edge
    # and are sampled, as always, at the next falling edge.
    wakers = [t["req"] for t in inputs] + [o_req, o_wr_count, dut.done]
    origin = None
    visited = 0  # falling edges the testbench woke at
    while True:
        await FallingEdge(dut.clk)
        visited += 1
        now = get_sim_time(unit="ns")
        origin = now if origin is None else origin
        cycle = round((now - origin) / PERIOD_NS)  # falling edges since the run started
        if cycle > limit:
            break
        dut.start.value = 0
        if int(dut.done.value):
            done_at = cycle
            break
        # requests, in engine order
        for t in inputs:
            if int(t["req"].value):
                e, n = int(t["tile"].value), int(t["count"].value)
                if e != t["next"] or e >= len(t["tiles"]) or n != len(t["tiles"][e]):
                    fail(f"cycle {cycle}: {t['t']} read request for tile {e} of {n} elements; "
                         f"expected tile {t['next']}")
                    continue
                t["next"] += 1
                grant = dram.request(DramOp.READ, cycle, n, t["bits"])
                values = t["flat"][t["tiles"][e]]
                t["pending"].extend(zip(grant.cycles().tolist(), values.tolist()))
        if int(o_req.value):
            g, n = int(o_tile.value), int(o_count.value)
            if g >= len(o_tiles) or n != len(o_tiles[g]):
                fail(f"cycle {cycle}: {o} write request for tile {g} of {n} elements")
            else:
                grant = dram.request(DramOp.WRITE, cycle, n, o_bits)
                writes.append({"tile": g, "n": n, "last": grant.end - 1, "data": []})
        # elements moving this cycle
        for t in inputs:
            moving = []
            pending = t["pending"]
            while pending and pending[0][0] == cycle:
                moving.append(pending.popleft()[1])
            if pending and pending[0][0] < cycle:
                fail(f"cycle {cycle}: {t['t']} element due in cycle {pending[0][0]} was not delivered")
            if len(moving) > t["lanes"]:
                fail(f"cycle {cycle}: {len(moving)} {t['t']} elements move but the port has {t['lanes']} lanes")
                moving = moving[: t["lanes"]]
            t["rd_count"].value = len(moving)
            t["moved"] = bool(moving)
            t["rd_data"].value = _pack(moving, t["bits"])
        streamed = int(o_wr_count.value)
        if streamed:
            if not writes:
                fail(f"cycle {cycle}: {o} data streamed with no write request open")
            else:
                writes[0]["data"].extend(_unpack(int(o_wr_data.value), streamed, o_bits))
        finishing = bool(writes) and writes[0]["last"] == cycle
        o_wr_done.value = int(finishing)
        if finishing:
            w = writes.popleft()
            if len(w["data"]) != w["n"]:
                fail(f"cycle {cycle}: write of {o} tile {w['tile']} ends with {len(w['data'])} of {w['n']} elements")
            else:
                memory[o_tiles[w["tile"]]] = w["data"]
        # idle: nothing due or open, and what is driven now (no elements, no wr_done) is what
        # every following cycle would drive
        idle = not writes and not finishing and not any(t["pending"] or t["moved"] for t in inputs)
        if idle and not any(int(x.value) for x in wakers):
            # nothing moves until a port rises (or the run overruns its cycle limit)
            await First(*(x.value_change for x in wakers), Timer(max(1, limit - cycle) * PERIOD_NS, unit="ns"))
    wall = time.perf_counter() - wall

    async def read_counters() -> dict[str, int]:
        values = {}
        for c in manifest["counters"]:
            dut.perf_sel.value = c["index"]
            await Timer(1, unit="ns")
            values[c["name"]] = int(dut.perf_value.value)
        return values

    # the counters add their last increment at the edge after done rises (docs/rtl.md), and
    # must not move after it
    await RisingEdge(dut.clk)
    counters = await read_counters()
    if done_at is not None:
        for _ in range(3):
            await RisingEdge(dut.clk)
        later = await read_counters()
        for name, value in later.items():
            if value != counters[name]:
                fail(f"counter {name} moved after done: {counters[name]}, then {value}")
    np.save(work / "rtl_output.npy", memory.reshape(wl.shape(o)))
    result = {
        "cycles": done_at, "counters": counters, "protocol_errors": protocol, "wall_time_s": wall,
        "dram": {"busy": dram.busy_cycles, "latency_wait": dram.latency_cycles, "queue_wait": dram.queue_cycles},
        "simulated_cycles": cycle, "visited_cycles": visited,
    }
    (work / "result.json").write_text(json.dumps(result, indent=1))
