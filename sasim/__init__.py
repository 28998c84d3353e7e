"""sasim: design spatial-architecture accelerators from one description.

One spec (architecture, workload, mapping) is lowered to one frozen
:class:`~sasim.design.Design` that the analytical model, the simulator, the Verilog
generator and the mapper all read.
"""

__version__ = "0.1.0"
