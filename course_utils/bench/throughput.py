"""The throughput benchmark: many short files, one ``model.transcribe`` each against batched decoding.

Every mode goes through ``evaluation.measure_throughput`` (its warm-up, its clock); the modes take turns over
the repeats, and each run records other programs' CPU use like the long-form benchmark.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..audio import SAMPLE_RATE
from ..corpus import list_clips
from ..decoding import default_device
from ..evaluation import measure_throughput
from ..models import load_model
from ..quantize import quantize
from ..scoring import corpus_wer
from . import report
from .runs import Clock, Run, median_run, timed

__all__ = ["throughput_clips", "run_throughput", "throughput_rows", "throughput_table", "throughput_target",
           "cmd_throughput"]

TARGET_RATIO = 2.0  # issue 3's target for every model: batched throughput at least twice sequential
# issue 10's: tiny models ≥ 2×, larger ones ≥ 2.5×, counting only modes whose corpus WER is within WER_MARGIN
BASE_TARGET_RATIO = 2.5
WER_MARGIN = 0.005
# batched with int8 weights (quantize) and encoder windows cut to each batch's longest file (encoder_ctx); CPU only
FAST_MODE = "batched int8 + short encoder"


def throughput_clips(n_files: int, min_s: float = 5.0, max_s: float = 30.0) -> list[Any]:
    """`n_files` English corpus clips of `min_s`–`max_s` seconds that have transcripts, in id order."""
    clips = [c for c in list_clips(language="en", with_transcript=True) if min_s <= c.duration_s <= max_s]
    if len(clips) < n_files:
        raise ValueError(
            f"the corpus has only {len(clips)} English clips of {min_s:g}–{max_s:g} s with "
            f"transcripts; ask for --files {len(clips)} or fewer"
        )
    return clips[:n_files]


def run_throughput(model: Any, audios: Sequence[np.ndarray], modes: Sequence[tuple[str, int]], clock: Clock,
                   language: str | None, fast_model: Any = None) -> list[list[Run]]:
    """Each (mode, batch size) timed `clock.repeats` times through ``measure_throughput``, modes taking turns.

    FAST_MODE runs `fast_model` (a ``quantize``d copy) batched with ``short_encoder=True``.
    """

    def measure(mode: str, size: int) -> Any:
        if mode != FAST_MODE:
            return measure_throughput(model, audios, mode=mode, batch_size=size, verbose=False, language=language)
        result = measure_throughput(fast_model, audios, mode="batched", batch_size=size, verbose=False,
                                    language=language, short_encoder=True)
        result.mode = FAST_MODE
        return result

    runs: list[list[Run]] = [[] for _ in modes]
    for round_ in range(clock.repeats):
        for (mode, size), done in zip(modes, runs, strict=True):
            done += timed(lambda mode=mode, size=size: measure(mode, size), clock.once())
            print(f"  [{round_ + 1}/{clock.repeats}] {mode:<10} batch {size:<3} {done[-1].output.compute_s:7.2f} s  "
                  f"others {done[-1].other_cores:.2f} cores", file=sys.stderr, flush=True)
    return runs


def throughput_rows(runs: Sequence[Sequence[Run]], references: Sequence[str], clock: Clock) -> list[dict[str, Any]]:
    """One row per mode from its median run: the Throughput's fields, corpus WER and other programs' CPU use."""
    rows = []
    for done in runs:
        median = median_run(done, lambda run: run.output.compute_s)
        result = median.output
        row = result.to_dict()
        row.pop("texts")
        row["wer"] = corpus_wer(list(zip(references, result.texts, strict=True)))
        row["cpu_per_wall"] = median.use.cpu_per_wall  # of the whole call, warm-up included
        row["own_cpu_s"] = median.use.own_cpu_s  # this process's CPU seconds, warm-up included (fair when shared)
        row["other_cores"] = median.other_cores
        row["contended"] = median.other_cores > clock.max_other_cores
        row["runs_s"] = [run.output.compute_s for run in done]
        rows.append(row)
    return rows


def _cells(rows: Sequence[dict[str, Any]]) -> list[tuple[str, ...]]:
    """Table cells: mode, batch, seconds, audio min per compute min, files/s, WER %, others' cores."""
    return [(r["mode"], str(r["batch_size"]), f"{r['compute_s']:.2f}", f"{r['audio_minutes_per_compute_minute']:.1f}",
             f"{r['files_per_second']:.2f}", f"{100 * r['wer']:.2f}", f"{r['other_cores']:.2f}") for r in rows]


def throughput_table(rows: Sequence[dict[str, Any]]) -> str:
    """Plain-text table of the modes."""
    header = ("mode", "batch", "total s", "audio min / compute min", "files/s", "WER %", "others")
    return report.text_table(header, _cells(rows))


def throughput_target(model_name: str, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Issue 10's target: the best batched mode within WER_MARGIN of sequential's WER, against its ratio."""
    needed = TARGET_RATIO if model_name.startswith("tiny") else BASE_TARGET_RATIO
    sequential = rows[0]
    close = [r for r in rows[1:] if r["wer"] <= sequential["wer"] + WER_MARGIN]
    best = max(close, key=lambda r: r["audio_minutes_per_compute_minute"], default=None)
    ratio = best["audio_minutes_per_compute_minute"] / sequential["audio_minutes_per_compute_minute"] if best else 0.0
    measured = (f"{ratio:.2f}× ({best['mode']}, batch {best['batch_size']}), WER {100 * best['wer']:.2f} % vs "
                f"{100 * sequential['wer']:.2f} %") if best else "no batched mode within 0.5 point of sequential WER"
    return {"target": f"batched throughput ≥ {needed:g}× sequential, WER within 0.5 point", "measured": measured,
            "met": ratio >= needed, "ratio": ratio}


def _markdown(title: str, command: str, info: dict[str, Any], rows: Sequence[dict[str, Any]],
              target: dict[str, Any]) -> str:
    """The Markdown section: title, command, machine, table and the target with what was measured."""
    header = ("mode", "batch", "total s", "audio min / compute min", "files/s", "WER %", "other programs' cores")
    return "\n".join([f"### {title}", "", f"`{command}`", "", f"Machine: {report.machine_line(info)}", "",
                      report.markdown_rows(header, _cells(rows)), "",
                      f"{'Met' if target['met'] else '**Missed**'}: {target['target']}: {target['measured']}", ""])


def cmd_throughput(args: argparse.Namespace, clock: Clock) -> dict[str, Any]:
    """`bench throughput`: many short files, one model.transcribe each vs batched decoding."""
    device = args.device or default_device()
    model = load_model(args.model, device=device)
    clips = throughput_clips(args.files)
    audios = [clip.audio() for clip in clips]
    info = report.machine_info(device)
    print(f"throughput benchmark: {args.model} on {len(clips)} files, {sum(map(len, audios)) / SAMPLE_RATE:.1f} s"
          f"\nmachine: {report.machine_line(info)}", file=sys.stderr, flush=True)
    modes = [("sequential", 1)] + [("batched", b) for b in [b for b in args.batch_sizes if b > 1] or [2]]
    language = None if model.is_multilingual else "en"
    fast_model = quantize(model) if model.device.type == "cpu" else None  # int8 kernels are CPU-only
    if fast_model is not None:
        modes.append((FAST_MODE, max(size for _, size in modes)))
    runs = run_throughput(model, audios, modes, clock, language, fast_model)
    rows = throughput_rows(runs, [clip.transcript for clip in clips], clock)
    info["load_avg_1min_at_end"] = report.load_average()
    target = throughput_target(args.model, rows)
    target.pop("ratio")
    best = max(rows[1:], key=lambda r: r["audio_minutes_per_compute_minute"])  # whatever its WER
    ratio = best["audio_minutes_per_compute_minute"] / rows[0]["audio_minutes_per_compute_minute"]
    title = f"throughput, {args.model}, {len(clips)} English files of 5–30 s, {info['cpu cores']} cores, {device}"
    print(f"\n{title}\n{report.machine_line(info)}\n\n{throughput_table(rows)}\n\nbatched / sequential: "
          f"{ratio:.2f}×\n[{'met' if target['met'] else 'MISSED'}] {target['target']}: {target['measured']}")
    result = {"benchmark": "throughput", "model": args.model, "command": args.command_line, "machine": info,
              "files": [c.id for c in clips], "rows": rows, "ratio": ratio, "targets": [target]}
    if args.json:
        report.write_json(args.json, result)
    if args.markdown:
        report.write_text(args.markdown, _markdown(title, args.command_line, info, rows, target))
    if args.plot:
        report.plot_throughput_rows(rows, title, args.plot)
    return result
