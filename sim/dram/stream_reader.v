// A streaming AXI4 read master for the DRAM benchmark (sim/dram/bench.py): after a `start` pulse it
// reads `bursts` INCR bursts of 256 full-width beats, up to OUTSTANDING in flight, RREADY always high,
// over the first SPAN_BYTES of memory, and raises `done`; `beats` and `checksum` (XOR of every beat)
// show that the data arrived. No Python runs per cycle: the testbench only waits for `done`.
//
// qconv_dram_reader has m_axi_* ports (for cocotbext-axi's AxiRam); qconv_dram_stream joins it to
// qconv_dram, the whole memory system inside the simulator.
module qconv_dram_reader #(
    parameter DATA_BITS   = 64,
    parameter ID_BITS     = 1,
    parameter ADDR_BITS   = 32,
    parameter SPAN_BYTES  = 16777216,
    parameter OUTSTANDING = 8
) (
    input  wire                 clk,
    input  wire                 rst,
    input  wire                 start,
    input  wire [31:0]          bursts,
    output reg                  done,
    output reg  [31:0]          beats,
    output reg  [DATA_BITS-1:0] checksum,

    output wire [ID_BITS-1:0]   m_axi_arid,
    output wire [ADDR_BITS-1:0] m_axi_araddr,
    output wire [7:0]           m_axi_arlen,
    output wire [2:0]           m_axi_arsize,
    output wire [1:0]           m_axi_arburst,
    output wire                 m_axi_arvalid,
    input  wire                 m_axi_arready,
    input  wire [ID_BITS-1:0]   m_axi_rid,
    input  wire [DATA_BITS-1:0] m_axi_rdata,
    input  wire [1:0]           m_axi_rresp,
    input  wire                 m_axi_rlast,
    input  wire                 m_axi_rvalid,
    output wire                 m_axi_rready
);
    localparam BEAT_BYTES  = DATA_BITS / 8;
    localparam BURST_BYTES = 256 * BEAT_BYTES;
    localparam SIZE_LOG2   = BEAT_BYTES == 4 ? 2 : BEAT_BYTES == 8 ? 3 : 4;

    reg        running;
    reg [31:0] issued, completed;
    wire [31:0] in_flight = issued - completed;

    assign m_axi_arid    = {ID_BITS{1'b0}};
    assign m_axi_araddr  = (issued % (SPAN_BYTES / BURST_BYTES)) * BURST_BYTES;
    assign m_axi_arlen   = 8'd255;
    assign m_axi_arsize  = SIZE_LOG2;
    assign m_axi_arburst = 2'd1;
    assign m_axi_arvalid = running && issued != bursts && in_flight < OUTSTANDING;
    assign m_axi_rready  = 1'b1;

    always @(posedge clk) begin
        if (rst) begin
            running <= 1'b0; done <= 1'b0; issued <= 0; completed <= 0; beats <= 0; checksum <= 0;
        end else begin
            if (start) begin
                running <= 1'b1; done <= 1'b0; issued <= 0; completed <= 0; beats <= 0; checksum <= 0;
            end else begin
                if (m_axi_arvalid && m_axi_arready) issued <= issued + 1;
                if (m_axi_rvalid) begin
                    beats <= beats + 1;
                    checksum <= checksum ^ m_axi_rdata;
                    if (m_axi_rlast) completed <= completed + 1;
                end
                if (running && completed == bursts) begin
                    running <= 1'b0; done <= 1'b1;
                end
            end
        end
    end
endmodule

module qconv_dram_stream #(
    parameter DATA_BITS   = 64,
    parameter ID_BITS     = 1,
    parameter ADDR_BITS   = 32,
    parameter LATENCY     = 40,
    parameter INTERVAL    = 1,
    parameter SIZE_BYTES  = 16777216,
    parameter QUEUE_DEPTH = 16,
    parameter OUTSTANDING = 8
) (
    input  wire                 clk,
    input  wire                 rst,
    input  wire                 start,
    input  wire [31:0]          bursts,
    output wire                 done,
    output wire [31:0]          beats,
    output wire [DATA_BITS-1:0] checksum,
    input  wire                 load,
    input  wire [31:0]          image_first,
    input  wire [31:0]          image_last
);
    wire [ID_BITS-1:0] arid, rid, bid;
    wire [ADDR_BITS-1:0] araddr;
    wire [7:0] arlen;
    wire [2:0] arsize;
    wire [1:0] arburst, rresp, bresp;
    wire arvalid, arready, rlast, rvalid, rready, bvalid, awready, wready;
    wire [DATA_BITS-1:0] rdata;

    qconv_dram_reader #(.DATA_BITS(DATA_BITS), .ID_BITS(ID_BITS), .ADDR_BITS(ADDR_BITS), .SPAN_BYTES(SIZE_BYTES),
                        .OUTSTANDING(OUTSTANDING))
    reader (.clk(clk), .rst(rst), .start(start), .bursts(bursts), .done(done), .beats(beats), .checksum(checksum),
            .m_axi_arid(arid), .m_axi_araddr(araddr), .m_axi_arlen(arlen), .m_axi_arsize(arsize),
            .m_axi_arburst(arburst), .m_axi_arvalid(arvalid), .m_axi_arready(arready), .m_axi_rid(rid),
            .m_axi_rdata(rdata), .m_axi_rresp(rresp), .m_axi_rlast(rlast), .m_axi_rvalid(rvalid),
            .m_axi_rready(rready));

    qconv_dram #(.DATA_BITS(DATA_BITS), .ID_BITS(ID_BITS), .ADDR_BITS(ADDR_BITS), .LATENCY(LATENCY),
                 .INTERVAL(INTERVAL), .SIZE_BYTES(SIZE_BYTES), .QUEUE_DEPTH(QUEUE_DEPTH))
    dram (.clk(clk), .rst(rst), .load(load), .dump(1'b0), .image_first(image_first), .image_last(image_last),
          .s_axi_arid(arid), .s_axi_araddr(araddr), .s_axi_arlen(arlen), .s_axi_arsize(arsize),
          .s_axi_arburst(arburst), .s_axi_arvalid(arvalid), .s_axi_arready(arready),
          .s_axi_rid(rid), .s_axi_rdata(rdata), .s_axi_rresp(rresp), .s_axi_rlast(rlast),
          .s_axi_rvalid(rvalid), .s_axi_rready(rready),
          .s_axi_awid({ID_BITS{1'b0}}), .s_axi_awaddr({ADDR_BITS{1'b0}}), .s_axi_awlen(8'd0), .s_axi_awsize(3'd0),
          .s_axi_awburst(2'd0), .s_axi_awvalid(1'b0), .s_axi_awready(awready),
          .s_axi_wdata({DATA_BITS{1'b0}}), .s_axi_wstrb({(DATA_BITS/8){1'b0}}), .s_axi_wlast(1'b0),
          .s_axi_wvalid(1'b0), .s_axi_wready(wready),
          .s_axi_bid(bid), .s_axi_bresp(bresp), .s_axi_bvalid(bvalid), .s_axi_bready(1'b1));
endmodule
