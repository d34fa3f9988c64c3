# ASR with Whisper on a fresh machine (students: make lab, make lesson, make test):
#   make lesson   set everything up, run the lesson headless, write build/ (notebook + HTML)
#   make test     set everything up, run every test (package, notebooks, solutions, grader)
#   make lab      set everything up, open the lesson in JupyterLab with this project's kernel
#   make test-browser  the lesson in a real browser (JupyterLab + Debian's chromium): widgets, figures, Transcribe
# Everything is installed into $(VENV) from nothing; a second run reinstalls nothing.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# This machine (and CI) is CPU-only: pin the CPU wheel that lies on disk, or a bare `torch` pulls a multi-GB
# CUDA build. On a GPU machine: `make test TORCH_SPEC=torch`. The package metadata keeps a generic requirement.
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= offline,dev,browser
STAMP := $(VENV)/.installed-$(shell echo '$(TORCH_SPEC) $(EXTRAS)' | cksum | cut -d' ' -f1)
PYTEST_ARGS ?=
QUICK ?= False
DEVICE ?=
SUBMISSIONS ?= submissions
JOBS ?= 2

.PHONY: install test lesson lint bench clean lab kernel test-browser
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
	$(PY) -m ruff check course_utils tests scripts
	$(PY) -m pytest $(PYTEST_ARGS)

# The notebooks ask for the `python3` kernel: register this venv's python under that name inside the venv and
# make Jupyter prefer the venv's kernels over any user-level `python3` (JUPYTER_PREFER_ENV_PATH).
KERNEL_NAME := python3
LAB_ENV := JUPYTER_PREFER_ENV_PATH=1
LAB_ARGS ?=
kernel: install
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL_NAME) --display-name "Python 3 (ASR with Whisper, .venv)" >/dev/null

lab: kernel
	$(LAB_ENV) $(PY) -m jupyterlab $(LESSON) $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

# Debian's chromium, installed when missing (needs root, as in CI); Playwright drives it, never its own download.
CHROMIUM ?= /usr/bin/chromium
test-browser: kernel
	test -x $(CHROMIUM) || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	$(LAB_ENV) $(PY) scripts/browser_test.py --chromium $(CHROMIUM) --out build/browser

lesson: install
	$(PY) -m course_utils.runner $(LESSON) --out build $(LESSON_PARAMS) $(if $(filter True,$(QUICK)),-p QUICK=True) $(if $(DEVICE),-p DEVICE=$(DEVICE))

BENCH_FLAGS ?= --repeats 3 --wait-idle 300 --retries 3 --batch-sizes 8,16
bench: install
	@set -e; for model in tiny.en base; do for kind in longform throughput; do \
		$(PY) -m course_utils.bench $$kind --model $$model $(BENCH_FLAGS) --json docs/benchmarks/$$kind-$$model.json \
			--markdown docs/benchmarks/$$kind-$$model.md --plot docs/benchmarks/$$kind-$$model.png; \
	done; done

lint: install
	$(PY) -m ruff check course_utils tests scripts

clean:
	rm -rf build .pytest_cache

include mk/grading.mk
include mk/gpu.mk
