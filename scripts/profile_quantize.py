"""Per-part timing of fp32 against int8 (course_utils.quantize) for openai-whisper models on this CPU.

Measures, interleaved (the variants take turns in every round; medians and ratios to fp32 of the same run):
- the encoder forward on one 30-s mel window (batch 1), fp32 and with each encoder part in int8;
- one decoder step with a kv cache of 40 tokens at batch 1 and batch 16 (the cross-attention keys and values
  of 16 windows cached), fp32 as Whisper ships it, fp32 with course_utils' decoding patch (contiguous
  cross-attention, ``(E @ x.T).T`` logits), and with each decoder part and the logits in int8.
Also prints how many cores other programs used meanwhile (/proc/stat), to judge contention.

    python scripts/profile_quantize.py --model tiny.en --rounds 7 [--threads 2] [--json out.json]
    python scripts/profile_quantize.py --model tiny.en --threads 1 --clock cpu   # on a busy machine
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
import whisper

from course_utils.longform.fast_decoding import fast_decoding
from course_utils.models import load_model
from course_utils.quantize import quantize
from course_utils.timing import watch_cpu


def write_json(path: Path | None, busy: Any, **fields: Any) -> None:
    """The profile's rows and settings as JSON, with how many cores other programs used meanwhile."""
    if path is not None:
        path.write_text(json.dumps({**fields, "other_cores": busy.other_cores}, indent=1))


@contextmanager
def course_patch(model: Any) -> Iterator[None]:
    """course_utils' decoding patch on this model inside the block (the package's own, verified at first use)."""
    with fast_decoding(model) as patched:
        if not patched:
            raise RuntimeError("course_utils' decoding patch fell back on this model; see the warning above")
        yield


CLOCK: dict[str, Callable[[], float]] = {"now": time.perf_counter}  # --clock cpu: this process's CPU time


def clock() -> float:
    """The chosen clock's reading in seconds."""
    return CLOCK["now"]()


def encoder_timer(model: Any, mel: torch.Tensor) -> Callable[[], float]:
    """Seconds of one encoder forward on `mel`."""

    def run() -> float:
        start = clock()
        model.encoder(mel)
        return clock() - start

    return run


def step_timer(
    model: Any, features: torch.Tensor, patched: bool, n_cached: int = 40, n_steps: int = 8
) -> Callable[[], float]:
    """Seconds per decoder step (one token per window, kv cache of `n_cached` tokens) on `features`."""

    def run() -> float:
        cache, hooks = model.install_kv_cache_hooks()
        batch = features.shape[0]
        tokens = torch.full((batch, n_cached), 440, dtype=torch.long)
        try:
            with course_patch(model) if patched else nullcontext():
                model.decoder(tokens, features, kv_cache=cache)
                step = tokens[:, -1:]
                start = clock()
                for _ in range(n_steps):
                    step = model.decoder(step, features, kv_cache=cache)[:, -1].argmax(-1, keepdim=True)
                return (clock() - start) / n_steps
        finally:
            for hook in hooks:
                hook.remove()

    return run


def interleave(timers: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Run every timer once per round, in turn; all runs per name."""
    for timer in timers.values():
        timer()  # warm-up
    runs: dict[str, list[float]] = {name: [] for name in timers}
    for _ in range(rounds):
        for name, timer in timers.items():
            runs[name].append(timer())
    return runs


def report(title: str, runs: dict[str, list[float]], base: str, unit: float = 1.0, label: str = "s") -> list[dict]:
    """Print a table: median, spread and ratio to `base` per variant; the rows as dicts."""
    ref = statistics.median(runs[base])
    print(f"\n{title}")
    print(f"| variant | median {label} | min {label} | × {base} |\n|---|---:|---:|---:|")
    rows = []
    for name, values in runs.items():
        med = statistics.median(values)
        rows.append({"part": title, "variant": name, "median_s": med, "min_s": min(values), "ratio": med / ref})
        print(f"| {name} | {med * unit:.2f} | {min(values) * unit:.2f} | {med / ref:.2f} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    """Profile one model; print Markdown tables (and JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    parser.add_argument("--only", choices=("encoder", "decoder"), help="profile one side only")
    parser.add_argument("--combined", action="store_true", help="only fp32, int8 encoder, int8 decoder+logits")
    parser.add_argument("--batches", default="1,16", help="decoder batch sizes, comma-separated")
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="cpu: this process's CPU seconds (with --threads 1 robust to other programs on a shared machine)",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.clock == "cpu":
        CLOCK["now"] = time.process_time
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = load_model(args.model, device="cpu").eval()
    if args.combined:  # whole sides only: fewer variants on a slow machine
        variants = {"fp32": model, "int8 encoder": quantize(model, "encoder")}
        variants["int8 decoder+logits"] = quantize(model, ("decoder", "logits"))
    else:
        variants = {
            "fp32": model,
            "int8 encoder.attn": quantize(model, "encoder.attn"),
            "int8 encoder.mlp": quantize(model, "encoder.mlp"),
            "int8 encoder": quantize(model, "encoder"),
            "int8 decoder.attn": quantize(model, "decoder.attn"),
            "int8 decoder.cross_attn": quantize(model, "decoder.cross_attn"),
            "int8 decoder.mlp": quantize(model, "decoder.mlp"),
            "int8 logits": quantize(model, "logits"),
            "int8 decoder": quantize(model, "decoder"),
            "int8 decoder+logits": quantize(model, ("decoder", "logits")),
        }
    audio = whisper.pad_or_trim(np.random.default_rng(0).standard_normal(16000 * 30).astype(np.float32) * 0.05)
    mel = whisper.log_mel_spectrogram(torch.from_numpy(audio), model.dims.n_mels)[None]
    rows: list[dict] = []
    print(
        f"{args.model}: {args.clock} clock, torch {torch.__version__}, {torch.get_num_threads()} threads, engine "
        f"{torch.backends.quantized.engine}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}"
    )
    with torch.inference_mode(), watch_cpu() as busy:
        if args.only != "decoder":
            encoders = {k: encoder_timer(v, mel) for k, v in variants.items() if k.startswith(("fp32", "int8 enc"))}
            rows += report("encoder forward, one 30-s window", interleave(encoders, args.rounds), "fp32")
        features = model.encoder(mel)
        for batch in [int(b) for b in args.batches.split(",")] if args.only != "encoder" else []:
            feats = features.expand(batch, -1, -1).contiguous()
            steps = {"fp32 (whisper)": step_timer(model, feats, patched=False)}
            steps["fp32 + course patch"] = step_timer(model, feats, patched=True)
            for name, variant in variants.items():
                if "decoder" in name or "logits" in name:
                    steps[f"{name} + course patch"] = step_timer(variant, feats, patched=True)
            title = f"decoder step, batch {batch} (kv cache 40 tokens)"
            rows += report(title, interleave(steps, args.rounds), "fp32 + course patch", 1000, "ms")
    print(f"\nother programs used {busy.other_cores:.2f} cores on average during the measurement")
    write_json(args.json, busy, model=args.model, threads=torch.get_num_threads(), clock=args.clock, rows=rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
