"""Measure the long-form methods on the stress set (issue 12): WER, dropped utterances, uncovered speech, wall time.

    python scripts/longform_stress.py --model tiny.en --seeds 0,1,2,3 --json docs/benchmarks/stress-tiny.en.json
    python scripts/longform_stress.py --model base --batch-size 16 --only long,faster --int8 --json ...

Every method runs on every recording in one process, taking turns (round-robin per recording), after one
warm-up on the first 8 s; the mixes are ``mixes.mixed_long_form(seed)`` with 10 dB SNR pink noise on odd seeds.
WER is over all recordings together (errors / reference words), "dropped" counts reference clips whose words
are ≥ 80 % deleted (``scoring.dropped_utterances``), "×" is the summed wall time over openai-whisper's.
With ``--repeats N`` every method runs N times per recording (all methods take turns in each repetition) and
a recording's time is its fastest run, for every method alike: on a shared machine a burst of other work
then has to hit the same method N times to move the ratio.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Callable
from time import perf_counter
from typing import Any

from course_utils.decoding import transcribe_options
from course_utils.engines import faster_whisper_model, faster_whisper_transcriber
from course_utils.longform import transcribe_fast, transcribe_long, transcribe_overlapping, transcribe_vad
from course_utils.mixes import STRESS_SEEDS, mixed_long_form
from course_utils.models import load_model
from course_utils.quantize import quantize
from course_utils.scoring import dropped_utterances, word_errors


def methods(model: Any, batch_size: int, faster: bool, int8: bool = False) -> dict[str, Callable[[Any], str]]:
    """name → audio-to-text function, sequential openai-whisper first (with `int8`: both engines' int8 rows)."""
    options = transcribe_options(model)
    out: dict[str, Callable[[Any], str]] = {
        "openai-whisper model.transcribe (sequential)": lambda a: model.transcribe(a, **options)["text"],
        f"transcribe_long (batch {batch_size})": lambda a: transcribe_long(model, a, batch_size, verbose=False).text,
        f"transcribe_vad (batch {batch_size})": lambda a: transcribe_vad(model, a, batch_size=batch_size,
                                                                         verbose=False).text,
        f"transcribe_overlapping (batch {batch_size})": lambda a: transcribe_overlapping(
            model, a, batch_size=batch_size, verbose=False).text,
        f"transcribe_fast (batch {batch_size})": lambda a: transcribe_fast(model, a, batch_size, verbose=False).text,
    }
    if faster:
        language = None if model.is_multilingual else "en"
        pipeline = faster_whisper_transcriber(faster_whisper_model(model, "float32"), language, batch_size)
        out[f"faster-whisper BatchedInferencePipeline fp32 (batch {batch_size})"] = pipeline
        if int8:
            pipeline8 = faster_whisper_transcriber(faster_whisper_model(model, "int8"), language, batch_size)
            out[f"faster-whisper BatchedInferencePipeline int8 (batch {batch_size})"] = pipeline8
    if int8:
        small = quantize(model)  # course_utils.quantize: int8 where it pays on this CPU (RECOMMENDED parts)
        out[f"transcribe_long int8 (batch {batch_size})"] = lambda a: transcribe_long(small, a, batch_size,
                                                                                      verbose=False).text
        out[f"transcribe_fast int8 (batch {batch_size})"] = lambda a: transcribe_fast(small, a, batch_size,
                                                                                      verbose=False).text
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run and print the table; write JSON when asked."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--seeds", default=",".join(map(str, STRESS_SEEDS)))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--no-faster-whisper", action="store_true")
    parser.add_argument("--int8", action="store_true",
                        help="add int8 rows: faster-whisper's, transcribe_long's and transcribe_fast's")
    parser.add_argument("--json", default="")
    parser.add_argument("--only", default="", help="comma-separated words: keep the methods whose name has one")
    parser.add_argument("--repeats", type=int, default=1,
                        help="runs per method and recording, taking turns; a recording's time is the fastest run")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    warnings.simplefilter("ignore")
    model = load_model(args.model, device="cpu")
    runs = methods(model, args.batch_size, not args.no_faster_whisper, args.int8)
    if args.only:
        words = args.only.split(",")
        runs = {name: run for i, (name, run) in enumerate(runs.items()) if i == 0 or any(w in name for w in words)}
    seeds = [int(s) for s in args.seeds.split(",")]
    mixes = {seed: mixed_long_form(seed, noise_snr_db=10.0 if seed % 2 else None) for seed in seeds}
    for run in runs.values():  # warm-up, not timed
        run(mixes[seeds[0]].audio[: 8 * 16000])
    rows: dict[str, dict[str, Any]] = {name: {"wall_s": 0.0, "errors": 0, "words": 0, "dropped": 0, "per_seed": {}}
                                       for name in runs}
    for seed, mix in mixes.items():
        walls: dict[str, list[float]] = {name: [] for name in runs}
        texts: dict[str, str] = {}
        for _ in range(args.repeats):  # the methods take turns within each repetition
            for name, run in runs.items():
                start = perf_counter()
                text = run(mix.audio)
                walls[name].append(perf_counter() - start)
                if texts.setdefault(name, text) != text:
                    print(f"seed {seed} {name}: another text on a repeated run (WER is from the first)")
        for name, text in texts.items():
            wall = min(walls[name])
            counts = word_errors(mix.reference, text)
            dropped = dropped_utterances(mix.references, text)
            row = rows[name]
            row["wall_s"] += wall
            row["errors"] += counts.errors
            row["words"] += counts.reference_words
            row["dropped"] += len(dropped)
            row["per_seed"][seed] = {"wall_s": wall, "wer": counts.rate, "dropped": [mix.clip_ids[i] for i in dropped],
                                     "audio_s": mix.duration_s, "walls_s": walls[name]}
            print(f"seed {seed} {name:<60} {wall:7.2f} s  WER {100 * counts.rate:5.2f} %  dropped "
                  f"{[mix.clip_ids[i] for i in dropped]}", flush=True)
    base = rows[next(iter(rows))]["wall_s"]
    fw8 = next((row["wall_s"] for name, row in rows.items() if "faster-whisper" in name and "int8" in name), None)
    print(f"\n{args.model}, seeds {seeds}, {sum(m.duration_s for m in mixes.values()):.0f} s of audio")
    print("| method | wall s | × sequential | × faster-whisper int8 | WER % | dropped utterances |\n"
          "|---|---:|---:|---:|---:|---:|")
    for name, row in rows.items():
        row["wer"] = row["errors"] / row["words"]
        row["ratio"] = row["wall_s"] / base
        row["ratio_fw_int8"] = row["wall_s"] / fw8 if fw8 else None
        versus = f"{row['ratio_fw_int8']:.2f}" if fw8 else ""
        print(f"| {name} | {row['wall_s']:.2f} | {row['ratio']:.2f} | {versus} | {100 * row['wer']:.2f} | "
              f"{row['dropped']} |")
    result = {"model": args.model, "seeds": seeds, "batch_size": args.batch_size, "command": " ".join(sys.argv),
              "repeats": args.repeats, "rows": rows}
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=1)
    return result


if __name__ == "__main__":
    main()
