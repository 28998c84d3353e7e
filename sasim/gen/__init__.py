"""The Verilog generator: one Design in, one synthesizable accelerator out (``sasim gen``)."""

from sasim.gen.accelerator import Counter, Memory, Rtl, build
from sasim.gen.generate import generate, manifest, write_rtl
from sasim.gen.tables import build_tables, check_supported

__all__ = ["Counter", "Memory", "Rtl", "build", "build_tables", "check_supported", "generate", "manifest", "write_rtl"]
