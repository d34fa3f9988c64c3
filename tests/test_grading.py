"""The autograder end to end: twelve fixture submissions graded in one CLI run with -j 2, one test per case.

The run uses a small hidden set (three clips for language ID, 35 s of speech for Ex. 2, two files for Ex. 3),
tiny.en for transcription and base for language ID. Expected points are exact where the answer is
deterministic and bounded where it rests on a model's transcript.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from course_utils.grading.hidden import Selection, export_clips
from course_utils.grading.lockdown import landlock_abi
from course_utils.grading.report import read_grades

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "submissions"
SELECTION = Selection(
    lid=["fleurs-de-006", "fleurs-fr-005", "fleurs-en-006"],
    longform=["osr-us-000-0034-8k"],
    throughput=["fleurs-en-004", "cmu-arctic-a0024"],
    chunk_s=10, overlap_s=2, batch_size=2,
)  # fmt: skip
ISOLATION_FIXTURES = ("escape_fs", "read_references")
ESCAPE_FILES = [Path("/tmp/course_grading_escape.txt"), Path("/var/tmp/course_grading_escape.txt")]
NEEDS_LANDLOCK = pytest.mark.skipif(
    landlock_abi() < 1, reason="filesystem isolation needs Linux Landlock (kernel >= 5.13 with the LSM enabled)"
)

pytestmark = [pytest.mark.slow, pytest.mark.corpus]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade every fixture once: (rows by student id, run seconds, folders) for the tests below."""
    tmp = tmp_path_factory.mktemp("grading")
    submissions = tmp / "submissions"
    submissions.mkdir()
    for fixture in FIXTURES.glob("*.ipynb"):
        if fixture.stem in ISOLATION_FIXTURES and landlock_abi() < 1:
            continue  # without Landlock these would really write and read outside: nothing to test
        shutil.copy(fixture, submissions / fixture.name)
    shutil.copy(FIXTURES / "invalid_json.txt", submissions / "invalid_json.ipynb")
    shutil.copy(ROOT / "solutions" / "19_exercises.ipynb", submissions / "solution.ipynb")
    shutil.copy(ROOT / "notebooks" / "19_exercises.ipynb", submissions / "student.ipynb")
    hidden = export_clips(sorted({*SELECTION.lid, *SELECTION.longform, *SELECTION.throughput}), tmp / "hidden",
                          SELECTION)  # fmt: skip
    workdir = Path(tempfile.mkdtemp(prefix="course_grading_test_"))  # under /tmp: reachable by a dropped uid
    sentinel = workdir / "sentinel.txt"
    sentinel.write_text("do not touch\n")
    for path in ESCAPE_FILES:
        path.unlink(missing_ok=True)
    out = tmp / "grades.csv"
    command = [sys.executable, "-m", "course_utils.grading", str(submissions), "--out", str(out), "-j", "2",
               "--hidden", str(hidden), "--timeout", "60", "--wall-timeout", "400",
               "--workdir", str(workdir)]  # fmt: skip
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, timeout=1200)
    seconds = time.monotonic() - started
    print(f"graded {len(list(submissions.glob('*.ipynb')))} submissions with -j 2 in {seconds:.0f} s")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    rows = {row["student_id"]: row for row in read_grades(out)}
    yield {"rows": rows, "seconds": seconds, "out": out, "feedback": tmp / "feedback", "workdir": workdir,
           "sentinel": sentinel, "stderr": result.stderr}  # fmt: skip
    shutil.rmtree(workdir, ignore_errors=True)


def _row(graded, student: str) -> dict[str, str]:
    return graded["rows"][student]


def _points(row: dict[str, str]) -> tuple[float, float, float, float]:
    return float(row["ex1"]), float(row["ex2"]), float(row["ex3"]), float(row["total"])


def _log(graded, student: str) -> str:
    path = graded["feedback"] / f"{student}.log"
    return path.read_text() if path.exists() else ""


def test_every_submission_gets_a_row_and_a_feedback_file(graded):
    assert len(graded["rows"]) == (12 if landlock_abi() >= 1 else 12 - len(ISOLATION_FIXTURES)), sorted(graded["rows"])
    assert all((graded["feedback"] / f"{student}.md").is_file() for student in graded["rows"])
    assert list(graded["rows"]) == sorted(graded["rows"]), "the final CSV is sorted by student id"
    assert graded["seconds"] < 900


def test_solution_gets_full_marks(graded):
    row = _row(graded, "solution")
    assert _points(row) == (10, 10, 10, 30), row
    assert row["status"] == "ok", row


def test_untouched_student_version_is_not_implemented(graded):
    row = _row(graded, "student")
    assert _points(row) == (0, 0, 0, 0)
    assert row["status"] == "not implemented", row


def test_partly_correct_gets_partial_credit(graded):
    row = _row(graded, "partial")
    ex1, ex2, ex3, total = _points(row)
    assert ex1 == 8, row  # report without per_language and confusion
    assert 1 <= ex2 <= 6, row  # doubled overlap words: at best as good as naive chunking
    assert ex3 == 7, row  # compute time in seconds: 3 points lost
    assert row["status"] == "ok"
    assert "seconds instead of minutes" in (graded["feedback"] / "partial.md").read_text()


def test_infinite_loop_is_stopped_by_the_timeout(graded):
    row = _row(graded, "infinite_loop")
    assert row["status"] == "timeout", row
    assert _points(row)[3] == 0
    assert "ran longer than 60 s" in row["reason"]


def test_sys_exit_does_not_stop_grading(graded):
    row = _row(graded, "sys_exit")
    assert row["status"] == "error" and "SystemExit" in row["reason"], row
    assert _points(row) == (10, 0, 0, 10)
    assert "still running after the cell above" in _log(graded, "sys_exit")


def test_os_exit_is_reported_as_a_crash(graded):
    row = _row(graded, "os_exit")
    assert row["status"] == "crashed", row
    assert "exit code 1" in row["reason"]
    assert _points(row)[3] == 0


def test_memory_hog_hits_the_memory_limit_and_the_rest_is_graded(graded):
    row = _row(graded, "memory_hog")
    assert row["status"] == "memory limit", row
    assert _points(row) == (10, 0, 0, 10)


def test_100_mb_print_is_capped(graded):
    row = _row(graded, "big_print")
    assert _points(row) == (10, 0, 0, 10)
    assert "printed 100.0 MB" in row["reason"]
    assert len(_log(graded, "big_print")) < 1_000_000


@NEEDS_LANDLOCK
def test_nothing_outside_the_submission_folder_changes(graded):
    log = _log(graded, "escape_fs")
    assert "blocked: open course_utils for writing" in log and "ESCAPED" not in log, log[-3000:]
    assert graded["sentinel"].read_text() == "do not touch\n"
    assert not any(path.exists() for path in ESCAPE_FILES)
    assert not list(graded["workdir"].glob("escape.txt"))
    assert _points(_row(graded, "escape_fs"))[0] == 10
    # the inputs it tried to delete are shared: submissions graded after it still scored
    assert _points(_row(graded, "solution"))[3] == 30


def test_monkeypatching_the_scorer_changes_nothing(graded):
    row = _row(graded, "monkeypatch")
    assert _points(row) == (0, 1, 0, 1), row  # a string came back (1 point); its WER is scored by the parent


@NEEDS_LANDLOCK
def test_hidden_references_are_out_of_reach(graded):
    log = _log(graded, "read_references")
    assert "held-out transcripts seen: 0" in log, log[-3000:]
    assert _points(_row(graded, "read_references"))[1] == 0


def test_invalid_json_is_reported_not_fatal(graded):
    row = _row(graded, "invalid_json")
    assert row["status"] == "invalid notebook", row
    assert _points(row)[3] == 0


def test_rerun_overwrites_the_csv(graded, tmp_path):
    """A second run over one submission replaces the file: no rows from the first run survive."""
    out = graded["out"]
    submissions = tmp_path / "again"
    submissions.mkdir()
    shutil.copy(FIXTURES / "invalid_json.txt", submissions / "invalid_json.ipynb")
    copy = tmp_path / "grades.csv"
    shutil.copy(out, copy)
    references = out.with_name("grades.references.json")
    shutil.copy(references, tmp_path / "grades.references.json")  # same hidden set: no recomputation
    hidden = out.parent / "hidden"
    command = [sys.executable, "-m", "course_utils.grading", str(submissions), "--out", str(copy), "-q",
               "--hidden", str(hidden)]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    assert [row["student_id"] for row in read_grades(copy)] == ["invalid_json"]
