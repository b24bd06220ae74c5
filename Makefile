# qconv: a thin wrapper over the `qconv` command and pytest.
# On a fresh machine these two commands do all set-up (virtual environment,
# pinned Python packages, Icarus Verilog):
#     make sim DATAFLOW=ws BITS=8
#     make test
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
READY  := $(VENV)/.ready
QCONV  := $(BIN)/qconv

DATAFLOW ?= ws
BITS     ?= 8
# Options passed on only when set on the command line.
opt = $(if $($(1)),--$(2) $($(1)))
# Where a fan-out runs (docs/scale-out.md): WORKERS=N processes, DASK=local, or ADDRESS=tcp://HOST:8786.
FANOUT_OPTS = $(call opt,WORKERS,workers) $(call opt,DASK,dask) $(call opt,ADDRESS,address)
CONFIG_OPTS = --dataflow $(DATAFLOW) --bits $(BITS) $(call opt,PRESET,preset) $(call opt,ROWS,rows) \
              $(call opt,COLS,cols) $(call opt,RF_DEPTH,rf-depth) $(call opt,PACK,pack)

.PHONY: help setup sim layers test verilog quant infer clean

help:
	@echo "make sim DATAFLOW=os|ws BITS=1..16 [SIM=verilator|icarus ROWS=.. COLS=.. LAYER=.. SEED=.. WAVES=1]   run a layer on the RTL, check it"
	@echo "         [MEMORY=host|dram DRAM_BW=8 DRAM_LATENCY=40]                          dram: the System runs it from DRAM"
	@echo "make test                                                              run every test"
	@echo "make analyze [LAYER=..]                                                loop-nest analysis figures in build/analyze/"
	@echo "make predict [LAYER=.. DRAM_BW=8 JSON=..]                             the analytical model alone: cycles, roofline, DRAM words, energy"
	@echo "make map-sweep [LAYERS=all HIERARCHY=..] [WORKERS=.. DASK=local ADDRESS=tcp://..]  mapping search of many layers"
	@echo "make verilog DATAFLOW=os|ws BITS=1..16 [ROWS=.. COLS=..]                write build/verilog/qconv_top.v + .json"
	@echo "make quant [DOCS=docs/quantization.md]                                 quantization study of a digits CNN (build/quant/); DOCS: copy its tables there"
	@echo "make synth FPGA=ice40|ice40-hx8k|ecp5 [TOP=accelerator|system DATAFLOW= BITS= ROWS= COLS= PRESET= LAYER= PNR_TIMEOUT=s]  LUTs/FFs/BRAMs/DSPs/Fmax, critical path, GMAC/s"
	@echo "make synth-sweep [FPGA=ecp5|ice40 LAYER=] [WORKERS=.. DASK=local ADDRESS=tcp://..]  bits x arrays x dataflows sweep"
	@echo "make lint [DATAFLOW= BITS= ...]                                        verilator --lint-only -Wall"
	@echo "make bench                                                             benchmarks -> build/bench/"
	@echo "make regress [N=200 SEED=1 CONFIGS=.. MAX_SIDE=16] [WORKERS=.. DASK=local ADDRESS=tcp://..]  random co-simulation regression"
	@echo "make faults [SIM=verilator|icarus] [WORKERS=.. DASK=local ADDRESS=tcp://..]  inject faults; each must be caught"
	@echo "make layers NET=resnet18|vgg16|mobilenet_v1 [DATAFLOW= SIM= ONLY=a,b MEMORY=host|dram]  every named conv layer of a network, real size, on the RTL"
	@echo "make check-design [VERILOG=..] DATAFLOW=.. BITS=..                     does a Verilog + JSON match the configuration?"
	@echo "make infer BITS=8|1 [IMAGES=8 SIM=verilator|icarus]                    the trained digits CNN on the RTL, bit-exact (build/infer/)"
	@echo "make models                                                            digits CNN, ResNet-18, MobileNet-v1 quantized by ONNX Runtime (build/models/)"
	@echo "make bench-networks                                                    networks vs ONNX Runtime: exactness, top-1, wall time (build/bench/)"
	@echo "make run MODEL=m.onnx [BACKEND=model INPUT=x.npy|IMAGES=1 REQUANT=accelerator|onnxruntime]  a quantized ONNX model vs ONNX Runtime (build/run/)"

# Virtual environment with the pinned packages; rebuilt when the pins change.
$(READY): requirements.txt pyproject.toml
	@test -x $(BIN)/python || { echo "setting up $(VENV) (first run only)"; $(PYTHON) -m venv $(VENV); }
	@$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	@$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	@test -x $(QCONV) || { echo "install failed: $(QCONV) missing"; exit 1; }
	@touch $@

# Icarus Verilog comes from Debian; as root it is installed, otherwise the command is printed.
setup: $(READY)
	@command -v iverilog >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing iverilog (first run only)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iverilog >/dev/null; \
	  else \
	    echo "Icarus Verilog is missing and installing it needs root. Run:"; \
	    echo "    sudo apt-get update && sudo apt-get install -y iverilog"; \
	    exit 1; \
	  fi; }

sim: setup
	@$(QCONV) sim $(CONFIG_OPTS) $(call opt,SIM,sim) $(call opt,LAYER,layer) $(call opt,SEED,seed) $(call opt,JSON,json) $(if $(WAVES),--waves) \
		$(call opt,MEMORY,memory) $(call opt,DRAM_BW,dram-bw) $(call opt,DRAM_LATENCY,dram-latency)

# The analytical model alone (no RTL): cycles, roofline, DRAM words, energy.
.PHONY: predict
predict: setup
	@$(QCONV) predict $(CONFIG_OPTS) $(call opt,LAYER,layer) $(call opt,DRAM_BW,dram-bw) $(call opt,DRAM_LATENCY,dram-latency) \
		$(call opt,MEMORY,memory) $(if $(JSON),--json $(JSON))

layers: setup
	@$(QCONV) layers --net $(NET) $(CONFIG_OPTS) $(call opt,SIM,sim) $(call opt,SEED,seed) $(call opt,ONLY,only) $(call opt,JSON,json) \
		$(call opt,MEMORY,memory) $(call opt,DRAM_BW,dram-bw) $(call opt,DRAM_LATENCY,dram-latency)

verilog: setup
	@$(QCONV) verilog $(CONFIG_OPTS) --out build/verilog

# Tests run on every core (pytest-xdist); PYTEST_ARGS adds options, e.g. PYTEST_ARGS='-k cosim'.
test: setup
	@$(BIN)/python -m pytest -q -n auto $(PYTEST_ARGS)

quant: setup
	@$(QCONV) quant $(if $(DOCS),--docs $(DOCS))

# Reliability (docs/reliability.md): random regression and fault injection.
.PHONY: regress faults check-design
regress: setup
	@$(QCONV) regress --n $(or $(N),200) --seed $(or $(SEED),1) $(FANOUT_OPTS) \
	    $(call opt,CONFIGS,configs) $(call opt,MAX_SIDE,max-side)

faults: setup
	@$(QCONV) faults $(FANOUT_OPTS) $(call opt,SIM,sim)

# Does a generated Verilog file (default: the one `make verilog` writes) and the JSON beside it match the configuration?
check-design: setup
	@$(QCONV) check-design $(or $(VERILOG),build/verilog/qconv_top.v) $(CONFIG_OPTS)
# The trained quantized digits CNN on the RTL (default configuration, BITS=8 or 1), checked bit-exactly.
infer: setup
	@$(QCONV) infer --bits $(BITS) --dataflow $(DATAFLOW) $(call opt,PRESET,preset) $(call opt,ROWS,rows) $(call opt,COLS,cols) \
	  $(call opt,IMAGES,images) $(call opt,SIM,sim)

clean:
	rm -rf build

# Loop-nest analysis figures (reuse distances, LRU hit rates, energy, mapping search) in build/analyze/.
.PHONY: analyze map-sweep
analyze: setup
	@$(QCONV) analyze $(call opt,LAYER,layer)

# The mapping search of several layers (default: every named one), fanned out (docs/scale-out.md).
map-sweep: setup
	@$(QCONV) map --sweep $(or $(LAYERS),all) $(call opt,HIERARCHY,hierarchy) $(FANOUT_OPTS)
.PHONY: synth synth-sweep lint bench

# FPGA flow (YoWASP Yosys + nextpnr); results in build/synth/. ice40 defaults to the tiny preset.
synth: setup
	@$(QCONV) synth $(call opt,FPGA,fpga) $(call opt,PNR_TIMEOUT,pnr-timeout) $(call opt,LAYER,layer) $(call opt,TOP,top) $(CONFIG_OPTS)

synth-sweep: setup
	@$(QCONV) synth-sweep $(call opt,FPGA,fpga) $(call opt,PNR_TIMEOUT,pnr-timeout) $(call opt,LAYER,layer) $(FANOUT_OPTS)

lint: setup
	@$(QCONV) lint $(CONFIG_OPTS)

bench: setup
	@$(QCONV) bench

# Quantized ONNX networks (issue 13): build the bundled models, run one against ONNX Runtime.
.PHONY: models run bench-networks
models: setup
	@$(QCONV) models

run: setup
	@$(if $(MODEL),,$(error give MODEL=path/to/model.onnx, e.g. MODEL=build/models/resnet18.onnx after `make models`))
	@$(QCONV) run $(MODEL) --backend $(or $(BACKEND),model) $(if $(INPUT),--input $(INPUT),--images $(or $(IMAGES),1)) \
	  --compare $(call opt,REQUANT,requant) $(call opt,JSON,json) $(CONFIG_OPTS)

# The three networks against ONNX Runtime: exactness under both rules, top-1, wall time (build/bench/onnx_networks.*).
bench-networks: setup
	@$(BIN)/python bench/onnx_bench.py
