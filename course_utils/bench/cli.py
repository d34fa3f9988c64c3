"""The command line: ``python -m course_utils.bench longform|throughput [flags]`` (see the package docstring)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import matplotlib

from ..mixes import STRESS_SEEDS
from .longform import cmd_longform
from .runs import Clock
from .throughput import cmd_throughput

__all__ = ["build_parser", "main"]

DESCRIPTION = "Benchmarks: course_utils long-form and batched decoding vs openai-whisper and faster-whisper."


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


def _seeds(text: str) -> list[int]:
    """'0,1,2' → [0, 1, 2]."""
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"--seeds must be integers like 0,1,2, got {text!r}") from error


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface: `longform` and `throughput` subcommands."""
    parser = argparse.ArgumentParser(prog="python -m course_utils.bench", description=DESCRIPTION)
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
            p.add_argument("--stress", action="store_true",
                           help="the stress set (mixes.mixed_long_form per seed) instead of the English long form")
            p.add_argument("--seeds", type=_seeds, default=list(STRESS_SEEDS),
                           help="stress-set seeds, comma-separated (default: mixes.STRESS_SEEDS)")
        else:
            p.add_argument("--files", type=int, default=20, help="number of short files (default 20)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m course_utils.bench``."""
    matplotlib.use("Agg")  # charts go to files; no display needed
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.command_line = "python -m course_utils.bench " + " ".join(argv)
    if args.repeats < 1 or args.retries < 0 or args.wait_idle < 0:
        raise SystemExit("--repeats must be >= 1, --retries and --wait-idle >= 0")
    clock = Clock(repeats=args.repeats, wait_idle_s=args.wait_idle, retries=args.retries)
    if args.benchmark == "longform":
        cmd_longform(args, clock)
    else:
        if args.files < 1:
            raise SystemExit("--files must be >= 1")
        cmd_throughput(args, clock)
    return 0
