# ASR with Whisper: two commands on a fresh machine.
#   make lesson   set everything up, run the lesson headless, write build/ (notebook + HTML)
#   make test     set everything up, run every test (package, notebooks, solutions, grader)
# Everything is installed into $(VENV) from nothing; a second run reinstalls nothing.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# This machine (and CI) is CPU-only: pin the CPU wheel that lies on disk, or a bare `torch` pulls a multi-GB
# CUDA build. On a GPU machine: `make test TORCH_SPEC=torch`. The package metadata keeps a generic requirement.
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= offline,dev
STAMP := $(VENV)/.installed-$(shell echo '$(TORCH_SPEC) $(EXTRAS)' | cksum | cut -d' ' -f1)
PYTEST_ARGS ?=
QUICK ?= False
DEVICE ?=
SUBMISSIONS ?= submissions
JOBS ?= 2

.PHONY: install test lesson lint bench clean
LESSON := notebooks/19_asr_with_whisper.ipynb
LESSON_PARAMS ?=

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[$(EXTRAS)]"
	$(PY) -m course_utils prepare
	touch $@

test: install
	$(PY) -m ruff check course_utils tests
	$(PY) -m pytest $(PYTEST_ARGS)

lesson: install
	$(PY) -m course_utils.runner $(LESSON) --out build $(LESSON_PARAMS) $(if $(filter True,$(QUICK)),-p QUICK=True) $(if $(DEVICE),-p DEVICE=$(DEVICE))

bench: install
	$(PY) -m course_utils.bench longform --model tiny.en --markdown docs/benchmarks/longform-tiny.en.md --json docs/benchmarks/longform-tiny.en.json --plot docs/benchmarks/longform-tiny.en.png
	$(PY) -m course_utils.bench longform --model base --markdown docs/benchmarks/longform-base.md --json docs/benchmarks/longform-base.json --plot docs/benchmarks/longform-base.png
	$(PY) -m course_utils.bench throughput --model tiny.en --markdown docs/benchmarks/throughput-tiny.en.md --json docs/benchmarks/throughput-tiny.en.json --plot docs/benchmarks/throughput-tiny.en.png

lint: install
	$(PY) -m ruff check course_utils tests

clean:
	rm -rf build .pytest_cache

include mk/grading.mk
