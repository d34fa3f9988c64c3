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
from ..mixes import STRESS_SEEDS, LongForm, english_long_form, long_form, mixed_long_form
from ..models import load_model
from ..quantize import quantize
from ..scoring import dropped_utterances, normalize_text, wer
from . import report
from .runs import Clock, Run, median_run, round_robin

__all__ = ["SEQUENTIAL", "Row", "run_longform", "check_targets", "format_table", "markdown_table", "plot_rows",
           "faster_whisper_runs", "benchmark_audio", "stress_set", "combine_rows", "cmd_longform"]

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
    dropped: int | None = None  # reference clips with ≥ 80 % of their words deleted (scoring.dropped_utterances)
    profile: dict[str, float] = field(default_factory=dict)
    text: str = field(default="", repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain fields, for JSON."""
        return asdict(self)


def _row(method: str, family: str, runs: Sequence[Run], audio: np.ndarray, reference: str, clock: Clock,
         references: Sequence[str] = ()) -> Row:
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
        dropped=len(dropped_utterances(references, text)) if references else None,
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
    methods += [(f"course_utils transcribe_fast (batch {b})", "course_utils",
                 lambda a, b=b: longform.transcribe_fast(model, a, batch_size=b, verbose=False))
                for b in batch_sizes]
    methods += [(f"course_utils transcribe_long (batch {b})", "course_utils",
                 lambda a, b=b: longform.transcribe_long(model, a, batch_size=b, verbose=False))
                for b in batch_sizes]
    if model.device.type == "cpu":  # int8 (course_utils.quantize) runs on CPU only
        small, b = quantize(model), max(batch_sizes)
        methods += [(f"course_utils {name} int8 (batch {b})", "course_utils",
                     lambda a, method=method: method(small, a, batch_size=b, verbose=False))
                    for name, method in (("transcribe_fast", longform.transcribe_fast),
                                         ("transcribe_long", longform.transcribe_long))]
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
    references: Sequence[str] = (),
) -> list[Row]:
    """Time every long-form method on `audio` and score it against `reference`; rows in table order.

    With `references` (each clip's transcript, in order) every row also counts the dropped utterances.
    """
    clock = clock or Clock()
    methods = _methods(model, batch_sizes, faster_whisper)
    runs = round_robin([(name, run) for name, _, run in methods], audio, clock, verbose)
    rows = [_row(name, family, done, audio, reference, clock, references)
            for (name, family, _), done in zip(methods, runs, strict=True)]
    for row in rows:
        row.ratio = row.compute_s / rows[0].compute_s
    return rows


def combine_rows(per_recording: Sequence[Sequence[Row]], references: Sequence[str]) -> list[Row]:
    """One row per method over several recordings: summed times and drops, WER over all reference words."""
    words = [len(normalize_text(reference).split()) for reference in references]
    rows = []
    for same in zip(*per_recording, strict=True):
        first = same[0]
        compute_s = sum(r.compute_s for r in same)
        audio_s = sum(r.compute_s / r.rtf for r in same if r.rtf)
        drops = [r.dropped for r in same]
        rows.append(Row(
            method=first.method, family=first.family, compute_s=compute_s, rtf=compute_s / audio_s if audio_s else 0.0,
            wer=sum(r.wer * n for r, n in zip(same, words, strict=True)) / sum(words),
            cpu_per_wall=max(r.cpu_per_wall for r in same), other_cores=max(r.other_cores for r in same),
            contended=any(r.contended for r in same), runs_s=[r.compute_s for r in same],
            windows=sum(r.windows for r in same), dropped=None if None in drops else sum(drops),
        ))
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
    int8 = [r for r in rows if r.family == "faster-whisper" and "Batched" in r.method and "int8" in r.method]
    if int8:
        fw8 = int8[0]
        within = [r for r in ours if r.wer <= fw8.wer + 0.005]
        quickest = min(within, key=lambda r: r.compute_s, default=None)
        targets.append(
            {
                "target": "best course_utils method ≤ faster-whisper int8 batched time, WER ≤ its WER + 0.5 point",
                "measured": (f"{quickest.method}: {quickest.compute_s / fw8.compute_s:.2f}× "
                             f"({quickest.compute_s:.2f} s vs {fw8.compute_s:.2f} s), WER {100 * quickest.wer:.2f} % "
                             f"vs {100 * fw8.wer:.2f} %") if quickest else
                            f"no course_utils method within 0.5 point of {100 * fw8.wer:.2f} %",
                "met": bool(quickest is not None and quickest.compute_s <= fw8.compute_s),
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


_HEADER = ("method", "wall s", "× seq", "RTF", "WER %", "dropped", "windows", "others")


def _cells(r: Row) -> tuple[str, ...]:
    """One row's cells: method, seconds, ratio, RTF, WER %, dropped utterances, windows, others' cores."""
    return (r.method, f"{r.compute_s:.2f}", f"{r.ratio:.2f}", f"{r.rtf:.3f}", f"{100 * r.wer:.2f}",
            "" if r.dropped is None else str(r.dropped), str(r.windows or ""), f"{r.other_cores:.2f}")


def format_table(rows: Sequence[Row]) -> str:
    """Plain-text table, columns aligned: method, wall s, ratio, RTF, WER %, windows, others' CPU."""
    return report.text_table(_HEADER, [_cells(r) for r in rows])


def markdown_table(rows: Sequence[Row]) -> str:
    """The same table in Markdown."""
    header = ("method", "wall s", "× openai-whisper seq", "RTF", "WER %", "dropped utterances", "windows",
              "other programs' cores")
    return report.markdown_rows(header, [_cells(r) for r in rows])


def plot_rows(rows: Sequence[Row], title: str, path: str) -> None:
    """Time (with speed against openai-whisper sequential) and WER per method, as a PNG."""
    report.plot_method_rows(rows, title, path)


def benchmark_audio(quick: bool) -> LongForm:
    """The ≈255 s English long form, or its first ≈47 s with --quick."""
    full = english_long_form()
    return long_form(full.clip_ids, max_duration_s=48) if quick else full


def stress_set(seeds: Sequence[int] = STRESS_SEEDS, quick: bool = False) -> list[LongForm]:
    """The stress set: ``mixed_long_form(seed)``, pink noise at 10 dB SNR on odd seeds (≈60 s each with quick)."""
    return [mixed_long_form(seed, noise_snr_db=10.0 if seed % 2 else None, duration_s=60.0 if quick else 240.0)
            for seed in seeds]


def cmd_longform(args: argparse.Namespace, clock: Clock) -> dict[str, Any]:
    """`bench longform`: every long-form method on the same English recording."""
    device = args.device or default_device()
    model = load_model(args.model, device=device)
    recordings = stress_set(args.seeds, args.quick) if args.stress else [benchmark_audio(args.quick)]
    clip_ids = [clip for recording in recordings for clip in recording.clip_ids]
    info = report.machine_info(device)
    duration = sum(len(r.audio) for r in recordings) / SAMPLE_RATE
    what = f"the stress set (seeds {', '.join(map(str, args.seeds))})" if args.stress else "English"
    print(f"long-form benchmark: {args.model} on {duration:.1f} s of {what} ({len(clip_ids)} clips)\n"
          f"machine: {report.machine_line(info)}", file=sys.stderr, flush=True)
    per_recording = [run_longform(model, r.audio, r.reference, args.batch_sizes, clock, not args.no_faster_whisper,
                                  references=r.references) for r in recordings]
    rows = per_recording[0] if len(recordings) == 1 else combine_rows(per_recording, [r.reference for r in recordings])
    info["load_avg_1min_at_end"] = report.load_average()
    targets = check_targets(rows)
    title = f"long form, {args.model}, {duration:.0f} s of {what} speech, {info['cpu cores']} cores, {device}"
    print(f"\n{title}\n{report.machine_line(info)}\n\n{format_table(rows)}\n")
    for t in targets:
        print(f"[{'met' if t['met'] else 'MISSED'}] {t['target']}: {t['measured']}")
    result = {"benchmark": "longform", "model": args.model, "command": args.command_line, "machine": info,
              "audio": {"duration_s": duration, "clips": clip_ids, "quick": args.quick,
                        "stress_seeds": list(args.seeds) if args.stress else None},
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
