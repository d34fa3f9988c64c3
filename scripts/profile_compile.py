"""Does ``torch.compile`` (inductor, CPU) make Whisper's encoder or decoder faster here, with the same tokens?

    python scripts/profile_compile.py --model tiny.en --rounds 5 --threads 1 --parts encoder,decoder

One process, one thread by default; compile time is reported separately (first call), then eager and
compiled calls take turns for `--rounds` and the medians of this process's CPU seconds are compared (the
fair clock on a shared machine). "encoder": one 30-s window of JFK. "decoder": a whole greedy
``whisper.decode`` of JFK from precomputed encoder features (kv-cache hooks, ~30 steps), with the decoder
module compiled with dynamic shapes. Tokens are compared with eager's.
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
import whisper
from whisper.audio import N_FFT, N_FRAMES

from course_utils.corpus import jfk
from course_utils.models import load_model

OPTIONS = whisper.DecodingOptions(language="en", without_timestamps=True, temperature=0.0, fp16=False)


def cpu_seconds(call: Callable[[], Any]) -> tuple[float, Any]:
    """(this process's CPU seconds, result) of one call."""
    start = time.process_time()
    out = call()
    return time.process_time() - start, out


def compare(name: str, eager: Callable[[], Any], compiled: Callable[[], Any], rounds: int,
            same: Callable[[Any, Any], Any]) -> dict[str, Any]:
    """Compile (first call, timed), then eager and compiled take turns; medians and equality."""
    wall = time.perf_counter()
    compile_cpu, first = cpu_seconds(compiled)
    compile_wall = time.perf_counter() - wall
    _, reference = cpu_seconds(eager)
    times: dict[str, list[float]] = {"eager": [], "compiled": []}
    for _ in range(rounds):
        times["eager"].append(cpu_seconds(eager)[0])
        seconds, out = cpu_seconds(compiled)
        times["compiled"].append(seconds)
    row = {"part": name, "compile_wall_s": compile_wall, "compile_cpu_s": compile_cpu,
           "eager_cpu_s": statistics.median(times["eager"]), "compiled_cpu_s": statistics.median(times["compiled"]),
           "runs": times, "same": same(reference, out), "first_call_same": same(reference, first)}
    row["ratio"] = row["compiled_cpu_s"] / row["eager_cpu_s"]
    print(f"{name}: compile {compile_wall:.1f} s wall ({compile_cpu:.1f} s CPU); eager {row['eager_cpu_s']:.3f} s, "
          f"compiled {row['compiled_cpu_s']:.3f} s CPU → {row['ratio']:.2f}×; same: {row['same']}",
          file=sys.stderr, flush=True)
    return row


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    """Measure the asked parts; print and optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--parts", default="encoder,decoder")
    parser.add_argument("--json", default="")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    torch.set_num_threads(args.threads)
    model = load_model(args.model, device="cpu")
    audio = torch.from_numpy(jfk().audio())
    mel = whisper.pad_or_trim(whisper.log_mel_spectrogram(audio, model.dims.n_mels, padding=N_FFT), N_FRAMES)[None]
    rows = []
    with torch.inference_mode():
        features = model.encoder(mel)
        if "encoder" in args.parts:
            encoder = torch.compile(model.encoder)
            rows.append(compare("encoder", lambda: model.encoder(mel), lambda: encoder(mel), args.rounds,
                                lambda a, b: float((a - b).abs().max())))
        if "decoder" in args.parts:
            eager_decoder = model.decoder
            compiled_decoder = torch.compile(model.decoder, dynamic=True)

            def decode(decoder: Any) -> list[int]:
                model.decoder = decoder
                try:
                    return whisper.decode(model, features, OPTIONS)[0].tokens
                finally:
                    model.decoder = eager_decoder

            rows.append(compare("decoder (whole greedy decode)", lambda: decode(eager_decoder),
                                lambda: decode(compiled_decoder), args.rounds, lambda a, b: a == b))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"model": args.model, "threads": args.threads, "torch": torch.__version__, "rows": rows},
                      handle, indent=1)
    return rows


if __name__ == "__main__":
    main()
