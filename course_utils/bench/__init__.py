"""Command-line benchmarks: course_utils long-form and batched decoding vs openai-whisper and faster-whisper.

    python -m course_utils.bench longform --model tiny.en [--device cpu] [--json P] [--markdown P] [--plot P]
    python -m course_utils.bench throughput --model tiny.en [--files 20]

Everything runs in one process on the same audio with greedy decoding (temperature 0, beam 1). Every method
is warmed up once on a short clip before it is timed. Times are wall-clock seconds; each row also records
how many cores other programs used meanwhile (from /proc/stat): on a shared machine, rows with more than
0.2 are not to be trusted, and ``--wait-idle``/``--retries`` wait for a quiet CPU and rerun such runs.

- ``runs``: the timing protocol (turns, retries, waiting for a quiet CPU) on top of ``timing.watch_cpu``.
- ``longform``: the long-form methods and targets.  ``throughput``: sequential vs batched on many files.
- ``report``: machine description, tables, Markdown, JSON and charts (the lesson's own figures).
- ``cli``: the argument parser and ``main``.
"""

from .cli import build_parser, main
from .longform import (
    SEQUENTIAL,
    Row,
    benchmark_audio,
    check_targets,
    faster_whisper_runs,
    format_table,
    markdown_table,
    plot_rows,
    run_longform,
)
from .report import machine_info, machine_line
from .runs import Clock, Run, timed
from .throughput import throughput_clips

__all__ = [
    "SEQUENTIAL", "Row", "Clock", "Run", "timed", "run_longform", "check_targets", "format_table", "markdown_table",
    "plot_rows", "faster_whisper_runs", "benchmark_audio", "machine_info", "machine_line", "throughput_clips",
    "build_parser", "main",
]
