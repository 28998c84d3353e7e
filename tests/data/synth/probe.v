module probe (
    input wire clk, input wire we, input wire [9:0] wa, input wire [9:0] ra, input wire [15:0] wd,
    output reg [15:0] rd, input wire en, input wire [3:0] d, output reg [3:0] q,
    input wire [3:0] la, input wire [7:0] lwd, output wire [7:0] lrd, output reg [7:0] fq
);
  reg [15:0] big_bmem0 [0:1023];
  always @(posedge clk) begin if (we) big_bmem0[wa] <= wd; rd <= big_bmem0[ra]; end
  reg [7:0] small_emem [0:15];
  always @(posedge clk) if (we) small_emem[la] <= lwd;
  assign lrd = small_emem[la];
  reg [7:0] tiny_mem [0:3];
  always @(posedge clk) begin tiny_mem[0] <= lwd; tiny_mem[la[1:0]] <= wd[7:0]; fq <= tiny_mem[ra[1:0]] ^ tiny_mem[wa[1:0]]; end
  always @* if (en) q = d;
endmodule
