// qconv_dram: the co-simulation's DRAM, an AXI4 slave with a deterministic timing.
//
// The timing rule is written out in model/dram.py (its module docstring) and implemented there a
// second time as a transaction model; tests/test_dram.py checks that both give the same cycle for
// every handshake. In short, with INTERVAL = beat bytes / bandwidth:
//   * one beat (R or W) per INTERVAL cycles on one shared bus; reads first;
//   * ARREADY/AWREADY while fewer than QUEUE_DEPTH bursts are queued per direction;
//   * a read burst's first beat at >= AR handshake + LATENCY, then back to back, RVALID held;
//   * WREADY only while an AW is queued, the bus slot is free and no read beat is offered;
//   * BVALID at >= last W handshake + LATENCY, in order, held until BREADY;
//   * a beat outside [0, SIZE_BYTES) answers DECERR (reads give zeros, writes write nothing);
//     a burst that is not INCR or not full width answers SLVERR.
// Cycle numbers are edges of clk; `now` counts them from reset. LATENCY must be >= 2.
//
// Bulk access: a one-cycle pulse on `load` reads the hex file named by +dram_init=<file> into words
// image_first..image_last ($readmemh); a pulse on `dump` writes those words to +dram_dump=<file>
// ($writememh). A word is one beat: byte address a is in lane a % BEAT_BYTES of word a / BEAT_BYTES.
// The memory starts as zeros.
module qconv_dram #(
    parameter DATA_BITS   = 64,
    parameter ID_BITS     = 1,
    parameter ADDR_BITS   = 32,
    parameter LATENCY     = 40,
    parameter INTERVAL    = 1,
    parameter SIZE_BYTES  = 16777216,
    parameter QUEUE_DEPTH = 16
) (
    input  wire                   clk,
    input  wire                   rst,
    input  wire                   load,
    input  wire                   dump,
    input  wire [31:0]            image_first,
    input  wire [31:0]            image_last,

    input  wire [ID_BITS-1:0]     s_axi_arid,
    /* verilator lint_off UNUSEDSIGNAL */   // bits below the beat: lanes are fixed by the address
    input  wire [ADDR_BITS-1:0]   s_axi_araddr,
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire [7:0]             s_axi_arlen,
    input  wire [2:0]             s_axi_arsize,
    input  wire [1:0]             s_axi_arburst,
    input  wire                   s_axi_arvalid,
    output wire                   s_axi_arready,

    output reg  [ID_BITS-1:0]     s_axi_rid,
    output reg  [DATA_BITS-1:0]   s_axi_rdata,
    output reg  [1:0]             s_axi_rresp,
    output reg                    s_axi_rlast,
    output reg                    s_axi_rvalid,
    input  wire                   s_axi_rready,

    input  wire [ID_BITS-1:0]     s_axi_awid,
    /* verilator lint_off UNUSEDSIGNAL */
    input  wire [ADDR_BITS-1:0]   s_axi_awaddr,
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire [7:0]             s_axi_awlen,
    input  wire [2:0]             s_axi_awsize,
    input  wire [1:0]             s_axi_awburst,
    input  wire                   s_axi_awvalid,
    output wire                   s_axi_awready,

    input  wire [DATA_BITS-1:0]   s_axi_wdata,
    input  wire [DATA_BITS/8-1:0] s_axi_wstrb,
    /* verilator lint_off UNUSEDSIGNAL */   // a burst ends after AWLEN + 1 beats
    input  wire                   s_axi_wlast,
    /* verilator lint_on UNUSEDSIGNAL */
    input  wire                   s_axi_wvalid,
    output wire                   s_axi_wready,

    output reg  [ID_BITS-1:0]     s_axi_bid,
    output reg  [1:0]             s_axi_bresp,
    output reg                    s_axi_bvalid,
    input  wire                   s_axi_bready
);
    localparam BEAT_BYTES = DATA_BITS / 8;
    localparam SIZE_LOG2  = BEAT_BYTES == 1 ? 0 : BEAT_BYTES == 2 ? 1 : BEAT_BYTES == 4 ? 2 :
                            BEAT_BYTES == 8 ? 3 : 4;
    localparam WORDS      = SIZE_BYTES / BEAT_BYTES;
    localparam INDEX_BITS = WORDS > 1 ? $clog2(WORDS) : 1;
    localparam WORD_BITS  = ADDR_BITS - SIZE_LOG2;      // a beat's word address
    localparam [WORD_BITS:0] END_WORD = WORDS;           // first word past the memory
    localparam QBITS      = QUEUE_DEPTH <= 2 ? 1 : QUEUE_DEPTH <= 4 ? 2 : QUEUE_DEPTH <= 8 ? 3 :
                            QUEUE_DEPTH <= 16 ? 4 : QUEUE_DEPTH <= 32 ? 5 : 6;
    localparam [1:0] OKAY = 2'd0, SLVERR = 2'd2, DECERR = 2'd3;
    localparam [1:0] INCR = 2'd1;

    reg [DATA_BITS-1:0] mem [0:WORDS-1];
    reg [8*1024-1:0] init_file;
    reg [8*1024-1:0] dump_file;
    integer i;
    initial begin
        for (i = 0; i < WORDS; i = i + 1) mem[i] = {DATA_BITS{1'b0}};
        if (!$value$plusargs("dram_init=%s", init_file)) init_file = "dram_init.hex";
        if (!$value$plusargs("dram_dump=%s", dump_file)) dump_file = "dram_dump.hex";
    end

    reg [63:0] now;                 // the number of the edge being sampled
    reg [15:0] gap;                 // cycles until the bus may move the next beat (0: it may now)

    // -- read queue: AR handshake .. last R handshake -----------------------------------------
    reg [WORD_BITS-1:0]           rq_word  [0:QUEUE_DEPTH-1];
    reg [7:0]                     rq_len   [0:QUEUE_DEPTH-1];
    reg [ID_BITS-1:0]             rq_id    [0:QUEUE_DEPTH-1];
    reg                           rq_bad   [0:QUEUE_DEPTH-1];   // not INCR or not full width
    reg [63:0]                    rq_ready [0:QUEUE_DEPTH-1];   // AR handshake + LATENCY
    reg [QBITS-1:0] rq_head, rq_tail;
    reg [QBITS:0]   rq_count;
    reg [7:0]       rbeat;          // beat of the head burst that is (or is next to be) offered

    // -- write queue: AW handshake .. B handshake; wq_head is the burst taking W beats --------
    reg [WORD_BITS-1:0]           wq_word  [0:QUEUE_DEPTH-1];
    reg [7:0]                     wq_len   [0:QUEUE_DEPTH-1];
    reg [ID_BITS-1:0]             wq_id    [0:QUEUE_DEPTH-1];
    reg                           wq_bad   [0:QUEUE_DEPTH-1];
    reg [1:0]                     wq_resp  [0:QUEUE_DEPTH-1];
    reg [63:0]                    wq_ready [0:QUEUE_DEPTH-1];   // last W handshake + LATENCY
    reg [QBITS-1:0] wq_tail, wq_head, bq_head;
    reg [QBITS:0]   wq_count;       // bursts from AW to B
    reg [QBITS:0]   wq_pending;     // bursts whose AW is in and whose W beats are not all in
    reg [7:0]       wbeat;
    reg [1:0]       wresp;          // response gathered over the beats of the burst taking W beats

    wire ar_fire = s_axi_arvalid && s_axi_arready;
    wire aw_fire = s_axi_awvalid && s_axi_awready;
    wire r_fire  = s_axi_rvalid && s_axi_rready;
    wire w_fire  = s_axi_wvalid && s_axi_wready;
    wire b_fire  = s_axi_bvalid && s_axi_bready;

    assign s_axi_arready = rq_count < QUEUE_DEPTH;
    assign s_axi_awready = wq_count < QUEUE_DEPTH;
    assign s_axi_wready  = wq_pending != 0 && !s_axi_rvalid && gap == 0;

    // State after this edge's handshakes, from which the next read beat and B are chosen.
    wire [15:0]      gap_next    = (r_fire || w_fire) ? INTERVAL - 1 : (gap != 0 ? gap - 1 : 0);
    wire             r_pop       = r_fire && s_axi_rlast;
    wire [QBITS-1:0] rq_head_nx  = rq_head + r_pop;
    wire [QBITS:0]   rq_left     = rq_count - r_pop;            // without an AR of this edge
    wire [7:0]       rbeat_nx    = r_pop ? 8'd0 : rbeat + r_fire;
    wire             r_offer     = rq_left != 0 && gap_next == 0 &&
                                   (rbeat_nx != 0 || rq_ready[rq_head_nx] <= now + 1);
    wire [WORD_BITS:0] r_word    = {1'b0, rq_word[rq_head_nx]} + {{(WORD_BITS - 7){1'b0}}, rbeat_nx};
    wire             r_outside   = r_word >= END_WORD;

    wire [QBITS-1:0] bq_head_nx  = bq_head + b_fire;
    wire [QBITS:0]   bq_left     = wq_count - wq_pending - b_fire;  // without a burst ending this edge
    wire             b_offer     = bq_left != 0 && wq_ready[bq_head_nx] <= now + 1;
    wire             w_end       = w_fire && wbeat == wq_len[wq_head];
    wire [1:0]       w_beat_resp = wq_bad[wq_head] ? SLVERR : w_outside ? DECERR : OKAY;
    wire [1:0]       wresp_nx    = wresp > w_beat_resp ? wresp : w_beat_resp;  // the worse: a burst is all SLVERR, or OKAY and DECERR
    wire [WORD_BITS:0] w_word    = {1'b0, wq_word[wq_head]} + {{(WORD_BITS - 7){1'b0}}, wbeat};
    wire             w_outside   = w_word >= END_WORD;

    reg [DATA_BITS-1:0] strobe_mask;
    integer lane;
    always @(*) begin
        for (lane = 0; lane < BEAT_BYTES; lane = lane + 1)
            strobe_mask[8*lane +: 8] = {8{s_axi_wstrb[lane]}};
    end

    always @(posedge clk) begin
        if (load) $readmemh(init_file, mem, image_first, image_last);
        if (dump) $writememh(dump_file, mem, image_first, image_last);
        if (rst) begin
            now <= 0;
            gap <= 0;
            rq_head <= 0; rq_tail <= 0; rq_count <= 0; rbeat <= 0;
            wq_tail <= 0; wq_head <= 0; bq_head <= 0; wq_count <= 0; wq_pending <= 0; wbeat <= 0;
            wresp <= OKAY;
            s_axi_rvalid <= 1'b0; s_axi_rlast <= 1'b0; s_axi_rdata <= 0; s_axi_rresp <= OKAY; s_axi_rid <= 0;
            s_axi_bvalid <= 1'b0; s_axi_bresp <= OKAY; s_axi_bid <= 0;
        end else begin
            now <= now + 1;
            gap <= gap_next;
            // address channels
            if (ar_fire) begin
                rq_word[rq_tail]  <= s_axi_araddr[ADDR_BITS-1:SIZE_LOG2];
                rq_len[rq_tail]   <= s_axi_arlen;
                rq_id[rq_tail]    <= s_axi_arid;
                rq_bad[rq_tail]   <= s_axi_arsize != SIZE_LOG2 || s_axi_arburst != INCR;
                rq_ready[rq_tail] <= now + LATENCY;
                rq_tail <= rq_tail + 1;
            end
            rq_count <= rq_count + ar_fire - r_pop;
            if (aw_fire) begin
                wq_word[wq_tail] <= s_axi_awaddr[ADDR_BITS-1:SIZE_LOG2];
                wq_len[wq_tail]  <= s_axi_awlen;
                wq_id[wq_tail]   <= s_axi_awid;
                wq_bad[wq_tail]  <= s_axi_awsize != SIZE_LOG2 || s_axi_awburst != INCR;
                wq_tail <= wq_tail + 1;
            end
            wq_count <= wq_count + aw_fire - b_fire;
            wq_pending <= wq_pending + aw_fire - w_end;
            // read data: hold an offered beat until RREADY, else offer the next one when it is due
            if (!s_axi_rvalid || s_axi_rready) begin
                s_axi_rvalid <= r_offer;
                if (r_offer) begin
                    s_axi_rid   <= rq_id[rq_head_nx];
                    s_axi_rlast <= rbeat_nx == rq_len[rq_head_nx];
                    s_axi_rresp <= rq_bad[rq_head_nx] ? SLVERR : r_outside ? DECERR : OKAY;
                    s_axi_rdata <= (rq_bad[rq_head_nx] || r_outside) ? {DATA_BITS{1'b0}} : mem[r_word[INDEX_BITS-1:0]];
                end
            end
            rq_head <= rq_head_nx;
            rbeat <= rbeat_nx;
            // write data
            if (w_fire) begin
                if (!wq_bad[wq_head] && !w_outside)
                    mem[w_word[INDEX_BITS-1:0]] <= (mem[w_word[INDEX_BITS-1:0]] & ~strobe_mask) | (s_axi_wdata & strobe_mask);
                if (w_end) begin
                    wq_resp[wq_head]  <= wresp_nx;
                    wq_ready[wq_head] <= now + LATENCY;
                    wq_head <= wq_head + 1;
                    wbeat <= 0;
                    wresp <= OKAY;
                end else begin
                    wbeat <= wbeat + 1;
                    wresp <= wresp_nx;
                end
            end
            // write responses, in order
            if (!s_axi_bvalid || s_axi_bready) begin
                s_axi_bvalid <= b_offer;
                if (b_offer) begin
                    s_axi_bid   <= wq_id[bq_head_nx];
                    s_axi_bresp <= wq_resp[bq_head_nx];
                end
            end
            bq_head <= bq_head_nx;
        end
    end
endmodule
