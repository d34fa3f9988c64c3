"""The long-form benchmark: every long-form method on the same English recording, against the tools a student
would reach for (openai-whisper's ``transcribe``, faster-whisper on the same weights), with the issue's targets.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .. import longform
from ..audio import SAMPLE_RATE
from ..decoding import default_device, transcribe_options
from ..engines import faster_whisper_model, faster_whisper_transcriber
from ..mixes import english_long_form, long_form
from ..models import load_model
from ..scoring import wer
from . import report
from .runs import Clock, Run, median_run, round_robin

__all__ = ["SEQUENTIAL", "Row", "run_longform", "check_targets", "format_table", "markdown_table", "plot_rows",
           "faster_whisper_runs", "benchmark_audio", "cmd_longform"]

SEQUENTIAL = "openai-whisper model.transcribe (sequential)"


@dataclass
class Row:
    """One benchmarked method on the benchmark audio."""

    method: str
    family: str  # "openai-whisper", "course_utils" or "faster-whisper"
    compute_s: float  # wall seconds, median over repeats
    rtf: float
    wer: float  # fraction, not percent
    ratio: float = float("nan")  # compute_s / openai-whisper sequential compute_s
    cpu_per_wall: float = 0.0  # this process's CPU seconds per wall second (≈ its threads)
    other_cores: float = float("nan")  # cores other programs used on average during the run (from /proc/stat)
    contended: bool = False  # other programs used more than Clock.max_other_cores during the run
    runs_s: list[float] = field(default_factory=list)
    windows: int = 0  # 30-second windows decoded (course_utils methods)
    profile: dict[str, float] = field(default_factory=dict)
    text: str = field(default="", repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain fields, for JSON."""
        return asdict(self)


def _row(method: str, family: str, runs: Sequence[Run], audio: np.ndarray, reference: str, clock: Clock) -> Row:
    """One method's row from its timed runs: median time, that run's text scored against `reference`."""
    median = median_run(runs)
    output = median.output
    text = output if isinstance(output, str) else output.text
    row = Row(
        method=method,
        family=family,
        compute_s=median.compute_s,
        rtf=median.compute_s / (len(audio) / SAMPLE_RATE),
        wer=wer(reference, text),
        cpu_per_wall=median.use.cpu_per_wall,
        other_cores=median.other_cores,
        contended=median.other_cores > clock.max_other_cores,
        runs_s=[r.compute_s for r in runs],
        text=text,
    )
    if isinstance(output, longform.LongformResult):
        row.windows = len(output.chunks)
        row.profile = {k: round(v, 3) for k, v in output.profile.items()}
    return row


def faster_whisper_runs(
    model: Any, device: str, language: str | None, batch_size: int
) -> list[tuple[str, Callable[[np.ndarray], str]]]:
    """faster-whisper on the same CTranslate2 weights (``engines``): sequential fp32, batched fp32 and int8."""
    if getattr(model, "ct2_dir", None) is None:
        raise RuntimeError(
            "this model has no CTranslate2 directory (model.ct2_dir), so faster-whisper cannot run the same "
            "weights; load it with course_utils.load_model from an offline package, or pass --no-faster-whisper"
        )
    runs = []
    for compute_type, batched in (("float32", False), ("float32", True), ("int8", True)):
        fw = faster_whisper_model(model, compute_type, device)
        run = faster_whisper_transcriber(fw, language, batch_size if batched else None)
        name = (f"faster-whisper BatchedInferencePipeline {compute_type} (batch {batch_size})" if batched
                else f"faster-whisper WhisperModel.transcribe {compute_type}")
        runs.append((name, run))
    return runs


def _methods(model: Any, batch_sizes: Sequence[int], faster_whisper: bool) -> list[tuple[str, str, Callable]]:
    """(name, family, audio → output) for every long-form method, openai-whisper sequential first."""
    opts = transcribe_options(model)
    methods: list[tuple[str, str, Callable[[np.ndarray], Any]]] = [
        (SEQUENTIAL, "openai-whisper", lambda a: model.transcribe(a, **opts)["text"]),
        ("course_utils transcribe_chunked", "course_utils",
         lambda a: longform.transcribe_chunked(model, a, verbose=False)),
    ]
    methods += [(f"course_utils transcribe_overlapping (batch {b})", "course_utils",
                 lambda a, b=b: longform.transcribe_overlapping(model, a, batch_size=b, verbose=False))
                for b in batch_sizes]
    methods += [(f"course_utils transcribe_vad (batch {b})", "course_utils",
                 lambda a, b=b: longform.transcribe_vad(model, a, batch_size=b, verbose=False))
                for b in batch_sizes]
    if faster_whisper:
        language = None if model.is_multilingual else "en"
        methods += [(name, "faster-whisper", run)
                    for name, run in faster_whisper_runs(model, str(model.device), language, max(batch_sizes))]
    return methods


def run_longform(
    model: Any,
    audio: np.ndarray,
    reference: str,
    batch_sizes: Sequence[int] = (1, 4, 8, 16),
    clock: Clock | None = None,
    faster_whisper: bool = True,
    verbose: bool = True,
) -> list[Row]:
    """Time every long-form method on `audio` and score it against `reference`; rows in table order."""
    clock = clock or Clock()
    methods = _methods(model, batch_sizes, faster_whisper)
    runs = round_robin([(name, run) for name, _, run in methods], audio, clock, verbose)
    rows = [_row(name, family, done, audio, reference, clock)
            for (name, family, _), done in zip(methods, runs, strict=True)]
    for row in rows:
        row.ratio = row.compute_s / rows[0].compute_s
    return rows


def check_targets(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """The issue's targets, each with the measured values and whether it was met."""
    seq = rows[0]
    ours = [r for r in rows if r.family == "course_utils"]
    best = min((r for r in ours if r.wer <= seq.wer + 0.01), key=lambda r: r.compute_s, default=None)
    fastest = min(ours, key=lambda r: r.compute_s)
    targets = []
    chosen = best or fastest
    targets.append(
        {
            "target": "best course_utils method ≤ 0.5× openai-whisper sequential time, "
            "WER ≤ sequential + 1 point",
            "measured": f"{chosen.method}: {chosen.ratio:.2f}× "
            f"({chosen.compute_s:.2f} s vs {seq.compute_s:.2f} s), "
            f"WER {100 * chosen.wer:.2f} % vs {100 * seq.wer:.2f} %",
            "met": bool(best is not None and best.ratio <= 0.5),
        }
    )
    fw = [r for r in rows if r.family == "faster-whisper" and "Batched" in r.method and "float32" in r.method]
    if fw:
        targets.append(
            {
                "target": "faster than faster-whisper fp32 batched",
                "measured": f"{chosen.compute_s:.2f} s vs {fw[0].compute_s:.2f} s",
                "met": chosen.compute_s < fw[0].compute_s,
            }
        )
    chunked = next((r for r in ours if "chunked" in r.method), None)
    overlapping = [r for r in ours if "overlapping" in r.method]
    if chunked and overlapping:
        worst = max(overlapping, key=lambda r: r.wer)
        targets.append(
            {
                "target": "transcribe_overlapping WER below transcribe_chunked WER",
                "measured": f"{100 * worst.wer:.2f} % vs {100 * chunked.wer:.2f} %",
                "met": worst.wer < chunked.wer,
            }
        )
    return targets


_HEADER = ("method", "wall s", "× seq", "RTF", "WER %", "windows", "others")


def _cells(r: Row) -> tuple[str, ...]:
    """One row's cells: method, seconds, ratio, RTF, WER %, windows, others' cores."""
    return (r.method, f"{r.compute_s:.2f}", f"{r.ratio:.2f}", f"{r.rtf:.3f}", f"{100 * r.wer:.2f}",
            str(r.windows or ""), f"{r.other_cores:.2f}")


def format_table(rows: Sequence[Row]) -> str:
    """Plain-text table, columns aligned: method, wall s, ratio, RTF, WER %, windows, others' CPU."""
    return report.text_table(_HEADER, [_cells(r) for r in rows])


def markdown_table(rows: Sequence[Row]) -> str:
    """The same table in Markdown."""
    header = ("method", "wall s", "× openai-whisper seq", "RTF", "WER %", "windows", "other programs' cores")
    return report.markdown_rows(header, [_cells(r) for r in rows])


def plot_rows(rows: Sequence[Row], title: str, path: str) -> None:
    """Time (with speed against openai-whisper sequential) and WER per method, as a PNG."""
    report.plot_method_rows(rows, title, path)


def benchmark_audio(quick: bool) -> tuple[np.ndarray, str, list[str]]:
    """(audio, reference, clip ids): the ≈255 s English long form, or its first ≈47 s with --quick."""
    full = english_long_form()
    if not quick:
        return full.audio, full.reference, full.clip_ids
    short = long_form(full.clip_ids, max_duration_s=48)
    return short.audio, short.reference, short.clip_ids


def cmd_longform(args: argparse.Namespace, clock: Clock) -> dict[str, Any]:
    """`bench longform`: every long-form method on the same English recording."""
    device = args.device or default_device()
    model = load_model(args.model, device=device)
    audio, reference, clip_ids = benchmark_audio(args.quick)
    info = report.machine_info(device)
    duration = len(audio) / SAMPLE_RATE
    print(f"long-form benchmark: {args.model} on {duration:.1f} s of English ({len(clip_ids)} clips)\n"
          f"machine: {report.machine_line(info)}", file=sys.stderr, flush=True)
    rows = run_longform(model, audio, reference, args.batch_sizes, clock, not args.no_faster_whisper)
    info["load_avg_1min_at_end"] = report.load_average()
    targets = check_targets(rows)
    title = f"long form, {args.model}, {duration:.0f} s of English speech, {info['cpu cores']} cores, {device}"
    print(f"\n{title}\n{report.machine_line(info)}\n\n{format_table(rows)}\n")
    for t in targets:
        print(f"[{'met' if t['met'] else 'MISSED'}] {t['target']}: {t['measured']}")
    result = {"benchmark": "longform", "model": args.model, "command": args.command_line, "machine": info,
              "audio": {"duration_s": duration, "clips": clip_ids, "quick": args.quick},
              "rows": [r.to_dict() for r in rows], "targets": targets}
    if args.json:
        report.write_json(args.json, result)
    if args.markdown:
        lines = [f"### {title}", "", f"`{args.command_line}`", "",
                 f"Machine: {report.machine_line(info)}; load average {info['load_avg_1min_at_end']} at the end.",
                 "", markdown_table(rows), ""]
        lines += [f"- {'met' if t['met'] else '**missed**'}: {t['target']} ({t['measured']})" for t in targets]
        report.write_text(args.markdown, "\n".join(lines) + "\n")
    if args.plot:
        plot_rows(rows, title, args.plot)
    return result
