#!/usr/bin/env bash
# One prepared GPU check for a lent accelerator (see docs/gpu.md): installs a CUDA torch, runs the lesson
# under nbval with DEVICE=cuda, measures FP32 vs FP16 and batched long-form speed, and writes everything to
# ${OUT:-build/gpu}. Usage on the device machine:  bash scripts/gpu_check.sh
set -euo pipefail
OUT=${OUT:-build/gpu}
mkdir -p "$OUT"
SECONDS=0
make install TORCH_SPEC=torch > "$OUT/install.log" 2>&1
PY=.venv/bin/python
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || true
$PY -c "import torch; print(torch.__version__, torch.cuda.is_available(), torch.cuda.get_device_name(0))" | tee "$OUT/torch.txt"

# 1. The lesson through nbval on CUDA (default parameters), with its run time.
start=$SECONDS
$PY -m papermill --prepare-only notebooks/19_asr_with_whisper.ipynb "$OUT/lesson-cuda.ipynb" -p DEVICE cuda
COURSE_HEADLESS=1 MPLBACKEND=Agg $PY -m pytest --nbval-lax --current-env -p no:cacheprovider -q \
  "$OUT/lesson-cuda.ipynb" 2>&1 | tee "$OUT/nbval.txt"
echo "nbval lesson on CUDA: $((SECONDS - start)) s" | tee -a "$OUT/timings.txt"

# 2. FP32 vs FP16 and engines on the same 30 s of speech; 3. batched long-form on the benchmark audio.
$PY - <<'PY' 2>&1 | tee "$OUT/fp16.txt"
import json, os
import course_utils as cu
out = os.environ.get("OUT", "build/gpu")
results = {}
for name in ("tiny.en", "base"):
    model = cu.load_model(name, device="cuda")
    passage = cu.lj_passage(max_duration_s=30)
    rows = cu.compare_inference_options(model, passage.audio, passage.reference, repeats=3)
    results[name] = [row.to_dict() for row in rows]
    for row in rows:
        print(f"{name:8s} {row.label:32s} {row.seconds:7.3f} s  x{row.speedup:5.2f}  WER {100 * (row.wer or 0):.1f} %")
json.dump(results, open(f"{out}/fp16.json", "w"), indent=1)
PY
$PY -m course_utils.bench longform --model tiny.en --device cuda --json "$OUT/longform-tiny.en.json" \
  --markdown "$OUT/longform-tiny.en.md" 2>&1 | tee "$OUT/bench.txt"
echo "total: $SECONDS s" | tee -a "$OUT/timings.txt"
