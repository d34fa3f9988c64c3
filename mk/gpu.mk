# The GPU check (issue 14, docs/gpu.md): what travels to a lent GPU machine, and its dry run on CPU.
#   make gpu-bundle        wheels for CPython 3.12 the GPU machine lacks + int8 tiny.en weights in .gpu/ (≤ 60 MiB
#                          with the working tree, printed); then a device call runs `bash scripts/gpu_check.sh`
#   make test-gpu-bundle   the same check on CPU from a copy of the tree, offline, with a bundle for this Python
GPU_BUNDLE ?= .gpu
.PHONY: gpu-bundle test-gpu-bundle

gpu-bundle: install
	$(PY) scripts/gpu_bundle.py --out $(GPU_BUNDLE)

test-gpu-bundle: install
	$(PY) scripts/gpu_dryrun.py --torch "$(TORCH_SPEC)"
