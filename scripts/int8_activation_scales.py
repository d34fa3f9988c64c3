"""Per-row against per-call int8 activation scales: `transcribe_fast` WER and time next to faster-whisper int8.

    python scripts/int8_activation_scales.py --model base --seeds 6-17
    python scripts/int8_activation_scales.py --model tiny.en --seeds 0-9 --passage --variants call,row

The recordings are ``mixes.mixed_long_form(seed)`` (10 dB pink noise on odd seeds; seeds 0-5 are the stress
set, later seeds were never used to tune anything) and, with ``--passage``, the corpus passage of
``make bench``. Per recording the variants take turns after one warm-up; WER is over all recordings together,
"×" is the summed wall time over faster-whisper int8's. Variants: ``call`` and ``row`` (``quantize(model,
activations=...)``), ``fp32`` (the model as loaded). docs/benchmarks.md, "Per-row activation scales".
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from time import perf_counter
from typing import Any

from course_utils.bench.longform import benchmark_audio
from course_utils.engines import faster_whisper_model, faster_whisper_transcriber
from course_utils.longform import transcribe_fast
from course_utils.mixes import mixed_long_form
from course_utils.models import load_model
from course_utils.quantize import quantize
from course_utils.scoring import ErrorCounts, dropped_utterances, word_errors

FW = "faster-whisper int8"


def seed_range(text: str) -> list[int]:
    """'6-17' or '0,3,5' → the seeds."""
    if "-" in text:
        first, last = (int(part) for part in text.split("-"))
        return list(range(first, last + 1))
    return [int(part) for part in text.split(",") if part]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run, print per recording and pooled, write JSON when asked."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="base")
    parser.add_argument("--seeds", default="6-17", help="e.g. 6-17 or 0,1,2")
    parser.add_argument("--passage", action="store_true", help="add the corpus passage of make bench")
    parser.add_argument("--variants", default="call,row,fp32")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    model = load_model(args.model, device="cpu")
    language = None if model.is_multilingual else "en"
    runs = {FW: faster_whisper_transcriber(faster_whisper_model(model, "int8"), language, args.batch_size)}
    for variant in args.variants.split(","):
        weights = model if variant == "fp32" else quantize(model, activations=variant)
        runs[variant] = lambda audio, w=weights: transcribe_fast(w, audio, args.batch_size, verbose=False).text
    recordings = [("passage", benchmark_audio(False))] if args.passage else []
    for seed in seed_range(args.seeds):
        recordings.append((f"seed {seed}", mixed_long_form(seed, noise_snr_db=10.0 if seed % 2 else None)))
    warm = recordings[0][1].audio[: 8 * 16000]
    for run in runs.values():
        run(warm)
    totals = {name: {"wall_s": 0.0, "errors": ErrorCounts(0, 0, 0, 0, 0), "dropped": 0} for name in runs}
    rows = []
    for label, recording in recordings:
        line = [label]
        for name, run in runs.items():
            start = perf_counter()
            text = run(recording.audio)
            wall = perf_counter() - start
            errors = word_errors(recording.reference, text)
            dropped = len(dropped_utterances(recording.references, text))
            total = totals[name]
            total["wall_s"] += wall
            total["errors"] = total["errors"] + errors
            total["dropped"] += dropped
            rows.append({"recording": label, "variant": name, "wall_s": wall, "wer": errors.rate, "dropped": dropped})
            line.append(f"{name} {wall:.2f} s {100 * errors.rate:.2f} % d{dropped}")
        print(" | ".join(line), flush=True)
    print(f"\n| {args.model} | wall s | × {FW} | WER % | dropped |\n|---|---:|---:|---:|---:|")
    summary = {}
    for name, total in totals.items():
        ratio = total["wall_s"] / totals[FW]["wall_s"]
        wer = total["errors"].rate
        summary[name] = {"wall_s": total["wall_s"], "ratio": ratio, "wer": wer, "dropped": total["dropped"]}
        print(f"| {name} | {total['wall_s']:.1f} | {ratio:.3f} | {100 * wer:.2f} | {total['dropped']} |")
    result = {
        "model": args.model,
        "command": "python scripts/int8_activation_scales.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "recordings": [label for label, _ in recordings],
        "rows": rows,
        "summary": summary,
    }
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=1)
    return result


if __name__ == "__main__":
    main()
