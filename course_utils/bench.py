"""Command-line benchmarks: course_utils long-form and batched decoding vs openai-whisper and faster-whisper.

    python -m course_utils.bench longform --model tiny.en [--device cpu] [--json P] [--markdown P] [--plot P]
    python -m course_utils.bench throughput --model tiny.en [--files 20]

Everything runs in one process on the same audio with greedy decoding (temperature 0, beam 1). Every method
is warmed up once on a short clip before it is timed. Times are wall-clock seconds; each row also records
how many cores other programs used meanwhile (from /proc/stat): on a shared machine, rows with more than
0.2 are not to be trusted, and ``--wait-idle``/``--retries`` wait for a quiet CPU and rerun such runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import longform
from .audio import SAMPLE_RATE
from .decoding import transcribe_options
from .evaluation import measure_throughput
from .models import default_device, load_model
from .scoring import corpus_wer, wer

SEQUENTIAL = "openai-whisper model.transcribe (sequential)"
WARMUP_S = 8.0  # seconds of the benchmark audio used to warm every method up before timing


# --- machine ------------------------------------------------------------------------------------------------


def _cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else platform's guess."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _load() -> float:
    """The 1-minute load average (0.0 where the OS does not tell)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return 0.0


def _version(package: str) -> str:
    """Installed version of a distribution, or 'not installed'."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def machine_info(device: str) -> dict[str, Any]:
    """Cores, CPU model, threads and library versions: the context every number needs."""
    info = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": device,
        "gpu": torch.cuda.get_device_name(0) if device.startswith("cuda") else "",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "openai-whisper": _version("openai-whisper"),
        "faster-whisper": _version("faster-whisper"),
        "ctranslate2": _version("ctranslate2"),
        "load_avg_1min_at_start": round(_load(), 2),
    }
    return info


def machine_line(info: dict[str, Any]) -> str:
    """One line describing the machine, for tables and documents."""
    gpu = f", GPU {info['gpu']}" if info.get("gpu") else ""
    return (
        f"{info['cores']} cores ({info['cpu']}){gpu}, device {info['device']}, torch {info['torch']} with "
        f"{info['torch_threads']} threads, openai-whisper {info['openai-whisper']}, faster-whisper "
        f"{info['faster-whisper']} (ctranslate2 {info['ctranslate2']}), load average "
        f"{info['load_avg_1min_at_start']} at start"
    )


# --- rows ---------------------------------------------------------------------------------------------------


@dataclass
class Row:
    """One benchmarked method on the benchmark audio."""

    method: str
    family: str  # "openai-whisper", "course_utils" or "faster-whisper"
    wall_s: float  # median over repeats
    rtf: float
    wer: float  # fraction, not percent
    ratio: float = float("nan")  # wall_s / openai-whisper sequential wall_s
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


@dataclass
class Clock:
    """How runs are timed on a possibly shared machine."""

    repeats: int = 1  # timed runs per method; the median is reported
    wait_idle_s: float = 0.0  # before each run, wait up to this long for the other programs to go quiet
    retries: int = 0  # rerun a run during which other programs used the CPU, up to this often
    max_other_cores: float = 0.2  # other programs' average CPU use (in cores) above which a run is contended


def _busy_seconds() -> float | None:
    """CPU seconds all programs have used since boot, all cores together (/proc/stat); None elsewhere."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def _cpu_busy(window_s: float = 2.0) -> float:
    """Share of all cores busy over `window_s` (from /proc/stat); 0.0 where the OS does not tell."""

    def snapshot() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait

    try:
        total0, idle0 = snapshot()
        time.sleep(window_s)
        total1, idle1 = snapshot()
    except (OSError, ValueError, IndexError):
        return 0.0
    return 1.0 - (idle1 - idle0) / max(total1 - total0, 1)


def _wait_for_idle(max_s: float, busy: float = 0.1) -> bool:
    """Wait (up to `max_s`) until less than `busy` of the cores are in use; True when that happened."""
    end = time.monotonic() + max_s
    while time.monotonic() < end:
        if _cpu_busy() < busy:
            return True
    return False


@dataclass
class Run:
    """One timed run: wall seconds, this process's CPU/wall, other programs' cores, output."""

    wall_s: float
    cpu_per_wall: float
    other_cores: float
    output: Any = field(repr=False)


def _timed(fn: Callable[[], Any], clock: Clock) -> list[Run]:
    """`clock.repeats` timed runs of `fn`, each rerun (up to `clock.retries` times) when other programs used
    more than `clock.max_other_cores` meanwhile.

    A busy machine makes timings meaningless, and this process's own CPU/wall cannot tell, because OpenMP
    threads spin while they wait: other programs' use is all busy CPU time minus this process's.
    """
    runs: list[Run] = []
    for _ in range(clock.repeats):
        for attempt in range(clock.retries + 1):
            if clock.wait_idle_s > 0:
                _wait_for_idle(clock.wait_idle_s)
            busy_start, cpu_start, start = _busy_seconds(), time.process_time(), time.perf_counter()
            output = fn()
            wall = time.perf_counter() - start
            own = time.process_time() - cpu_start
            busy_end = _busy_seconds()
            others = float("nan")
            if busy_start is not None and busy_end is not None and wall > 0:
                others = max(0.0, busy_end - busy_start - own) / wall
            run = Run(wall, own / wall if wall > 0 else 0.0, others, output)
            if not others > clock.max_other_cores:  # also when unknown (nan)
                break
            if attempt < clock.retries:
                print(f"    other programs used {others:.2f} cores meanwhile, running again", file=sys.stderr)
        runs.append(run)
    return runs


def _row(
    method: str, family: str, runs: Sequence[Run], audio: np.ndarray, reference: str, clock: Clock
) -> Row:
    """One method's row from its timed runs: median wall time, that run's text scored against `reference`."""
    median = sorted(runs, key=lambda r: r.wall_s)[len(runs) // 2]
    output = median.output
    text = output if isinstance(output, str) else output.text
    row = Row(
        method=method,
        family=family,
        wall_s=median.wall_s,
        rtf=median.wall_s / (len(audio) / SAMPLE_RATE),
        wer=wer(reference, text),
        cpu_per_wall=median.cpu_per_wall,
        other_cores=median.other_cores,
        contended=median.other_cores > clock.max_other_cores,
        runs_s=[r.wall_s for r in runs],
        text=text,
    )
    if isinstance(output, longform.LongformResult):
        row.windows = len(output.chunks)
        row.profile = {k: round(v, 3) for k, v in output.profile.items()}
    return row


def _round_robin(
    methods: Sequence[tuple[str, str, Callable[[np.ndarray], Any]]],
    audio: np.ndarray,
    reference: str,
    clock: Clock,
    verbose: bool,
) -> list[Row]:
    """Warm every method up on a short piece, then time them in turns, `clock.repeats` rounds.

    Taking turns spreads slow drifts of the machine (other virtual machines, clock speed) over all methods
    instead of charging them to whichever ran at the wrong moment.
    """
    for _, _, run in methods:
        run(audio[: round(WARMUP_S * SAMPLE_RATE)])
    once = Clock(1, clock.wait_idle_s, clock.retries, clock.max_other_cores)
    runs: list[list[Run]] = [[] for _ in methods]
    for round_ in range(clock.repeats):
        for (name, _, run), done in zip(methods, runs, strict=True):
            done += _timed(lambda run=run: run(audio), once)
            if verbose:
                print(
                    f"  [{round_ + 1}/{clock.repeats}] {name:<58} {done[-1].wall_s:7.2f} s  "
                    f"others {done[-1].other_cores:.2f} cores",
                    file=sys.stderr,
                    flush=True,
                )
    return [
        _row(name, family, done, audio, reference, clock)
        for (name, family, _), done in zip(methods, runs, strict=True)
    ]


def _faster_whisper_runs(
    model: Any, device: str, language: str | None, batch_size: int
) -> list[tuple[str, Callable[[np.ndarray], str]]]:
    """faster-whisper on the same CTranslate2 weights: sequential fp32, batched fp32 and batched int8."""
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    ct2_dir = getattr(model, "ct2_dir", None)
    if ct2_dir is None:
        raise RuntimeError(
            "this model has no CTranslate2 directory (model.ct2_dir), so faster-whisper cannot run the same "
            "weights; load it with course_utils.load_model from an offline package, or pass "
            "--no-faster-whisper"
        )
    threads = torch.get_num_threads()
    fw_device = "cuda" if device.startswith("cuda") else "cpu"
    options = {"beam_size": 1, "temperature": 0.0, "language": language}

    def text_of(segments: Any) -> str:
        return " ".join(segment.text.strip() for segment in segments)

    runs = []
    for compute_type, batched in (("float32", False), ("float32", True), ("int8", True)):
        fw = WhisperModel(str(ct2_dir), device=fw_device, compute_type=compute_type, cpu_threads=threads)
        if batched:
            pipeline = BatchedInferencePipeline(model=fw)

            def run(audio: np.ndarray, pipeline: Any = pipeline) -> str:
                return text_of(pipeline.transcribe(audio, batch_size=batch_size, **options)[0])

            name = f"faster-whisper BatchedInferencePipeline {compute_type} (batch {batch_size})"
        else:

            def run(audio: np.ndarray, fw: Any = fw) -> str:
                return text_of(fw.transcribe(audio, **options)[0])

            name = f"faster-whisper WhisperModel.transcribe {compute_type}"
        runs.append((name, run))
    return runs


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
    opts = transcribe_options(model)
    methods: list[tuple[str, str, Callable[[np.ndarray], Any]]] = [
        (SEQUENTIAL, "openai-whisper", lambda a: model.transcribe(a, **opts)["text"]),
        (
            "course_utils transcribe_chunked",
            "course_utils",
            lambda a: longform.transcribe_chunked(model, a, verbose=False),
        ),
    ]
    for b in batch_sizes:
        methods.append(
            (
                f"course_utils transcribe_overlapping (batch {b})",
                "course_utils",
                lambda a, b=b: longform.transcribe_overlapping(model, a, batch_size=b, verbose=False),
            )
        )
    for b in batch_sizes:
        methods.append(
            (
                f"course_utils transcribe_vad (batch {b})",
                "course_utils",
                lambda a, b=b: longform.transcribe_vad(model, a, batch_size=b, verbose=False),
            )
        )
    if faster_whisper:
        language = None if model.is_multilingual else "en"
        for name, run in _faster_whisper_runs(model, str(model.device), language, max(batch_sizes)):
            methods.append((name, "faster-whisper", run))
    rows = _round_robin(methods, audio, reference, clock, verbose)
    for row in rows:
        row.ratio = row.wall_s / rows[0].wall_s
    return rows


# --- targets ------------------------------------------------------------------------------------------------


def check_targets(rows: Sequence[Row]) -> list[dict[str, Any]]:
    """The issue's targets, each with the measured values and whether it was met."""
    seq = rows[0]
    ours = [r for r in rows if r.family == "course_utils"]
    best = min((r for r in ours if r.wer <= seq.wer + 0.01), key=lambda r: r.wall_s, default=None)
    fastest = min(ours, key=lambda r: r.wall_s)
    targets = []
    chosen = best or fastest
    targets.append(
        {
            "target": "best course_utils method ≤ 0.5× openai-whisper sequential time, "
            "WER ≤ sequential + 1 point",
            "measured": f"{chosen.method}: {chosen.ratio:.2f}× "
            f"({chosen.wall_s:.2f} s vs {seq.wall_s:.2f} s), "
            f"WER {100 * chosen.wer:.2f} % vs {100 * seq.wer:.2f} %",
            "met": bool(best is not None and best.ratio <= 0.5),
        }
    )
    fw = [r for r in rows if r.family == "faster-whisper" and "Batched" in r.method and "float32" in r.method]
    if fw:
        targets.append(
            {
                "target": "faster than faster-whisper fp32 batched",
                "measured": f"{chosen.wall_s:.2f} s vs {fw[0].wall_s:.2f} s",
                "met": chosen.wall_s < fw[0].wall_s,
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


# --- output -------------------------------------------------------------------------------------------------


def format_table(rows: Sequence[Row]) -> str:
    """Plain-text table, columns aligned: method, wall s, ratio, RTF, WER %, windows, others' CPU."""
    header = ("method", "wall s", "× seq", "RTF", "WER %", "windows", "others")
    body = [
        (
            r.method,
            f"{r.wall_s:.2f}",
            f"{r.ratio:.2f}",
            f"{r.rtf:.3f}",
            f"{100 * r.wer:.2f}",
            str(r.windows or ""),
            f"{r.other_cores:.2f}",
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = []
    for n, line in enumerate([header, *body]):
        cells = [line[0].ljust(widths[0])] + [
            cell.rjust(w) for cell, w in zip(line[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(rows: Sequence[Row]) -> str:
    """The same table in Markdown."""
    lines = [
        "| method | wall s | × openai-whisper seq | RTF | WER % | windows | other programs' cores |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.method} | {r.wall_s:.2f} | {r.ratio:.2f} | {r.rtf:.3f} | {100 * r.wer:.2f} | "
            f"{r.windows or ''} | {r.other_cores:.2f} |"
        )
    return "\n".join(lines)


def plot_rows(rows: Sequence[Row], title: str, path: str | Path) -> None:
    """Horizontal bar chart of wall seconds per method, coloured by family, WER in the labels (Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"openai-whisper": "tab:gray", "course_utils": "tab:blue", "faster-whisper": "tab:orange"}
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(rows) + 1.5))
    y = np.arange(len(rows))[::-1]
    ax.barh(y, [r.wall_s for r in rows], color=[colours.get(r.family, "tab:green") for r in rows])
    ax.set_yticks(y, [f"{r.method}  (WER {100 * r.wer:.1f} %)" for r in rows], fontsize=8)
    ax.axvline(rows[0].wall_s, color="k", lw=0.8, ls="--")
    ax.axvline(0.5 * rows[0].wall_s, color="tab:red", lw=0.8, ls=":", label="0.5× openai-whisper sequential")
    for yi, r in zip(y, rows, strict=True):
        ax.text(r.wall_s, yi, f" {r.wall_s:.1f} s ({r.ratio:.2f}×)", va="center", fontsize=7)
    ax.set_xlabel("wall-clock seconds (lower is better)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_xlim(0, max(r.wall_s for r in rows) * 1.3)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _write(path: str | Path, text: str) -> None:
    """Write text, creating the folder."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text)


# --- commands -----------------------------------------------------------------------------------------------


def _benchmark_audio(quick: bool) -> tuple[np.ndarray, str, list[str]]:
    """(audio, reference, clip ids): the ≈255 s English long form, or its first ≈47 s with --quick."""
    from .mixes import english_long_form, long_form

    full = english_long_form()
    if not quick:
        return full.audio, full.reference, full.clip_ids
    short = long_form(full.clip_ids, max_duration_s=48)
    return short.audio, short.reference, short.clip_ids


def _batch_sizes(text: str) -> list[int]:
    """'1,4,8' → [1, 4, 8], each ≥ 1."""
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"--batch-sizes must be integers like 1,4,8, got {text!r}"
        ) from error
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"--batch-sizes must be integers >= 1 like 1,4,8, got {text!r}")
    return sizes


def _clock(args: argparse.Namespace) -> Clock:
    """Timing settings from the command line."""
    return Clock(repeats=args.repeats, wait_idle_s=args.wait_idle, retries=args.retries)


def cmd_longform(args: argparse.Namespace) -> dict[str, Any]:
    """`bench longform`: every long-form method on the same English recording."""
    device = args.device or default_device()
    model = load_model(args.model, device=device)
    audio, reference, clip_ids = _benchmark_audio(args.quick)
    info = machine_info(device)
    duration = len(audio) / SAMPLE_RATE
    print(
        f"long-form benchmark: {args.model} on {duration:.1f} s of English ({len(clip_ids)} clips)\n"
        f"machine: {machine_line(info)}",
        file=sys.stderr,
        flush=True,
    )
    rows = run_longform(model, audio, reference, args.batch_sizes, _clock(args), not args.no_faster_whisper)
    info["load_avg_1min_at_end"] = round(_load(), 2)
    targets = check_targets(rows)
    command = args.command_line
    title = f"long form, {args.model}, {duration:.0f} s of English speech, {info['cores']} cores, {device}"
    table = format_table(rows)
    print(f"\n{title}\n{machine_line(info)}\n\n{table}\n")
    for t in targets:
        print(f"[{'met' if t['met'] else 'MISSED'}] {t['target']}: {t['measured']}")
    result = {
        "benchmark": "longform",
        "model": args.model,
        "command": command,
        "machine": info,
        "audio": {"duration_s": duration, "clips": clip_ids, "quick": args.quick},
        "rows": [r.to_dict() for r in rows],
        "targets": targets,
    }
    if args.json:
        _write(args.json, json.dumps(result, indent=1, default=float))
    if args.markdown:
        lines = [
            f"### {title}",
            "",
            f"`{command}`",
            "",
            f"Machine: {machine_line(info)}; load average {info['load_avg_1min_at_end']} at the end.",
            "",
            markdown_table(rows),
            "",
        ]
        lines += [
            f"- {'met' if t['met'] else '**missed**'}: {t['target']} ({t['measured']})" for t in targets
        ]
        _write(args.markdown, "\n".join(lines) + "\n")
    if args.plot:
        plot_rows(rows, title, args.plot)
    return result


def throughput_clips(n_files: int, min_s: float = 5.0, max_s: float = 30.0) -> list[Any]:
    """`n_files` English corpus clips of `min_s`–`max_s` seconds that have transcripts, in id order."""
    from .corpus import list_clips

    clips = [c for c in list_clips(language="en", with_transcript=True) if min_s <= c.duration_s <= max_s]
    if len(clips) < n_files:
        raise ValueError(
            f"the corpus has only {len(clips)} English clips of {min_s:g}–{max_s:g} s with "
            f"transcripts; ask for --files {len(clips)} or fewer"
        )
    return clips[:n_files]


def cmd_throughput(args: argparse.Namespace) -> dict[str, Any]:
    """`bench throughput`: many short files, one model.transcribe each vs batched decoding."""
    device = args.device or default_device()
    model = load_model(args.model, device=device)
    clips = throughput_clips(args.files)
    audios = [clip.audio() for clip in clips]
    refs = [clip.transcript for clip in clips]
    info = machine_info(device)
    sizes = [b for b in args.batch_sizes if b > 1] or [2]
    language = None if model.is_multilingual else "en"
    clock = _clock(args)
    print(
        f"throughput benchmark: {args.model} on {len(clips)} files, "
        f"{sum(map(len, audios)) / SAMPLE_RATE:.1f} s"
        f"\nmachine: {machine_line(info)}",
        file=sys.stderr,
        flush=True,
    )
    modes = [("sequential", 1)] + [("batched", b) for b in sizes]
    once = Clock(1, clock.wait_idle_s, clock.retries, clock.max_other_cores)
    runs: list[list[Run]] = [[] for _ in modes]
    for round_ in range(clock.repeats):  # modes take turns, as in the long-form benchmark
        for (mode, size), done in zip(modes, runs, strict=True):
            done += _timed(
                lambda mode=mode, size=size: measure_throughput(
                    model, audios, mode=mode, batch_size=size, verbose=False, language=language
                ),
                once,
            )
            print(
                f"  [{round_ + 1}/{clock.repeats}] {mode:<10} batch {size:<3} "
                f"{done[-1].output.compute_s:7.2f} s  "
                f"others {done[-1].other_cores:.2f} cores",
                file=sys.stderr,
                flush=True,
            )
    results = []
    for done in runs:
        median = sorted(done, key=lambda r: r.output.compute_s)[len(done) // 2]
        t = median.output
        row = t.to_dict()
        row.pop("texts")
        row["wer"] = corpus_wer(list(zip(refs, t.texts, strict=True)))
        row["cpu_per_wall"] = median.cpu_per_wall  # of the whole call, warm-up included
        row["other_cores"] = median.other_cores
        row["contended"] = median.other_cores > clock.max_other_cores
        row["runs_s"] = [r.output.compute_s for r in done]
        results.append(row)
    info["load_avg_1min_at_end"] = round(_load(), 2)
    best = max(results[1:], key=lambda r: r["audio_minutes_per_compute_minute"])
    ratio = best["audio_minutes_per_compute_minute"] / results[0]["audio_minutes_per_compute_minute"]
    header = ("mode", "batch", "total s", "audio min / compute min", "files/s", "WER %", "others")
    body = [
        (
            r["mode"],
            str(r["batch_size"]),
            f"{r['compute_s']:.2f}",
            f"{r['audio_minutes_per_compute_minute']:.1f}",
            f"{r['files_per_second']:.2f}",
            f"{100 * r['wer']:.2f}",
            f"{r['other_cores']:.2f}",
        )
        for r in results
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    table = "\n".join(
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in [header, *body]
    )
    command = args.command_line
    title = f"throughput, {args.model}, {len(clips)} English files of 5–30 s, {info['cores']} cores, {device}"
    target = {"target": "batched throughput ≥ 2× sequential", "measured": f"{ratio:.2f}×", "met": ratio >= 2}
    print(
        f"\n{title}\n{machine_line(info)}\n\n{table}\n\nbatched / sequential: {ratio:.2f}×\n"
        f"[{'met' if target['met'] else 'MISSED'}] {target['target']}: {target['measured']}"
    )
    result = {
        "benchmark": "throughput",
        "model": args.model,
        "command": command,
        "machine": info,
        "files": [c.id for c in clips],
        "rows": results,
        "ratio": ratio,
        "targets": [target],
    }
    if args.json:
        _write(args.json, json.dumps(result, indent=1, default=float))
    if args.markdown:
        md = [
            "| mode | batch | total s | audio min / compute min | files/s | WER % | other programs' cores |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        md += [f"| {' | '.join(line)} |" for line in body]
        _write(
            args.markdown,
            "\n".join(
                [
                    f"### {title}",
                    "",
                    f"`{command}`",
                    "",
                    f"Machine: {machine_line(info)}",
                    "",
                    *md,
                    "",
                    f"Batched / sequential: **{ratio:.2f}×** ({'met' if target['met'] else 'missed'}: ≥ 2×)",
                    "",
                ]
            ),
        )
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 2.5))
        ax.barh(
            [f"{r['mode']} (batch {r['batch_size']})" for r in results][::-1],
            [r["audio_minutes_per_compute_minute"] for r in results][::-1],
            color=["tab:blue", "tab:gray"],
        )
        ax.set_xlabel("audio minutes per compute minute (higher is better)")
        ax.set_title(title, fontsize=8)
        fig.tight_layout()
        Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.plot, dpi=110)
        plt.close(fig)
    return result


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface: `longform` and `throughput` subcommands."""
    parser = argparse.ArgumentParser(prog="python -m course_utils.bench", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="benchmark", required=True)
    for name, helptext in (
        ("longform", "long-form methods vs openai-whisper and faster-whisper"),
        ("throughput", "20 short files: sequential vs batched"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--model", default="tiny.en", help="Whisper model name (default tiny.en)")
        p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
        p.add_argument("--json", default=None, help="write the results as JSON here")
        p.add_argument("--markdown", default=None, help="write a Markdown table here")
        p.add_argument("--plot", default=None, help="write a PNG bar chart here")
        p.add_argument(
            "--batch-sizes",
            type=_batch_sizes,
            default=[1, 4, 8, 16],
            help="mel windows per decode call to try (default 1,4,8,16; throughput tries each above 1)",
        )
        p.add_argument("--repeats", type=int, default=1, help="timed runs per method; the median is kept")
        p.add_argument(
            "--wait-idle",
            type=float,
            default=0.0,
            help="before each timed run wait up to this many seconds for other programs to leave the CPU",
        )
        p.add_argument(
            "--retries",
            type=int,
            default=0,
            help="rerun a timed run during which other programs used > 0.2 cores, up to this often",
        )
        if name == "longform":
            p.add_argument(
                "--quick", action="store_true", help="≈47 s of audio instead of ≈255 s (smoke test)"
            )
            p.add_argument("--no-faster-whisper", action="store_true", help="skip the faster-whisper rows")
        else:
            p.add_argument("--files", type=int, default=20, help="number of short files (default 20)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m course_utils.bench``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.command_line = "python -m course_utils.bench " + " ".join(argv)
    if args.repeats < 1 or args.retries < 0 or args.wait_idle < 0:
        raise SystemExit("--repeats must be >= 1, --retries and --wait-idle >= 0")
    if args.benchmark == "longform":
        cmd_longform(args)
    else:
        if args.files < 1:
            raise SystemExit("--files must be >= 1")
        cmd_throughput(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
