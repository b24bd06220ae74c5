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

.PHONY: help setup sim test verilog quant infer clean

help:
	@echo "make sim DATAFLOW=os|ws BITS=1..16 [SIM=verilator|icarus ROWS=.. COLS=.. LAYER=.. SEED=.. WAVES=1]   run a layer on the RTL, check it"
	@echo "make test                                                              run every test"
	@echo "make analyze [LAYER=..]                                                loop-nest analysis figures in build/analyze/"
	@echo "make verilog DATAFLOW=os|ws BITS=1..16 [ROWS=.. COLS=..]                write build/verilog/qconv_top.v + .json"
	@echo "make quant                                                             quantization study of a digits CNN (build/quant/)"
	@echo "make infer BITS=8|1 [IMAGES=8 SIM=verilator|icarus]                    the trained digits CNN on the RTL, bit-exact (build/infer/)"

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

# Tests run on every core (pytest-xdist); PYTEST_ARGS adds options, e.g. PYTEST_ARGS='-k cosim'.
test: setup
	@$(BIN)/python -m pytest -q -n auto $(PYTEST_ARGS)

quant: setup
	@$(QCONV) quant

# The trained quantized digits CNN on the RTL (default configuration, BITS=8 or 1), checked bit-exactly.
infer: setup
	@$(QCONV) infer --bits $(BITS) --dataflow $(DATAFLOW) $(call opt,PRESET,preset) $(call opt,ROWS,rows) $(call opt,COLS,cols) \
	  $(call opt,IMAGES,images) $(call opt,SIM,sim)

clean:
	rm -rf build

# Loop-nest analysis figures (reuse distances, LRU hit rates, energy, mapping search) in build/analyze/.
.PHONY: analyze
analyze: setup
	@$(QCONV) analyze $(call opt,LAYER,layer)
