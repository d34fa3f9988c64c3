"""Grade a folder of submissions: stage the hidden inputs once, run each notebook isolated, score, report.

``grade_submissions`` is what ``python -m course_utils.grading`` calls. Children run in a local pool of
threads (each thread waits on one child process) or, with ``scheduler``, on a Dask cluster (``cluster``).
Scoring and writing happen here, in the parent, as each result arrives. Every submission ends as exactly one
row and one feedback file whatever it did: anything that goes wrong for one (reading, running, scoring,
reporting) becomes its ``grader error`` row with the reason.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import lockdown
from .hidden import (
    DEFAULT_SELECTION,
    HELD_OUT_IDS,
    Answers,
    StagedInputs,
    answers_of,
    export_clips,
    hidden_hashes,  # fmt: skip
    read_hidden_set,
    stage_inputs,
)
from .records import ChildOutputs, Limits
from .reference import References, cached_references
from .report import GradesFile, Row, write_feedback
from .sandbox import Sandbox, decoy_labels, prepare_sandbox, run_submission, staging_base
from .sanitize import clean_outputs, clean_text
from .score import ExerciseScore, overall_status, reason_text, score_all
from .submissions import InvalidNotebook, Submission, discover, notebook_cells

__all__ = ["GradingConfig", "GradingRun", "InvalidNotebook", "Submission", "discover", "grade_batch",
           "grade_submissions", "notebook_cells", "prepare_run", "write_summary"]  # fmt: skip


@dataclass
class GradingConfig:
    """How to grade: models, device, notebook parameters, limits, parallelism and where things go."""

    model: str = "tiny.en"
    lid_model: str = "base"
    device: str = "cpu"
    quick: bool = True  # QUICK parameter for the notebooks' own demo cells (points come from the calls)
    jobs: int = 1
    limits: Limits = field(default_factory=Limits)
    hidden: Path | None = None  # None: the held-out corpus slice
    feedback: Path | None = None  # None: feedback/ next to the CSV
    workdir: Path | None = None  # where the sandbox is staged (None: a new temporary folder)
    keep_workdir: bool = False
    progress: bool = True
    scheduler: str | None = None  # tcp://host:8786: grade on that Dask cluster; None: on this machine
    resume: bool = False  # keep the finished rows of an earlier run of the same CSV, grade only the rest

    def parameters(self) -> dict[str, Any]:
        return {"MODEL": self.model, "LID_MODEL": self.lid_model, "DEVICE": self.device, "QUICK": self.quick}


@dataclass
class GradingRun:
    """What one grading run shares between submissions: staged inputs, answers, references, local sandbox."""

    staged: StagedInputs
    answers: Answers  # parent only
    references: References
    secret_hashes: list[str]  # hidden clips' SHA-256: workers leave them out of their public corpus
    hidden_ids: list[str]
    sandbox: Sandbox | None  # None when children run on a Dask cluster
    private: Path  # the parent-only folder (exported hidden set, staged inputs), removed by close()
    base: Path | None = None
    owns_base: bool = False

    def close(self) -> None:
        shutil.rmtree(self.private, ignore_errors=True)
        if self.owns_base and self.base is not None:
            shutil.rmtree(self.base, ignore_errors=True)


def _say(config: GradingConfig, text: str) -> None:
    if config.progress:
        print(f"[grading] {clean_text(text)}", file=sys.stderr, flush=True)


def default_hidden(folder: Path) -> Path:
    """Export the held-out corpus slice (``HELD_OUT_IDS``) into `folder` as a hidden set."""
    return export_clips(HELD_OUT_IDS, folder, DEFAULT_SELECTION)


def prepare_run(config: GradingConfig, cache: Path | None = None) -> GradingRun:
    """Read (or export) the hidden set, stage the inputs (and, locally, the sandbox), load or compute references."""
    private = Path(tempfile.mkdtemp(prefix="course_grading_private_"))  # 0700: never visible to children
    local = config.scheduler is None
    base = (config.workdir or staging_base()) if local else None
    try:
        hidden = read_hidden_set(config.hidden or default_hidden(private / "hidden"))
        answers, secret = answers_of(hidden), hidden_hashes(hidden)
        inputs = base / "shared" / "inputs" if base is not None else private / "inputs"
        staged = stage_inputs(hidden, inputs, (base or private) / "ex3-private")
        sandbox = None
        if base is not None:
            _say(config, f"staging hidden inputs ({len(hidden.clips)} clips) and models in {base}")
            sandbox = prepare_sandbox(base, staged, [config.model, config.lid_model], list(hidden.clips), secret)
            if lockdown.landlock_abi() < 1:
                print("[grading] WARNING: Linux Landlock is not available here, so submissions can read and write "
                      "whatever this account can (see docs/instructors.md, Security model)", file=sys.stderr)
        _say(config, "reference results" + (f" (cached in {cache})" if cache else ""))
        references = cached_references(cache, staged, answers, config.model, config.lid_model, config.device)
    except BaseException:
        shutil.rmtree(private, ignore_errors=True)
        if base is not None and config.workdir is None and not config.keep_workdir:
            shutil.rmtree(base, ignore_errors=True)
        raise
    return GradingRun(staged, answers, references, secret, list(hidden.clips), sandbox, private, base,
                      owns_base=base is not None and config.workdir is None and not config.keep_workdir)  # fmt: skip


class LocalPool:
    """Children on this machine: `jobs` threads, each waiting on one sandboxed child process."""

    def __init__(self, run: GradingRun, config: GradingConfig) -> None:
        self.run, self.config = run, config
        self.executor = ThreadPoolExecutor(max_workers=max(1, config.jobs))

    def submit(self, cells: list[str], labels: list[str]) -> Future:
        config = self.config
        return self.executor.submit(run_submission, self.run.sandbox, cells, config.limits, model=config.model,
                                    lid_model=config.lid_model, device=config.device, labels=labels)  # fmt: skip

    def as_completed(self, futures: list[Future]) -> Iterator[Future]:
        return as_completed(futures)

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


def _seed(submission: Submission, run: GradingRun) -> bytes:
    """Decoy labels per submission: the same in every run (local or Dask) and independent of the true labels."""
    return hashlib.sha256(f"{submission.student_id}:{run.staged.fingerprint()}".encode()).digest()


def score_row(submission: Submission, outputs: ChildOutputs, run: GradingRun) -> tuple[Row, list[ExerciseScore]]:
    """Score a child's outputs and make its row (the parent's code, the parent's answers)."""
    outputs = clean_outputs(outputs)
    scores = score_all(outputs, run.references, run.answers)
    status, reason = overall_status(outputs, scores)
    reason = reason_text(reason, scores, outputs)
    if submission.warning:
        reason = f"{submission.warning} | {reason}" if reason else submission.warning
    return make_row(submission.student_id, scores, status, reason, outputs.wall_s), scores


def make_row(student_id: str, scores: list[ExerciseScore], status: str, reason: str, seconds: float) -> Row:
    points = {s.exercise: s.points for s in scores}
    return Row(student_id, points.get("ex1", 0.0), points.get("ex2", 0.0), points.get("ex3", 0.0),
               round(sum(points.values()), 1), status, reason, round(seconds, 1))  # fmt: skip


def error_row(submission: Submission, run: GradingRun, error: BaseException | str) -> tuple[Row, list[ExerciseScore]]:
    """The row of a submission the grader itself failed on (its own bug, a lost worker): 0 points, the reason."""
    detail = error if isinstance(error, str) else f"grader error: {type(error).__name__}: {clean_text(error)}"
    if not isinstance(error, str):
        print(f"[grading] {submission.student_id}: {clean_text(detail)}\n"
              f"{clean_text(''.join(traceback.format_exception(error)))}", file=sys.stderr)  # fmt: skip
    scores = score_all(ChildOutputs(ended="crashed"), run.references, run.answers)
    reason = f"{submission.warning} | {detail}" if submission.warning else detail
    return make_row(submission.student_id, scores, "grader error", reason[:500], 0.0), scores


Pool = Any  # LocalPool or cluster.DaskPool: submit(cells, labels) -> future, as_completed(futures), close()


def _record(grades: GradesFile, feedback: Path, row: Row, scores: list[ExerciseScore], outputs: ChildOutputs | None,
            config: GradingConfig, done: int, total: int) -> None:  # fmt: skip
    """Feedback file first, then the row (a row on disk means its feedback is there too)."""
    try:
        write_feedback(feedback, row, scores, outputs)
    except Exception as error:  # noqa: BLE001 (the row must still be written)
        row.reason = f"{row.reason} | feedback incomplete ({type(error).__name__})"[:500]
        write_feedback(feedback, row, scores, None)
    grades.add(row)
    _say(config, f"{done}/{total} {row.student_id}: {row.total:g}/30 {row.status} ({row.seconds:.0f} s)")


def grade_batch(found: list[Submission], out: Path, run: GradingRun, config: GradingConfig,
                pool: Pool | None = None) -> list[Row]:  # fmt: skip
    """Grade submissions in parallel; each row reaches `out` (and its feedback file) as soon as it is done."""
    feedback = config.feedback or Path(out).parent / "feedback"
    grades = GradesFile(Path(out), resume=config.resume)
    finished = {r.student_id for r in grades.rows if r.status != "grader error"
                and (feedback / f"{r.student_id}.md").is_file()}  # fmt: skip
    grades.keep(finished & {s.student_id for s in found})
    todo = [s for s in found if s.student_id not in finished]
    _say(config, f"grading {len(todo)} submission(s) with {config.jobs} job(s)"
         + (f" on {config.scheduler}" if config.scheduler else "")
         + (f"; {len(found) - len(todo)} already graded (--resume)" if len(todo) < len(found) else ""))
    pool = pool if pool is not None else LocalPool(run, config)
    pending: dict[Any, Submission] = {}
    done = 0
    try:
        for submission in todo:
            try:
                if submission.refused:
                    outputs = ChildOutputs(ended="refused", detail=submission.refused)
                else:
                    cells = notebook_cells(submission.path, config.parameters())
                    pending[pool.submit(cells, decoy_labels(len(run.staged.lid), _seed(submission, run)))] = submission
                    continue
            except InvalidNotebook as error:
                outputs = ChildOutputs(ended="invalid", detail=str(error))
            except Exception as error:  # noqa: BLE001
                done += 1
                _record(grades, feedback, *error_row(submission, run, error), None, config, done, len(todo))
                continue
            done += 1
            _finish(grades, feedback, submission, lambda outputs=outputs: outputs, run, config, done, len(todo))
        for future in pool.as_completed(list(pending)):
            done += 1
            _finish(grades, feedback, pending[future], future.result, run, config, done, len(todo))
        grades.finish()
    finally:
        pool.close()
    return sorted(grades.rows, key=lambda r: r.student_id)


def _finish(grades: GradesFile, feedback: Path, submission: Submission, result: Callable[[], ChildOutputs],
            run: GradingRun, config: GradingConfig, done: int, total: int) -> None:  # fmt: skip
    """Score and record one submission; any failure on the way becomes its grader-error row."""
    outputs = None
    try:
        outputs = result()
        row, scores = score_row(submission, outputs, run)
    except Exception as error:  # noqa: BLE001 (a grader bug must not lose this or any other row)
        row, scores = error_row(submission, run, error)
    _record(grades, feedback, row, scores, outputs, config, done, total)


def make_pool(run: GradingRun, config: GradingConfig) -> Pool:
    """The local pool, or a Dask pool connected to `config.scheduler`."""
    if config.scheduler is None:
        return LocalPool(run, config)
    from .cluster import DaskPool  # local import: distributed is only needed for cluster runs

    return DaskPool(config.scheduler, run, config)


def grade_submissions(submissions: Path | list[Submission], out: Path, config: GradingConfig | None = None
                      ) -> list[Row]:  # fmt: skip
    """Grade every notebook in a folder: rows go to `out` as they finish, feedback next to it."""
    config = config or GradingConfig()
    found = submissions if isinstance(submissions, list) else discover(Path(submissions))
    if not found:
        raise FileNotFoundError(f"no .ipynb files in {submissions}; check the submissions folder")
    for submission in found:
        if submission.warning:
            _say(config, submission.warning)
    out = Path(out)
    run = prepare_run(config, cache=out.with_name(out.stem + ".references.json"))
    try:
        return grade_batch(found, out, run, config, make_pool(run, config))
    finally:
        run.close()


def write_summary(rows: list[Row]) -> str:
    """A short text summary of a batch for the terminal."""
    by_status: dict[str, int] = {}
    for row in rows:
        by_status[row.status] = by_status.get(row.status, 0) + 1
    mean = sum(r.total for r in rows) / len(rows) if rows else 0.0
    return json.dumps({"submissions": len(rows), "mean_total": round(mean, 1), "by_status": by_status})


def default_jobs() -> int:
    """Half the cores (each child uses its own threads), at least 1."""
    return max(1, (os.cpu_count() or 2) // 2)
