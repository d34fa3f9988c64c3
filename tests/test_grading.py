"""The autograder end to end: every fixture graded in one CLI run with -j 2 while a busy loop loads the CPU.

The batch holds the twelve original cases (solution, untouched student version, partial, loops, exits, memory,
output, escapes, patches, invalid JSON) and the audit's eleven (issue 9): a lone surrogate in an error, null
tags, a channel flood, forged channel messages (two ways), a sleeping Ex. 3, 300 MB in /dev/shm, ids that clash
after sanitising, a symbolic link, deeply nested JSON on the channel and 10,001 harmless cells. Each one has
its expected row (status, points, words of the reason). The run uses a small hidden set (three clips for
language ID, 35 s of speech for Ex. 2, two files for Ex. 3), tiny.en and base.
"""

from __future__ import annotations

import glob
import importlib.util
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
LEAKS = ("/dev/shm/course_grading_leak_*", "/tmp/course_grading_leak_*")
NEEDS_LANDLOCK = pytest.mark.skipif(
    landlock_abi() < 1, reason="filesystem isolation needs Linux Landlock (kernel >= 5.13 with the LSM enabled)"
)
EMPTY_NOTEBOOK = '{"cells": [{"cell_type": "code", "source": "pass", "metadata": {}, "outputs": [], ' \
                 '"execution_count": null}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'  # fmt: skip

# student id → (status or None: not checked, (ex1, ex2, ex3, total), words of the reason)
EXPECTED = {
    "solution": ("ok", (10, 10, 10, 30), ""),
    "student": ("not implemented", (0, 0, 0, 0), "no exercise is implemented"),
    "infinite_loop": ("timeout", (0, 0, 0, 0), "ran longer than 120 s"),
    "sys_exit": ("error", (10, 0, 0, 10), "SystemExit"),
    "os_exit": ("crashed", (0, 0, 0, 0), "exit code 1"),
    "memory_hog": ("memory limit", (10, 0, 0, 10), "ran out of memory"),
    "big_print": ("ok", (10, 0, 0, 10), "printed 100.0 MB"),
    "monkeypatch": (None, (0, 1, 0, 1), ""),  # a string came back (1 point); its WER is scored by the parent
    "invalid_json": ("invalid notebook", (0, 0, 0, 0), "not a valid notebook"),
    # the audit's cases
    "surrogate_error": ("error", (10, 0, 0, 10), "raised ValueError"),
    "null_tags": ("ok", (10, 0, 0, 10), ""),
    "flood_channel": ("error", (0, 0, 0, 0), "result channel: an unexpected 'call_start'"),
    "forge_channel": ("error", (0, 0, 0, 0), "result channel"),
    "forge_in_call": ("ok", (0, 0, 0, 0), "transcripts do not match the audio"),
    "sleep_ex3": ("ok", (0, 0, 0, 0), "transcripts do not match the audio"),
    "dev_shm": ("not implemented", (0, 0, 0, 0), ""),
    "deep_json": ("error", (0, 0, 0, 0), "nested deeper than"),
    "many_cells": ("ok", (10, 0, 0, 10), ""),
    "i_col": ("not implemented", (0, 0, 0, 0), ""),
    "i_col-2": ("not implemented", (0, 0, 0, 0), "was taken by another submission"),
    "a_b": ("not implemented", (0, 0, 0, 0), ""),
    "a_b-2": ("not implemented", (0, 0, 0, 0), "was taken by another submission"),
    "k_copycat": ("refused", (0, 0, 0, 0), "symbolic link"),
}

pytestmark = [pytest.mark.slow, pytest.mark.corpus]


def _generated() -> dict:
    spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {name: module.render(nb) for name, nb in module.generated().items()}


def build_submissions(folder: Path) -> None:
    """Every committed fixture, the generated ones, clashing names and a symbolic link into `folder`."""
    folder.mkdir()
    for fixture in FIXTURES.glob("*.ipynb"):
        if fixture.stem in ISOLATION_FIXTURES and landlock_abi() < 1:
            continue  # without Landlock these would really write and read outside: nothing to test
        shutil.copy(fixture, folder / fixture.name)
    for name, text in _generated().items():
        (folder / name).write_text(text, encoding="utf-8")
    shutil.copy(FIXTURES / "invalid_json.txt", folder / "invalid_json.ipynb")
    shutil.copy(ROOT / "solutions" / "19_exercises.ipynb", folder / "solution.ipynb")
    shutil.copy(ROOT / "notebooks" / "19_exercises.ipynb", folder / "student.ipynb")
    for name in ("_i_col.ipynb", "i_col.ipynb", "a b.ipynb", "a_b.ipynb"):  # two ids each after sanitising
        (folder / name).write_text(EMPTY_NOTEBOOK, encoding="utf-8")
    (folder / "k_copycat.ipynb").symlink_to(folder / "i_col.ipynb")  # unzipped archives keep links


def hidden_set(folder: Path) -> Path:
    return export_clips(sorted({*SELECTION.lid, *SELECTION.longform, *SELECTION.throughput}), folder, SELECTION)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade every fixture once beside a busy loop: (rows by student id, run seconds, folders)."""
    tmp = tmp_path_factory.mktemp("grading")
    submissions = tmp / "submissions"
    build_submissions(submissions)
    hidden = hidden_set(tmp / "hidden")
    workdir = Path(tempfile.mkdtemp(prefix="course_grading_test_", dir="/var/tmp"))  # a dropped uid reaches it
    sentinel = workdir / "sentinel.txt"
    sentinel.write_text("do not touch\n")
    for path in ESCAPE_FILES:
        path.unlink(missing_ok=True)
    out = tmp / "grades.csv"
    command = [sys.executable, "-m", "course_utils.grading", str(submissions), "--out", str(out), "-j", "2",
               "--hidden", str(hidden), "--timeout", "120", "--wall-timeout", "900",
               "--workdir", str(workdir)]  # fmt: skip
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])  # another program loading the CPU
    started = time.monotonic()
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=3000)
    finally:
        busy.kill()
        busy.wait()
    seconds = time.monotonic() - started
    print(f"graded {len(list(submissions.iterdir()))} submissions with -j 2 beside a busy loop in {seconds:.0f} s")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    rows = {row["student_id"]: row for row in read_grades(out)}
    yield {"rows": rows, "seconds": seconds, "out": out, "feedback": tmp / "feedback", "workdir": workdir,
           "sentinel": sentinel, "stderr": result.stderr, "hidden": hidden}  # fmt: skip
    shutil.rmtree(workdir, ignore_errors=True)


def _row(graded, student: str) -> dict[str, str]:
    return graded["rows"][student]


def _points(row: dict[str, str]) -> tuple[float, float, float, float]:
    return float(row["ex1"]), float(row["ex2"]), float(row["ex3"]), float(row["total"])


def _log(graded, student: str) -> str:
    path = graded["feedback"] / f"{student}.log"
    return path.read_text() if path.exists() else ""


def test_every_submission_gets_one_row_and_one_feedback_file(graded):
    expected = 26 if landlock_abi() >= 1 else 26 - len(ISOLATION_FIXTURES)
    assert len(graded["rows"]) == expected, sorted(graded["rows"])
    assert all((graded["feedback"] / f"{student}.md").is_file() for student in graded["rows"])
    assert list(graded["rows"]) == sorted(graded["rows"]), "the final CSV is sorted by student id"


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_expected_row(graded, student):
    status, points, reason = EXPECTED[student]
    row = _row(graded, student)
    assert status is None or row["status"] == status, row
    assert _points(row) == points, row
    assert reason in row["reason"], row


def test_honest_solution_gets_full_marks_beside_a_busy_loop(graded):
    assert _points(_row(graded, "solution")) == (10, 10, 10, 30)


def test_partly_correct_gets_partial_credit(graded):
    row = _row(graded, "partial")
    ex1, ex2, ex3, total = _points(row)
    assert ex1 == 8, row  # report without per_language and confusion
    assert 1 <= ex2 <= 6, row  # doubled overlap words: at best as good as naive chunking
    assert ex3 == 8, row  # compute time in seconds: 2 points lost
    assert row["status"] == "ok"
    assert "seconds instead of minutes" in (graded["feedback"] / "partial.md").read_text()


def test_sys_exit_goes_on_and_big_output_is_capped(graded):
    assert "still running after the cell above" in _log(graded, "sys_exit")
    assert len(_log(graded, "big_print")) < 1_000_000


def test_channel_attacks_end_fast_and_get_nothing(graded):
    for student in ("flood_channel", "deep_json", "forge_channel"):
        assert float(_row(graded, student)["seconds"]) < 200, _row(graded, student)
    assert "labels received: [" not in _log(graded, "forge_channel")  # stopped first, or None: there are none


def test_nothing_is_left_in_dev_shm_or_tmp(graded):
    assert "wrote 300 MB to /dev/shm" in _log(graded, "dev_shm")  # it could write: to its own private tmpfs
    assert not [path for pattern in LEAKS for path in glob.glob(pattern)]
    assert "System V shared memory segment: -1" not in _log(graded, "dev_shm")  # it got one: in its own IPC space
    keys = [line.split()[0] for line in Path("/proc/sysvipc/shm").read_text().splitlines()[1:]]
    assert str(0x5EED) not in keys, "a System V segment outlived the submission"
    assert not list(graded["workdir"].glob("work-*")) and not list(graded["workdir"].glob("spec-*"))


def test_feedback_is_clean_text(graded):
    text = (graded["feedback"] / "surrogate_error.md").read_text(encoding="utf-8")
    assert "caf\ufffd.wav" in text


@NEEDS_LANDLOCK
def test_nothing_outside_the_submission_folder_changes(graded):
    log = _log(graded, "escape_fs").replace("ESCAPED: write /tmp\n", "")  # its own private /tmp: it may
    assert "blocked: open course_utils for writing" in log and "ESCAPED" not in log, log[-3000:]
    assert graded["sentinel"].read_text() == "do not touch\n"
    assert not any(path.exists() for path in ESCAPE_FILES)
    assert not list(graded["workdir"].glob("escape.txt"))
    assert _points(_row(graded, "escape_fs"))[0] == 10
    # the inputs it tried to delete are shared: submissions graded after it still scored
    assert _points(_row(graded, "solution"))[3] == 30


@NEEDS_LANDLOCK
def test_hidden_references_are_out_of_reach(graded):
    log = _log(graded, "read_references")
    assert "held-out transcripts seen: 0" in log, log[-3000:]
    assert _points(_row(graded, "read_references"))[1] == 0


def _peak_mb(pid: int) -> float:
    """VmHWM of one process (its own peak resident memory; children are separate processes), 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def test_grader_memory_stays_small_while_a_submission_floods_its_channel(graded, tmp_path):
    """Rerun the flood alone (references cached): the grader's own process peaks under 300 MB, read from
    /proc/PID/status while it runs and reported by the grader itself at the end. Children and the helper that
    stages models are separate processes and not counted. It used to grow by 2 GB in 25 s, and to start at
    434 MB because importing the package pulled in torch and Whisper."""
    submissions = tmp_path / "flood"
    submissions.mkdir()
    shutil.copy(FIXTURES / "flood_channel.ipynb", submissions / "flood_channel.ipynb")
    out = tmp_path / "grades.csv"
    shutil.copy(graded["out"].with_name("grades.references.json"), tmp_path / "grades.references.json")
    command = [sys.executable, "-m", "course_utils.grading", str(submissions), "--out", str(out), "-q",
               "--hidden", str(graded["hidden"]), "--timeout", "120"]  # fmt: skip
    grader = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    sampled = 0.0
    while grader.poll() is None:
        sampled = max(sampled, _peak_mb(grader.pid))
        time.sleep(0.1)
    stdout = grader.communicate()[0]
    reported = float(stdout.split("grader peak memory: ")[1].split()[0])
    print(f"grader peak memory while flooded: {reported:.0f} MB reported, {sampled:.0f} MB sampled")
    assert grader.returncode == 0
    assert read_grades(out)[0]["status"] == "error"
    assert 0 < sampled <= reported + 1, "the sampled peak must be this process's, as the grader reports it"
    assert reported < 300, f"the grader's process peaked at {reported:.0f} MB"


def test_resume_keeps_finished_rows(graded, tmp_path):
    """A second run with --resume over the same CSV regrades nothing that already has a row."""
    copy = tmp_path / "grades.csv"
    shutil.copy(graded["out"], copy)
    shutil.copy(graded["out"].with_name("grades.references.json"), tmp_path / "grades.references.json")
    shutil.copytree(graded["feedback"], tmp_path / "feedback")
    submissions = tmp_path / "again"
    submissions.mkdir()
    shutil.copy(FIXTURES / "invalid_json.txt", submissions / "invalid_json.ipynb")
    shutil.copy(FIXTURES / "sys_exit.ipynb", submissions / "sys_exit.ipynb")
    command = [sys.executable, "-m", "course_utils.grading", str(submissions), "--out", str(copy), "--resume",
               "--hidden", str(graded["hidden"])]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 already graded" in result.stderr
    assert [row["student_id"] for row in read_grades(copy)] == ["invalid_json", "sys_exit"]
