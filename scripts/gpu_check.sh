#!/usr/bin/env bash
# The prepared GPU check (docs/gpu.md). On the lent GPU machine, with the bundle built by `make gpu-bundle`
# carried as .gpu:   bash scripts/gpu_check.sh
# It installs only from .gpu (no index, into a private folder), expands the transported tiny.en weights where the
# package's loader finds them ($COURSE_WHISPER_CT2_DIR), then runs
#   1. the lesson (QUICK) under nbval on $DEVICE,
#   2. FP32 vs FP16 for openai-whisper (scripts/gpu_report.py precision),
#   3. the batched long-form bench (python -m course_utils.bench longform),
# writes ≤ 8 files to $OUT and prints a summary table last. Exit status 0 only when every step passed.
# The CPU dry run (`make test-gpu-bundle`) runs this same script with DEVICE=cpu QUICK=True GPU_CHECK_GUARD=1.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DEVICE=${DEVICE:-cuda}
QUICK=${QUICK:-False}  # the lesson always runs QUICK; this shortens the measurements too (dry run)
PY=${PYTHON:-python3}
BUNDLE=$(cd "${GPU_BUNDLE:-.gpu}" && pwd) || { echo "no bundle: run make gpu-bundle and carry .gpu"; exit 2; }
OUT=${OUT:-$ROOT/build/gpu}
WORK=${GPU_WORK:-$ROOT/build/gpu-work}
BUDGET_S=${GPU_CHECK_BUDGET_S:-450}  # all steps together stay under the issue's 8 minutes
CAP_SCALE=${GPU_CHECK_CAP_SCALE:-1}  # the CPU dry run gives each step more time (within its own budget)
export ROOT DEVICE QUICK PY
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
rm -rf "$WORK" && mkdir -p "$WORK"/{home,tmp,cache,ct2,mpl,numba} && WORK=$(cd "$WORK" && pwd)
export OUT WORK BUNDLE

# Offline, private and headless: nothing may reach a registry, a user cache or the corpus beside the repo.
unset PIP_FIND_LINKS PIP_EXTRA_INDEX_URL PIP_INDEX_URL PIP_CONSTRAINT
export PIP_NO_INDEX=1 PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1
export http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9
export HTTPS_PROXY=http://127.0.0.1:9 ALL_PROXY=http://127.0.0.1:9 no_proxy="" NO_PROXY=""
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 COURSE_UTILS_OFFLINE=1 COURSE_HEADLESS=1 MPLBACKEND=Agg
export HOME=$WORK/home XDG_CACHE_HOME=$WORK/home/.cache TMPDIR=$WORK/tmp MPLCONFIGDIR=$WORK/mpl
export NUMBA_CACHE_DIR=$WORK/numba COURSE_UTILS_CACHE=$WORK/cache COURSE_WHISPER_CT2_DIR=$WORK/ct2
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
unset COURSE_SPEECH_DIR  # the packaged lesson data; the corpus does not travel
export PYTHONPATH=$ROOT:$WORK/site
if [ "${GPU_CHECK_GUARD:-0}" = 1 ]; then  # dry run: refuse the network, record files opened outside
  mkdir -p "$WORK/guard" && cp scripts/gpu_guard.py "$WORK/guard/sitecustomize.py"
  export PYTHONPATH=$WORK/guard:$PYTHONPATH GPU_GUARD_LOG=$WORK/guard.log GPU_GUARD_ALLOW=$ROOT:$OUT
  : > "$WORK/guard.log"
fi

STEPS=$WORK/steps.tsv
: > "$STEPS"
START=$SECONDS
step() {  # step NAME CAP_S COMMAND...: run with a time cap (never past the budget), record status and seconds
  local name=$1 cap=$2 left rc t0=$SECONDS
  shift 2
  cap=$((cap * CAP_SCALE))
  left=$((BUDGET_S - (SECONDS - START)))
  ((cap > left)) && cap=$left
  if ((cap < 10)); then
    printf '%s\tskipped (budget spent)\t0\n' "$name" >> "$STEPS"; return 1
  fi
  echo "=== $name (cap ${cap} s) ==="
  timeout -k 10 "$cap" bash -c '"$@"' step "$@"  # bash -c: the command may be one of the functions below
  rc=$?
  local status=ok
  ((rc == 124 || rc == 137)) && status="timed out after ${cap} s"
  ((rc != 0 && rc != 124 && rc != 137)) && status="failed (exit $rc)"
  printf '%s\t%s\t%s\n' "$name" "$status" "$((SECONDS - t0))" >> "$STEPS"
  return $rc
}

do_install() {
  "$PY" -m pip install --quiet --no-index --no-deps --no-compile --no-cache-dir --target "$WORK/site" \
    "$BUNDLE"/wheels/*.whl &&
  "$PY" scripts/gpu_weights.py expand "$BUNDLE/weights/tiny.en.npz" "$WORK/ct2/tiny.en" &&
  "$PY" -c "import course_utils as cu; m = cu.load_model('tiny.en', device='$DEVICE'); print('loaded', m.course_source)"
}

do_lesson() {
  "$PY" -m papermill --prepare-only notebooks/19_asr_with_whisper.ipynb "$WORK/lesson.ipynb" \
    -p DEVICE "$DEVICE" -p QUICK True &&
  (cd "$WORK" && "$PY" -m pytest -p no:cacheprovider -q --nbval-lax --nbval-current-env --nbval-cell-timeout 240 \
    --junitxml "$OUT/nbval.xml" lesson.ipynb)
}

do_longform() {
  local quick=() fw=()
  [ "$QUICK" = True ] && quick=(--quick --repeats 1 --batch-sizes 1,8)
  "$PY" -c "import faster_whisper" 2> /dev/null || fw=(--no-faster-whisper)
  "$PY" -m course_utils.bench longform --model tiny.en --device "$DEVICE" --wait-idle 0 --retries 0 \
    "${quick[@]}" "${fw[@]}" --json "$OUT/longform.json" --markdown "$OUT/longform.md"
}

export -f do_install do_lesson do_longform

main() {
ok=0
step install 120 do_install || ok=1
if ((ok == 0)); then
  step env 60 "$PY" scripts/gpu_report.py env "$DEVICE" "$OUT/env.json" || ok=1
  step "lesson QUICK under nbval" 240 do_lesson || ok=1
  step "FP32 vs FP16" 120 "$PY" scripts/gpu_report.py precision "$DEVICE" "$QUICK" "$OUT/precision.json" || ok=1
  step "long-form bench" 150 do_longform || ok=1
fi
if [ "${GPU_CHECK_GUARD:-0}" = 1 ] && [ -s "$WORK/guard.log" ]; then
  echo "=== the dry run reached outside its copy (gpu_guard) ==="
  sort -u "$WORK/guard.log" | head -40
  printf 'offline guard\tfailed (%s findings)\t0\n' "$(sort -u "$WORK/guard.log" | wc -l)" >> "$STEPS"
  ok=1
fi
printf 'total\t%s\t%s\n' "$([ $ok = 0 ] && echo ok || echo 'see above')" "$((SECONDS - START))" >> "$STEPS"
echo "=== summary ($(ls "$OUT" | wc -l) files in $OUT) ==="
"$PY" scripts/gpu_report.py summary "$OUT" "$STEPS" || ok=1
return $ok
}

main 2>&1 | tee "$OUT/check.log"
exit "${PIPESTATUS[0]}"
