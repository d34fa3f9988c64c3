"""grades.csv (one row per submission, written as each finishes) and per-student feedback in markdown."""

from __future__ import annotations

import csv
import io
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from .sandbox import ChildOutputs
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
    """Append rows as submissions finish (flushed and synced, so a crash keeps them); sort at the end.

    Opening truncates: a re-run replaces the previous file instead of mixing old and new rows.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.rows: list[Row] = []
        self.lock = threading.Lock()
        self.file = open(self.path, "w", newline="", encoding="utf-8")  # noqa: SIM115 (closed in finish)
        self.writer = csv.DictWriter(self.file, fieldnames=COLUMNS)
        self.writer.writeheader()
        self._sync()

    def _sync(self) -> None:
        self.file.flush()
        os.fsync(self.file.fileno())

    def add(self, row: Row) -> None:
        with self.lock:
            self.rows.append(row)
            self.writer.writerow(row.to_dict())
            self._sync()

    def finish(self) -> None:
        """Rewrite the file sorted by student id (atomically: a reader never sees half a file)."""
        with self.lock:
            self.file.close()
            buffer = io.StringIO()
            writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
            writer.writeheader()
            for row in sorted(self.rows, key=lambda r: r.student_id):
                writer.writerow(row.to_dict())
            temporary = self.path.with_name(self.path.name + ".tmp")
            temporary.write_text(buffer.getvalue(), encoding="utf-8", newline="")
            os.replace(temporary, self.path)


def read_grades(path: Path) -> list[dict[str, str]]:
    """The rows of a grades.csv as dicts (for tests and spreadsheets)."""
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def feedback_markdown(row: Row, scores: list[ExerciseScore], outputs: ChildOutputs | None) -> str:
    """What a student reads: points per check with the reason, cell errors, and the end of the output."""
    most = sum(s.max_points for s in scores) or 30
    lines = [f"# Feedback for {row.student_id}", "", f"**Total: {row.total:g} / {most:g}** · status: **{row.status}**"]
    if row.reason:
        lines += ["", f"> {row.reason}"]
    for score in scores:
        lines += ["", f"## {score.exercise.upper()} — {score.title}: {score.points:g} / {score.max_points:g}", ""]
        if score.outcome != "ok":
            lines += [f"*{score.outcome}*{': ' + score.problem if score.problem else ''}", ""]
        lines += ["| check | points | why |", "|---|---|---|"]
        lines += [f"| {c.name} | {c.points:g} / {c.max_points:g} | {_cell(c.detail)} |" for c in score.checks]
    if outputs is not None:
        errors = [c for c in outputs.cells if c.error]
        if errors:
            lines += ["", "## Cells that raised errors", ""]
            for cell in errors[:10]:
                lines += [f"- code cell {cell.index + 1}: `{cell.error}`: {_cell(cell.message[:300])}"]
        calls = [c for c in outputs.calls if c.error and c.error not in ("Skipped", "NotDefined")]
        if calls:
            lines += ["", "## Exercise calls that failed", ""]
            for call in calls[:6]:
                lines += [f"- `{call.function}()` on hidden input {call.item + 1}: `{call.error}`: "
                          f"{_cell(call.message[:300])}", "", "```", call.traceback.strip()[-1500:], "```"]  # fmt: skip
        if outputs.output.strip():
            lines += ["", "## End of the notebook's output", "", "```", outputs.output.strip()[-3000:], "```"]
        lines += ["", f"<sub>Graded in {row.seconds:.0f} s; isolation: {', '.join(outputs.isolation) or 'n/a'}"
                      "</sub>"]  # fmt: skip
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def write_feedback(folder: Path, row: Row, scores: list[ExerciseScore], outputs: ChildOutputs | None) -> Path:
    """``<folder>/<student>.md`` (and ``.log`` with the captured output), overwriting a previous run's."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{row.student_id}.md"
    path.write_text(feedback_markdown(row, scores, outputs), encoding="utf-8")
    log = folder / f"{row.student_id}.log"
    if outputs is not None and outputs.output:
        log.write_text(outputs.output, encoding="utf-8")
    else:
        log.unlink(missing_ok=True)
    return path
