"""transcribe_long with int8 weights (course_utils.quantize) against faster-whisper int8 on the stress set.

    python scripts/profile_int8_longform.py --model tiny.en --seed 0 --rounds 1 --threads 1

One process; the methods take turns (round-robin) over `--rounds`, after one untimed warm-up on the first
8 s. Reported per method: median wall seconds, median CPU seconds of this process (the fair figure on a
shared machine), WER and dropped utterances on ``mixes.mixed_long_form(seed)`` (10 dB SNR pink noise on odd
seeds, as the stress set). Issue 10's acceptance: best course_utils wall ≤ faster-whisper int8 wall and WER
≤ its WER + 0.5 point.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import torch

from course_utils.engines import faster_whisper_model, faster_whisper_transcriber
from course_utils.longform import transcribe_long
from course_utils.mixes import mixed_long_form
from course_utils.models import load_model
from course_utils.quantize import RECOMMENDED, quantize
from course_utils.scoring import dropped_utterances, word_errors


def methods(
    model: Any, batch_size: int, part_sets: list[tuple[str, ...]], fp32: bool
) -> dict[str, Callable[[Any], str]]:
    """name → audio-to-text function: transcribe_long fp32, int8 per set of parts, faster-whisper int8."""
    language = None if model.is_multilingual else "en"
    out: dict[str, Callable[[Any], str]] = {}
    if fp32:
        out[f"transcribe_long fp32 (batch {batch_size})"] = (
            lambda a: transcribe_long(model, a, batch_size, verbose=False).text)
    for parts in part_sets:
        int8 = quantize(model, parts)
        out[f"transcribe_long int8 {'+'.join(parts)} (batch {batch_size})"] = (
            lambda a, int8=int8: transcribe_long(int8, a, batch_size, verbose=False).text)
    pipeline = faster_whisper_transcriber(faster_whisper_model(model, "int8"), language, batch_size)
    out[f"faster-whisper BatchedInferencePipeline int8 (batch {batch_size})"] = pipeline
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run, print a Markdown table, write JSON when asked."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=0, help="torch and CTranslate2 threads (0: torch's default)")
    parser.add_argument("--parts", default=",".join(RECOMMENDED),
                        help="quantize parts, comma-separated; several sets separated by ';'")
    parser.add_argument("--no-fp32", action="store_true", help="leave out transcribe_long with fp32 weights")
    parser.add_argument("--json", default="")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_model(args.model, device="cpu")
    runs = methods(model, args.batch_size, [tuple(p.split(",")) for p in args.parts.split(";")], not args.no_fp32)
    mix = mixed_long_form(args.seed, noise_snr_db=10.0 if args.seed % 2 else None)
    for run in runs.values():
        run(mix.audio[: 8 * 16000])
    rows: dict[str, dict[str, Any]] = {name: {"wall_s": [], "cpu_s": []} for name in runs}
    for round_ in range(args.rounds):
        for name, run in runs.items():
            wall, cpu = time.perf_counter(), time.process_time()
            text = run(mix.audio)
            row = rows[name]
            row["wall_s"].append(time.perf_counter() - wall)
            row["cpu_s"].append(time.process_time() - cpu)
            row["wer"] = word_errors(mix.reference, text).rate
            row["dropped"] = [mix.clip_ids[i] for i in dropped_utterances(mix.references, text)]
            print(f"[{round_ + 1}/{args.rounds}] {name:<58} wall {row['wall_s'][-1]:7.2f} s  CPU "
                  f"{row['cpu_s'][-1]:7.2f} s  WER {100 * row['wer']:5.2f} %  dropped {row['dropped']}",
                  file=sys.stderr, flush=True)
    print(f"\n{args.model}, stress seed {args.seed} ({mix.duration_s:.1f} s), {args.rounds} round(s), "
          f"{torch.get_num_threads()} thread(s)\n")
    print("| method | wall s | CPU s | WER % | dropped |\n|---|---:|---:|---:|---:|")
    for name, row in rows.items():
        row["wall_median_s"] = statistics.median(row["wall_s"])
        row["cpu_median_s"] = statistics.median(row["cpu_s"])
        print(f"| {name} | {row['wall_median_s']:.2f} | {row['cpu_median_s']:.2f} | {100 * row['wer']:.2f} | "
              f"{len(row['dropped'])} |")
    result = {"model": args.model, "seed": args.seed, "duration_s": mix.duration_s, "command": " ".join(sys.argv),
              "threads": torch.get_num_threads(), "rows": rows}
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=1)
    return result


if __name__ == "__main__":
    main()
