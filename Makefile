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
CONFIG_OPTS = --dataflow $(DATAFLOW) --bits $(BITS) $(call opt,PRESET,preset) $(call opt,ROWS,rows) \
              $(call opt,COLS,cols) $(call opt,RF_DEPTH,rf-depth) $(call opt,PACK,pack)

.PHONY: help setup sim test verilog clean

help:
	@echo "make sim DATAFLOW=os|ws BITS=1..16 [SIM=verilator|icarus ROWS=.. COLS=.. LAYER=.. SEED=.. WAVES=1]   run a layer on the RTL, check it"
	@echo "make test                                                              run every test"
	@echo "make verilog DATAFLOW=os|ws BITS=1..16 [ROWS=.. COLS=..]                write build/verilog/qconv_top.v + .json"
	@echo "make synth FPGA=ice40|ice40-hx8k|ecp5 [DATAFLOW= BITS= ROWS= COLS= PRESET= PNR_TIMEOUT=s]  LUTs/FFs/BRAMs/DSPs/Fmax"
	@echo "make synth-sweep [FPGA=ecp5|ice40]                                     bits x arrays x dataflows sweep"
	@echo "make lint [DATAFLOW= BITS= ...]                                        verilator --lint-only -Wall"
	@echo "make bench                                                             benchmarks -> build/bench/"

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
	@$(QCONV) sim $(CONFIG_OPTS) $(call opt,SIM,sim) $(call opt,LAYER,layer) $(call opt,SEED,seed) $(call opt,JSON,json) $(if $(WAVES),--waves)

verilog: setup
	@$(QCONV) verilog $(CONFIG_OPTS) --out build/verilog

test: setup
	@$(BIN)/python -m pytest -q $(PYTEST_ARGS)

clean:
	rm -rf build

.PHONY: synth synth-sweep lint bench

# FPGA flow (YoWASP Yosys + nextpnr); results in build/synth/. ice40 defaults to the tiny preset.
synth: setup
	@$(QCONV) synth $(call opt,FPGA,fpga) $(call opt,PNR_TIMEOUT,pnr-timeout) $(CONFIG_OPTS)

synth-sweep: setup
	@$(QCONV) synth-sweep $(call opt,FPGA,fpga) $(call opt,PNR_TIMEOUT,pnr-timeout)

lint: setup
	@$(QCONV) lint $(CONFIG_OPTS)

bench: setup
	@$(QCONV) bench
