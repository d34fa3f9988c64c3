"""Grade a folder of submissions: stage the hidden inputs once, run each notebook isolated, score, report.

``grade_submissions`` is what ``python -m course_utils.grading`` calls. One failing submission never stops
the batch: anything that goes wrong for a submission becomes its row (status and reason).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from . import lockdown
from .hidden import DEFAULT_SELECTION, HELD_OUT_IDS, HiddenSet, export_clips, read_hidden_set
from .reference import References, cached_references
from .report import GradesFile, Row, write_feedback
from .sandbox import ChildOutputs, Limits, Sandbox, prepare_sandbox, run_submission
from .score import ExerciseScore, overall_status, reason_text, score_all

MAX_NOTEBOOK_BYTES = 50 << 20
PARAMETERS_TAG = "parameters"


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


@dataclass
class Submission:
    student_id: str
    path: Path


class InvalidNotebook(ValueError):
    """The file is not a notebook the grader can run (not JSON, not nbformat, too large)."""


def discover(folder: Path) -> list[Submission]:
    """Every ``*.ipynb`` below `folder` (checkpoints skipped); the id is the file stem, or the student's
    folder name for ``folder/<student>/.../notebook.ipynb``; clashes fall back to the relative path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"submissions folder {folder} does not exist; pass the folder of .ipynb files")
    paths = sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts and p.is_file())
    ids = [p.relative_to(folder).parts[0] if len(p.relative_to(folder).parts) > 1 else p.stem for p in paths]
    clashes = {i for i in ids if ids.count(i) > 1}
    return [
        Submission(_safe_id(str(p.relative_to(folder).with_suffix("")) if i in clashes else i), p)
        for i, p in zip(ids, paths, strict=True)
    ]


def _safe_id(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text).strip("._") or "submission"


def notebook_cells(path: Path, parameters: dict) -> list[str]:
    """The code cells to run, with the grader's parameters injected after the ``parameters`` cell (papermill)."""
    import nbformat

    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        raise InvalidNotebook(f"the notebook is {path.stat().st_size >> 20} MB; clear its outputs and resubmit")
    try:
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text)
        if not isinstance(raw, dict) or not isinstance(raw.get("nbformat"), int):
            raise ValueError("no nbformat version: this is JSON, but not a Jupyter notebook")
        notebook = nbformat.reads(text, as_version=4)
        cells = [(c.get("source", ""), c.get("metadata", {}).get("tags", []))
                 for c in notebook.cells if c.get("cell_type") == "code"]  # fmt: skip
        if not all(isinstance(source, str) for source, _ in cells):
            raise TypeError("a code cell's source is not text")
    except Exception as error:  # nbformat raises many types for broken files
        first_line = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
        raise InvalidNotebook(f"not a valid notebook ({type(error).__name__}: {first_line})") from None
    injected = "# Parameters injected by the grader\n" + "".join(
        f"{name} = {value!r}\n" for name, value in parameters.items())  # fmt: skip
    sources = [source for source, _ in cells]
    tagged = [i for i, (_, tags) in enumerate(cells) if PARAMETERS_TAG in tags]
    position = tagged[0] + 1 if tagged else 0
    return sources[:position] + [injected] + sources[position:]


def default_hidden(folder: Path) -> Path:
    """Export the held-out corpus slice (``HELD_OUT_IDS``) into `folder` as a hidden set."""
    return export_clips(HELD_OUT_IDS, folder, DEFAULT_SELECTION)


Runner = Callable[..., ChildOutputs]


def grade_one(submission: Submission, sandbox: Sandbox, hidden: HiddenSet, references: References,
              config: GradingConfig, runner: Runner = run_submission) -> tuple[Row, list[ExerciseScore],
                                                                                 ChildOutputs | None]:  # fmt: skip
    """Run and score one submission; every failure becomes a row instead of an exception."""
    started = time.monotonic()
    parameters = {"MODEL": config.model, "LID_MODEL": config.lid_model, "DEVICE": config.device,
                  "QUICK": config.quick}  # fmt: skip
    outputs: ChildOutputs | None = None
    try:
        cells = notebook_cells(submission.path, parameters)
    except InvalidNotebook as error:
        scores = score_all(ChildOutputs(ended="invalid"), references, sandbox.staged.languages,
                           hidden.longform_reference)  # fmt: skip
        return _row(submission, scores, "invalid notebook", str(error), started), scores, None
    try:
        outputs = runner(sandbox, cells, config.limits, model=config.model, lid_model=config.lid_model,
                         device=config.device)  # fmt: skip
        scores = score_all(outputs, references, sandbox.staged.languages, hidden.longform_reference)
        status, reason = overall_status(outputs, scores)
        return _row(submission, scores, status, reason_text(reason, scores, outputs), started), scores, outputs
    except Exception as error:  # a grader bug must not lose the other students' rows
        detail = f"grader error: {type(error).__name__}: {error}"
        print(f"[grading] {submission.student_id}: {detail}\n{traceback.format_exc()}", file=sys.stderr)
        scores = score_all(ChildOutputs(ended="crashed"), references, sandbox.staged.languages,
                           hidden.longform_reference)  # fmt: skip
        return _row(submission, scores, "grader error", detail[:300], started), scores, outputs


def _row(submission: Submission, scores: list[ExerciseScore], status: str, reason: str, started: float) -> Row:
    points = {s.exercise: s.points for s in scores}
    return Row(submission.student_id, points["ex1"], points["ex2"], points["ex3"],
               round(sum(points.values()), 1), status, reason, round(time.monotonic() - started, 1))  # fmt: skip


@dataclass
class GradingRun:
    """What one grading run shares between submissions: hidden set, staged sandbox, reference results."""

    hidden: HiddenSet
    sandbox: Sandbox
    references: References
    private: Path  # the parent-only folder (exported hidden set), removed by close()
    owns_base: bool

    def close(self) -> None:
        shutil.rmtree(self.private, ignore_errors=True)
        if self.owns_base:
            shutil.rmtree(self.sandbox.base, ignore_errors=True)


def _say(config: GradingConfig, text: str) -> None:
    if config.progress:
        print(f"[grading] {text}", file=sys.stderr, flush=True)


def prepare_run(config: GradingConfig, cache: Path | None = None) -> GradingRun:
    """Read (or export) the hidden set, stage the sandbox, compute or load the reference results."""
    private = Path(tempfile.mkdtemp(prefix="course_grading_private_"))  # 0700: never visible to children
    base = config.workdir or Path(tempfile.mkdtemp(prefix="course_grading_"))
    try:
        hidden = read_hidden_set(config.hidden or default_hidden(private / "hidden"))
        _say(config, f"staging hidden inputs ({len(hidden.clips)} clips) and models in {base}")
        sandbox = prepare_sandbox(base, hidden, [config.model, config.lid_model])
        if lockdown.landlock_abi() < 1:
            print("[grading] WARNING: Linux Landlock is not available here, so submissions can read and write "
                  "whatever this account can (see docs/instructors.md, Security model)", file=sys.stderr)
        _say(config, "reference results" + (f" (cached in {cache})" if cache else ""))
        references = cached_references(cache, hidden, sandbox.staged, config.model, config.lid_model, config.device)
    except BaseException:
        shutil.rmtree(private, ignore_errors=True)
        if config.workdir is None and not config.keep_workdir:
            shutil.rmtree(base, ignore_errors=True)
        raise
    owns_base = config.workdir is None and not config.keep_workdir
    return GradingRun(hidden, sandbox, references, private, owns_base)


Grader = Callable[[Submission, GradingRun, GradingConfig], tuple[Row, list[ExerciseScore], ChildOutputs | None]]


def _grade(submission: Submission, run: GradingRun, config: GradingConfig) -> tuple[
        Row, list[ExerciseScore], ChildOutputs | None]:  # fmt: skip
    return grade_one(submission, run.sandbox, run.hidden, run.references, config)


def grade_batch(found: list[Submission], out: Path, run: GradingRun, config: GradingConfig,
                grader: Grader = _grade) -> list[Row]:  # fmt: skip
    """Grade submissions in parallel; each row reaches `out` (and its feedback file) as soon as it is done."""
    feedback = config.feedback or Path(out).parent / "feedback"
    grades = GradesFile(Path(out))
    _say(config, f"grading {len(found)} submission(s) with {config.jobs} job(s)")
    try:
        with ThreadPoolExecutor(max_workers=max(1, config.jobs)) as pool:
            futures = [pool.submit(grader, submission, run, config) for submission in found]
            for done, future in enumerate(as_completed(futures), start=1):
                row, scores, outputs = future.result()
                grades.add(row)
                with contextlib.suppress(OSError):
                    write_feedback(feedback, row, scores, outputs)
                _say(config, f"{done}/{len(found)} {row.student_id}: {row.total:g}/30 {row.status} "
                     f"({row.seconds:.0f} s)")
        grades.finish()
    finally:
        if not grades.file.closed:
            grades.file.close()  # a crash mid-batch leaves the rows written so far
    return sorted(grades.rows, key=lambda r: r.student_id)


def grade_submissions(submissions: Path | list[Submission], out: Path, config: GradingConfig | None = None
                      ) -> list[Row]:  # fmt: skip
    """Grade every notebook in a folder: rows go to `out` as they finish, feedback next to it."""
    config = config or GradingConfig()
    found = submissions if isinstance(submissions, list) else discover(Path(submissions))
    if not found:
        raise FileNotFoundError(f"no .ipynb files in {submissions}; check the submissions folder")
    out = Path(out)
    run = prepare_run(config, cache=out.with_name(out.stem + ".references.json"))
    try:
        return grade_batch(found, out, run, config)
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
