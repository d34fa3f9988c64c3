"""``python -m course_utils.grading SUBMISSIONS_DIR --out grades.csv [-j N] [--scheduler tcp://HOST:8786]``."""

from __future__ import annotations

import argparse
import os
import resource
import sys
from pathlib import Path

from .batch import GradingConfig, default_jobs, grade_submissions, write_summary
from .records import Limits


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.grading",
        description="Grade student notebooks for the Whisper exercises, each in an isolated child process.",
    )
    parser.add_argument("submissions", type=Path, help="folder with one .ipynb per student (searched recursively)")
    parser.add_argument("--out", type=Path, default=Path("grades.csv"), help="CSV to write (default: grades.csv)")
    parser.add_argument("-j", "--jobs", type=int, default=default_jobs(), help="submissions graded in parallel")
    parser.add_argument("--hidden", type=Path, default=None,
                        help="hidden inputs folder in the corpus format (default: the held-out corpus slice)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per notebook cell and per exercise call")
    parser.add_argument("--wall-timeout", type=float, default=1800, help="seconds per submission in total")
    parser.add_argument("--memory-gb", type=float, default=4.0, help="address-space limit per submission (0: none)")
    parser.add_argument("--model", default="tiny.en", help="transcription model for Ex. 2 and 3")
    parser.add_argument("--lid-model", default="base", help="multilingual model for Ex. 1")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (no memory limit on cuda)")
    parser.add_argument("--full", action="store_true", help="run the notebooks' demo cells with QUICK = False")
    parser.add_argument("--feedback", type=Path, default=None, help="feedback folder (default: feedback/ by the CSV)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where to stage the sandboxes (default: a new folder in /var/tmp)")
    parser.add_argument("--keep-workdir", action="store_true", help="keep the staged sandbox for debugging")
    parser.add_argument("--scheduler", default=None,
                        help="grade on this Dask cluster (tcp://HOST:8786; see docs/instructors.md); default: here")
    parser.add_argument("--resume", action="store_true",
                        help="keep the finished rows already in --out and grade only the other submissions")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    jobs = max(1, args.jobs)
    limits = Limits(timeout_s=args.timeout, wall_timeout_s=args.wall_timeout, memory_gb=args.memory_gb,
                    threads=max(1, (os.cpu_count() or 1) // jobs))  # fmt: skip
    config = GradingConfig(
        model=args.model, lid_model=args.lid_model, device=args.device or "cpu", quick=not args.full, jobs=jobs,
        limits=limits, hidden=args.hidden, feedback=args.feedback, workdir=args.workdir,
        keep_workdir=args.keep_workdir, progress=not args.quiet, scheduler=args.scheduler, resume=args.resume,
    )  # fmt: skip
    try:
        rows = grade_submissions(args.submissions, args.out, config)
    except (FileNotFoundError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(write_summary(rows))
    print(f"wrote {args.out} and feedback to {args.feedback or args.out.parent / 'feedback'}")
    print(f"grader peak memory: {peak_memory_mb():.0f} MB (this process; children and helpers not counted)")
    return 0


def peak_memory_mb() -> float:
    """This process's peak resident memory in MB: VmHWM on Linux (children not counted), else ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    # ru_maxrss can carry the starting process's peak across exec (Linux) and is in bytes on macOS
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return usage / (1 << 20) if sys.platform == "darwin" else usage / 1024

if __name__ == "__main__":
    raise SystemExit(main())
