"""grades.csv (one row per submission, written as each finishes) and per-student feedback in markdown."""

from __future__ import annotations

import csv
import io
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from .records import ChildOutputs
from .sanitize import clean_text, csv_cell, markdown_block, markdown_inline
from .score import ExerciseScore

COLUMNS = ("student_id", "ex1", "ex2", "ex3", "total", "status", "reason", "seconds")


@dataclass
class Row:
    """One line of grades.csv; points are out of 10 per exercise, `total` out of 30."""

    student_id: str
    ex1: float
    ex2: float
    ex3: float
    total: float
    status: str
    reason: str
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


class GradesFile:
    """grades.csv, rewritten atomically (temporary file + rename) after every row: whoever reads it, and whatever
    happens to the grader, sees whole rows only. Opening starts an empty file unless `resume` keeps the
    rows of an earlier run (``keep`` then picks which)."""

    def __init__(self, path: Path, resume: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.rows: list[Row] = []
        if resume and self.path.is_file():
            self.rows = [_row_from(raw) for raw in read_grades(self.path)]
        self._write(self.rows)

    def keep(self, student_ids: set[str]) -> None:
        """Drop earlier rows except those of `student_ids` (resume: finished submissions still present)."""
        with self.lock:
            self.rows = [r for r in self.rows if r.student_id in student_ids]
            self._write(self.rows)

    def _write(self, rows: list[Row]) -> None:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({key: csv_cell(value) if isinstance(value, str) else value
                             for key, value in row.to_dict().items()})  # fmt: skip
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(temporary, "w", newline="", encoding="utf-8") as f:
            f.write(buffer.getvalue())
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, self.path)

    def add(self, row: Row) -> None:
        with self.lock:
            self.rows.append(row)
            self._write(self.rows)

    def finish(self) -> None:
        """Sort the rows by student id."""
        with self.lock:
            self._write(sorted(self.rows, key=lambda r: r.student_id))


def _row_from(raw: dict[str, str]) -> Row:
    number = {key: float(raw[key] or 0) for key in ("ex1", "ex2", "ex3", "total", "seconds")}
    return Row(raw["student_id"], number["ex1"], number["ex2"], number["ex3"], number["total"], raw["status"],
               raw["reason"], number["seconds"])  # fmt: skip


def read_grades(path: Path) -> list[dict[str, str]]:
    """The rows of a grades.csv as dicts (for tests and spreadsheets)."""
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def feedback_markdown(row: Row, scores: list[ExerciseScore], outputs: ChildOutputs | None) -> str:
    """What a student reads: points per check with the reason, cell errors, and the end of the output."""
    most = sum(s.max_points for s in scores) or 30
    lines = [f"# Feedback for {row.student_id}", "", f"**Total: {row.total:g} / {most:g}** · status: **{row.status}**"]
    if row.reason:
        lines += ["", f"> {markdown_inline(row.reason)}"]
    for score in scores:
        lines += ["", f"## {score.exercise.upper()} — {score.title}: {score.points:g} / {score.max_points:g}", ""]
        if score.outcome != "ok":
            lines += [f"*{score.outcome}*{': ' + markdown_inline(score.problem) if score.problem else ''}", ""]
        lines += ["| check | points | why |", "|---|---|---|"]
        lines += [f"| {c.name} | {c.points:g} / {c.max_points:g} | {markdown_inline(c.detail)} |" for c in score.checks]
    if outputs is not None:
        errors = [c for c in outputs.cells if c.error]
        if errors:
            lines += ["", "## Cells that raised errors", ""]
            for cell in errors[:10]:
                what = f"{markdown_inline(cell.error)}: {markdown_inline(cell.message[:300])}"
                lines += [f"- code cell {cell.index + 1}: {what}"]
        calls = [c for c in outputs.calls if c.error and c.error not in ("Skipped", "NotDefined")]
        if calls:
            lines += ["", "## Exercise calls that failed", ""]
            for call in calls[:6]:
                what = f"{markdown_inline(call.error)}: {markdown_inline(call.message[:300])}"
                lines += [f"- `{call.function}()` on hidden input {call.item + 1}: {what}", "",
                          markdown_block(call.traceback.strip()[-1500:])]  # fmt: skip
        if outputs.output.strip():
            lines += ["", "## End of the notebook's output", "", markdown_block(outputs.output.strip()[-3000:])]
        isolation = markdown_inline(", ".join(outputs.isolation) or "n/a")
        lines += ["", f"<sub>Graded in {row.seconds:.0f} s; isolation: {isolation}</sub>"]
    return "\n".join(lines) + "\n"


def write_feedback(folder: Path, row: Row, scores: list[ExerciseScore], outputs: ChildOutputs | None) -> Path:
    """``<folder>/<student>.md`` (and ``.log`` with the captured output), overwriting a previous run's."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{row.student_id}.md"
    _write_atomically(path, clean_text(feedback_markdown(row, scores, outputs)))
    log = folder / f"{row.student_id}.log"
    if outputs is not None and outputs.output:
        _write_atomically(log, clean_text(outputs.output))
    else:
        log.unlink(missing_ok=True)
    return path


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8", errors="replace")
    os.replace(temporary, path)
