`timescale 1ns / 1ps
// A bare output-stationary systolic array, written by hand: the baseline that
// benchmarks/rtl_reference.py synthesizes with sasim's ECP5 flow, to compare the generated
// accelerator against. No buffers, no sequencer, no DRAM ports: the caller feeds skewed
// operands at the edges and reads the accumulators out through a shift chain.
//
// PE (i, j) holds one output element. Row i's operand a enters at column 0 and moves one PE
// right per cycle; column j's operand b enters at row 0 and moves one PE down per cycle;
// each PE multiplies the two it holds (signed, at the operands' width: one MULT18 on ECP5)
// and adds the product to its accumulator. `first` travels with a: a PE that sees it set
// starts a new sum with this product. On `drain` every accumulator is copied into its
// column's shift chain, which moves one row down per cycle and leaves at row ROWS-1.
// PRODUCT_REG = 1 registers the product before the addition (a two-cycle MAC, as the
// generated accelerator's datapath has), so the multiplier and the 32-bit adder are on
// different paths; 0 multiplies and accumulates in one cycle.
module os_array #(
    parameter ROWS = 8,
    parameter COLS = 8,
    parameter A_BITS = 8,
    parameter B_BITS = 8,
    parameter ACC_BITS = 32,
    parameter PRODUCT_REG = 1
) (
    input clk,
    input [ROWS-1:0] first,
    input [ROWS*A_BITS-1:0] a,
    input [COLS*B_BITS-1:0] b,
    input drain,
    output [COLS*ACC_BITS-1:0] out
);
    // what each PE holds, flattened row-major (PE index i*COLS + j), for its neighbours to
    // read: the last column's operand a and the bottom row's b and chain have no reader
    /* verilator lint_off UNUSEDSIGNAL */
    wire [ROWS*COLS*A_BITS-1:0] a_all;
    wire [ROWS*COLS*B_BITS-1:0] b_all;
    wire [ROWS*COLS-1:0] f_all;
    wire [ROWS*COLS*ACC_BITS-1:0] chain_all;
    /* verilator lint_on UNUSEDSIGNAL */

    genvar i, j;
    generate
        for (i = 0; i < ROWS; i = i + 1) begin : row
            for (j = 0; j < COLS; j = j + 1) begin : col
                localparam integer P = i * COLS + j;
                reg signed [A_BITS-1:0] a_r;
                reg signed [B_BITS-1:0] b_r;
                reg f_r;
                reg [ACC_BITS-1:0] acc;
                reg [ACC_BITS-1:0] chain;
                assign a_all[P*A_BITS + A_BITS-1:P*A_BITS] = a_r;
                assign b_all[P*B_BITS + B_BITS-1:P*B_BITS] = b_r;
                assign f_all[P] = f_r;
                assign chain_all[P*ACC_BITS + ACC_BITS-1:P*ACC_BITS] = chain;
                wire [A_BITS-1:0] a_in;
                wire [B_BITS-1:0] b_in;
                wire f_in;
                wire [ACC_BITS-1:0] chain_in;
                if (j == 0) begin : left
                    assign a_in = a[i*A_BITS + A_BITS-1:i*A_BITS];
                    assign f_in = first[i];
                end else begin : inner_a
                    assign a_in = a_all[(P-1)*A_BITS + A_BITS-1:(P-1)*A_BITS];
                    assign f_in = f_all[P-1];
                end
                if (i == 0) begin : top
                    assign b_in = b[j*B_BITS + B_BITS-1:j*B_BITS];
                    assign chain_in = {ACC_BITS{1'b0}};
                end else begin : inner_b
                    assign b_in = b_all[(P-COLS)*B_BITS + B_BITS-1:(P-COLS)*B_BITS];
                    assign chain_in = chain_all[(P-COLS)*ACC_BITS + ACC_BITS-1:(P-COLS)*ACC_BITS];
                end
                wire signed [A_BITS+B_BITS-1:0] product = a_r * b_r;
                // the product (and its `first`) as the accumulator adds it
                wire signed [A_BITS+B_BITS-1:0] addend;
                wire f_add;
                if (PRODUCT_REG) begin : staged
                    reg signed [A_BITS+B_BITS-1:0] p_r;
                    reg f_p;
                    always @(posedge clk) begin
                        p_r <= product;
                        f_p <= f_r;
                    end
                    assign addend = p_r;
                    assign f_add = f_p;
                end else begin : direct
                    assign addend = product;
                    assign f_add = f_r;
                end
                wire [ACC_BITS-1:0] wide = {{(ACC_BITS-A_BITS-B_BITS){addend[A_BITS+B_BITS-1]}}, addend};
                always @(posedge clk) begin
                    a_r <= a_in;
                    b_r <= b_in;
                    f_r <= f_in;
                    acc <= f_add ? wide : acc + wide;
                    chain <= drain ? acc : chain_in;
                end
                if (i == ROWS - 1) begin : bottom
                    assign out[j*ACC_BITS + ACC_BITS-1:j*ACC_BITS] = chain;
                end
            end
        end
    endgenerate
endmodule
