"""Write a generated accelerator to a directory: the Verilog, its ROM images and a manifest."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from sasim.design.design import Design
from sasim.fileio import write_text_atomic
from sasim.gen.accelerator import Rtl, build
from sasim.gen.memory import LUT_RAM_BITS
from sasim.gen.tables import MAX_TABLE_ENTRIES

__all__ = ["MANIFEST", "generate", "manifest", "write_rtl"]

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"


def manifest(rtl: Rtl, design: Design) -> dict[str, Any]:
    """What a user or a testbench needs to drive the generated module."""
    wl = design.workload
    return {
        "top": rtl.top,
        "verilog": f"{rtl.top}.v",
        "sources": rtl.sources,
        "files": sorted(rtl.files),
        "workload": wl.name,
        "tensors": {t: {"shape": list(wl.shape(t)), "bits": design.bits(t), "role": wl.tensors[t].role.value}
                    for t in wl.tensors},
        "ports": rtl.ports,
        "parameters": rtl.parameters,
        "counters": [{"index": c.index, "name": c.name} for c in rtl.counters],
        "memories": [{"name": m.name, "kind": m.kind, "tensor": m.tensor, "words": m.words, "bits": m.bits,
                      "banks": m.banks, "ram": m.ram} for m in rtl.memories],
    }


def write_rtl(rtl: Rtl, design: Design, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write every file of ``rtl`` and its manifest into ``out_dir`` (created if needed),
    each file atomically. Returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = dict(rtl.files)
    files[MANIFEST] = json.dumps(manifest(rtl, design), indent=2, sort_keys=True) + "\n"
    written = []
    for name, text in sorted(files.items()):
        path = out / name
        write_text_atomic(path, text)
        written.append(path)
    log.info("wrote %d files to %s", len(written), out)
    return written


def generate(
    design: Design, out_dir: str | os.PathLike[str], top: str = "sasim_accel", *, table_limit: int = MAX_TABLE_ENTRIES,
    lut_ram_bits: int = LUT_RAM_BITS,
) -> tuple[Rtl, list[Path]]:
    """Generate the accelerator for ``design`` and write it to ``out_dir``. Everything is
    generated in memory first: a design the generator rejects writes nothing.
    ``table_limit`` and ``lut_ram_bits``: see :func:`~sasim.gen.accelerator.build`."""
    rtl = build(design, top, table_limit=table_limit, lut_ram_bits=lut_ram_bits)
    return rtl, write_rtl(rtl, design, out_dir)
