"""The PE array's datapath, a module of its own: per PE the operand registers, the
multiply and the product register, then (where PEs share an output element) the sums of
the products each element takes, and the accumulators.

The accelerator selects each PE's operands from its edge buffers and instantiates this
module; the module gives back the accumulators' next values and when they form a
complete drain tile. Being a module of its own, the datapath can be synthesized alone
(``sasim synth --module array``): the same part as a hand-written PE array, with no
buffers and no control.
"""

from __future__ import annotations

from dataclasses import dataclass

from sasim.gen.expr import sext
from sasim.gen.verilog import Writer, clog2

__all__ = ["Datapath", "array_module", "datapath_module"]


def array_module(top: str) -> str:
    """The name of the datapath module the accelerator ``top`` instantiates (in ``<name>.v``)."""
    return f"{top}_array"


@dataclass(frozen=True)
class Datapath:
    """What the datapath module needs to know of the array (names are the accelerator's).

    ``position`` gives each PE's output element: a constant, or a slice of ``a_{q}_pw``
    (the step's output positions, ``pos_bits`` wide, 0 if there is no such word), to be
    compared with ``pos_width``-bit element numbers; ``elements`` lists the elements each
    PE can reach. ``vary_valid`` lists the PEs whose validity changes from step to step:
    bit ``i`` of ``a_v`` is PE ``vary_valid[i]``'s. ``depth`` is the number of pipeline
    stages (0 to 3) between the issue cycle and the accumulators."""

    module: str
    q: str  # the output's prefix
    pes: tuple[int, ...]
    a_bits: int
    b_bits: int
    acc: int
    elements_total: int  # elements of the largest drain tile
    depth: int
    position: dict[int, int | str]
    elements: dict[int, list[int]]
    vary_valid: tuple[int, ...]
    pos_bits: int
    pos_width: int

    def ports(self) -> list[str]:
        """The module's ports, in order: the issue cycle's control and operands in, the
        accumulators' next values and the drain-tile write out."""
        q = self.q
        ports = ["input  wire clk", "input  wire rst", "input  wire go",
                 "input  wire a_issue", f"input  wire a_{q}_start", f"input  wire a_{q}_last"]
        if self.vary_valid:
            ports.append(f"input  wire [{len(self.vary_valid) - 1}:0] a_v")
        if self.pos_bits:
            ports.append(f"input  wire [{self.pos_bits - 1}:0] a_{q}_pw")
        for g in self.pes:
            ports += [f"input  wire signed [{self.a_bits - 1}:0] a_va{g}",
                      f"input  wire signed [{self.b_bits - 1}:0] a_vb{g}"]
        ports += [f"output wire [{self.elements_total * self.acc - 1}:0] a_sums", "output wire a_drain"]
        return ports

    def instance(self, w: Writer) -> None:
        """Declare ``a_sums``, ``a_drain`` and the ``a_next`` elements in the accelerator,
        and instantiate the module there, its ports connected to the names they carry."""
        acc, to = self.acc, self.elements_total
        w(f"wire [{to * acc - 1}:0] a_sums;  // the accumulators' next values", "wire a_drain;",
          f"wire [{acc - 1}:0] a_next [0:{to - 1}];")
        w(*(f"assign a_next[{j}] = a_sums[{j * acc + acc - 1}:{j * acc}];" for j in range(to)))
        names = [port.rsplit(" ", 1)[1] for port in self.ports()]
        w(f"{self.module} pe_array (")
        w(*(f"    .{n}({n})" + ("," if i + 1 < len(names) else "") for i, n in enumerate(names)))
        w(");")


def datapath_module(dp: Datapath) -> str:
    """The datapath module's Verilog."""
    w = Writer()
    q, acc, to, depth = dp.q, dp.acc, dp.elements_total, dp.depth
    ba, bb = dp.a_bits, dp.b_bits
    w(f"// The {len(dp.pes)} PEs' datapath: {depth} pipeline stage(s) from the issue cycle to the accumulators.")
    w(f"module {dp.module} (")
    ports = dp.ports()
    w(*("    " + line + ("," if i + 1 < len(ports) else "") for i, line in enumerate(ports)))
    w(");", "")
    for g in dp.pes:
        if depth >= 1:
            w(f"reg signed [{ba - 1}:0] a_ra{g};", f"reg signed [{bb - 1}:0] a_rb{g};",
              f"always @(posedge clk) begin a_ra{g} <= a_va{g}; a_rb{g} <= a_vb{g}; end")
        a, b = (f"a_ra{g}", f"a_rb{g}") if depth >= 1 else (f"a_va{g}", f"a_vb{g}")
        # a signed multiply at the operands' width (what a DSP block does), wrapped to the accumulator
        w(f"wire signed [{ba + bb - 1}:0] a_pp{g} = {a} * {b};")
        if depth >= 2:
            w(f"reg signed [{ba + bb - 1}:0] a_pr{g};", f"always @(posedge clk) a_pr{g} <= a_pp{g};")
        if depth < 3:  # (with a third stage, the products are summed at their own width: below)
            w(f"wire [{acc - 1}:0] a_prod{g} = {sext(f'a_pr{g}' if depth >= 2 else f'a_pp{g}', ba + bb, acc)};")
    # what the reduction needs of the issue cycle, delayed along the datapath
    late = {"issue": "a_issue", "start": f"a_{q}_start", "last": f"a_{q}_last"}
    widths = {"issue": 1, "start": 1, "last": 1}
    if dp.vary_valid:
        late["v"], widths["v"] = "a_v", len(dp.vary_valid)
    if dp.pos_bits:
        late["pw"], widths["pw"] = f"a_{q}_pw", dp.pos_bits
    stages = [dict(late)]
    for k in range(1, depth + 1):
        for key, src_name in list(late.items()):
            if k > 2 and key in ("v", "pw"):  # (the products' validity and positions end at their sums)
                continue
            name = f"a_{key}_d{k}"
            w(f"reg [{widths[key] - 1}:0] {name};")
            value = f"~rst & go & {src_name}" if key == "issue" else src_name
            w(f"always @(posedge clk) {name} <= {value};")
            late[key] = name
        stages.append(dict(late))
    at_products = stages[min(depth, 2)]  # what the issue cycle decided, in the products' cycle
    w(f"reg [{acc - 1}:0] a_psum [0:{to - 1}];", f"reg [{acc - 1}:0] a_next [0:{to - 1}];", "integer a_j;")
    # per output element, the products it takes: (PE, the condition it takes it under, or "")
    takes: dict[int, list[tuple[int, str]]] = {j: [] for j in range(to)}
    for g in dp.pes:
        valid = f"{at_products['v']}[{dp.vary_valid.index(g)}]" if g in dp.vary_valid else ""
        at = dp.position[g]
        if isinstance(at, int):  # one output element for every step
            takes[at].append((g, valid))
        else:
            expr = at.replace(f"a_{q}_pw[", f"{at_products['pw']}[")
            for j in dp.elements[g]:
                takes[j].append((g, f"({expr} == {dp.pos_width}'d{j})" + (f" & {valid}" if valid else "")))

    def term(cond: str, product: str, bits: int) -> str:
        return f"({cond} ? {product} : {bits}'d0)" if cond else product

    if depth < 3:
        terms = {j: [term(cond, f"a_prod{g}", acc) for g, cond in takes[j]] for j in range(to)}
    else:
        # each element's products summed into a register, at the width their sum needs (the
        # accumulator's at most: wrapped there either way), so the accumulator adds one term
        sums = {j: min(acc, ba + bb + clog2(len(takes[j]))) for j in range(to) if takes[j]}
        terms = {j: [] for j in range(to)}
        w(*(f"reg [{bits - 1}:0] a_red{j};  // the products element {j} takes, summed" for j, bits in sums.items()))
        with w.block("always @(posedge clk) begin"):
            for j, bits in sums.items():
                w(f"a_red{j} <= " + " + ".join(term(cond, sext(f"a_pr{g}", ba + bb, bits), bits)
                                               for g, cond in takes[j]) + ";")
                terms[j] = [sext(f"a_red{j}", bits, acc)]
    with w.block("always @* begin"):
        for j in range(to):
            w(f"a_next[{j}] = ({late['start']} ? {acc}'d0 : a_psum[{j}])" + "".join(f" + {x}" for x in terms[j]) + ";")
    w(f"always @(posedge clk) if (~rst & go & {late['issue']}) "
      f"for (a_j = 0; a_j < {to}; a_j = a_j + 1) a_psum[a_j] <= a_next[a_j];")
    w(*(f"assign a_sums[{j * acc + acc - 1}:{j * acc}] = a_next[{j}];" for j in range(to)))
    w(f"assign a_drain = {late['issue']} & {late['last']};  // the drain tile is complete in a_sums")
    w("endmodule")
    return w.text()
