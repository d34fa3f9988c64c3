"""Scoring and reports from synthetic child outputs: no model, no child process, fast."""

from __future__ import annotations

import json
import time

import pytest

from course_utils.grading.batch import (
    GradingConfig,
    GradingRun,
    InvalidNotebook,
    Submission,
    discover,
    grade_batch,
    grade_one,
    notebook_cells,
)
from course_utils.grading.reference import References
from course_utils.grading.report import GradesFile, Row, read_grades
from course_utils.grading.sandbox import CallRecord, CellRecord, ChildOutputs, _CappedText
from course_utils.grading.score import overall_status, score_all, score_ex1, score_ex2, score_ex3

LABELS = ["de", "fr", "en", "en"]
REFERENCE_TEXT = "a gold ring will please most any girl the long journey home took a year"
REFS = References(key="k", lid_predictions=LABELS, lid_accuracy=1.0, overlap_wer=0.0, naive_wer=0.2,
                  reference_words=15, throughput_s=2.0, audio_minutes=0.5)  # fmt: skip


def call(function: str, item: int = 0, value=None, error: str = "", seconds: float = 1.0) -> CallRecord:
    exercise = {"detect_language": "ex1", "language_detection_accuracy": "ex1",
                "overlapping_transcription": "ex2", "measure_throughput": "ex3"}[function]  # fmt: skip
    return CallRecord(exercise, function, item, value, error, "", "", seconds, True)


def report(predicted: list[str]) -> dict:
    confusion: dict = {}
    for t, p in zip(LABELS, predicted, strict=True):
        confusion.setdefault(t, {}).setdefault(p, 0)
        confusion[t][p] += 1
    per = {t: row.get(t, 0) / sum(row.values()) for t, row in confusion.items()}
    return {"overall": sum(p == t for p, t in zip(predicted, LABELS, strict=True)) / 4, "per_language": per,
            "confusion": confusion}  # fmt: skip


def outputs(predicted=LABELS, accuracy=None, text=REFERENCE_TEXT, throughput=None, call_s=30.0) -> ChildOutputs:
    calls = [call("detect_language", i, [p, 0.9]) for i, p in enumerate(predicted)]
    calls.append(call("language_detection_accuracy", 0, report(predicted) if accuracy is None else accuracy))
    calls.append(call("overlapping_transcription", 0, text))
    numbers = throughput or {"audio_minutes": 0.5, "compute_minutes": call_s / 60,
                             "audio_minutes_per_compute_minute": 0.5 / (call_s / 60)}  # fmt: skip
    calls += [call("measure_throughput", 0, numbers, seconds=call_s), call("measure_throughput", 1, numbers)]
    return ChildOutputs(calls=calls)


def totals(child: ChildOutputs) -> list[float]:
    return [s.points for s in score_all(child, REFS, LABELS, REFERENCE_TEXT)]


def test_correct_answers_get_full_marks():
    assert totals(outputs()) == [10, 10, 10]


def test_wrong_languages_lose_accuracy_points_but_a_consistent_report_keeps_its_points():
    score = score_ex1(outputs(predicted=["de", "de", "de", "en"]), REFS, LABELS)
    assert [c.points for c in score.checks] == [2, 2.5, 1, 1, 1]


def test_confusion_matrix_in_pandas_orientation_is_accepted():
    transposed: dict = {}
    for true, row in report(LABELS)["confusion"].items():
        for predicted, count in row.items():
            transposed.setdefault(predicted, {})[true] = count
    answer = {**report(LABELS), "confusion": transposed}
    assert score_ex1(outputs(accuracy=answer), REFS, LABELS).points == 10


def test_bad_return_types_score_zero_not_crash():
    child = outputs(predicted=LABELS)
    child.calls[0].value = "de"  # not a pair
    child.calls[4].value = [1, 2, 3]  # not a dict
    assert score_ex1(child, REFS, LABELS).points == 6.5  # 3/4 valid pairs (1.5) + accuracy within a clip (5)


@pytest.mark.parametrize(("text", "points"), [
    (REFERENCE_TEXT, 10),  # WER 0: as good as the reference
    ("a gold ring will please most any girl the long journey took a", 6),  # 2 errors: naive level
    ("a a gold gold ring ring will please please most any any girl the the long journey home took a year", 3),
    ("something else entirely", 1),
    ("", 0),
])  # fmt: skip
def test_ex2_tiers(text, points):
    assert score_ex2(outputs(text=text), REFS, REFERENCE_TEXT).points == points


def test_ex3_seconds_instead_of_minutes_is_caught_with_a_hint():
    numbers = {"audio_minutes": 0.5, "compute_minutes": 30.0, "audio_minutes_per_compute_minute": 0.5 / 30}
    score = score_ex3(outputs(throughput=numbers), REFS)
    assert score.points == 7
    assert "seconds instead of minutes" in score.checks[2].detail


def test_ex3_compute_time_must_match_the_parents_clock_and_be_plausible():
    fake = {"audio_minutes": 0.5, "compute_minutes": 0.001, "audio_minutes_per_compute_minute": 500.0}
    assert score_ex3(outputs(throughput=fake, call_s=30.0), REFS).checks[2].points == 0  # claims 0.06 s
    assert score_ex3(outputs(throughput=fake, call_s=0.06), REFS).checks[2].points == 0  # too fast to be real


def test_status_priorities():
    child = outputs()
    scores = score_all(child, REFS, LABELS, REFERENCE_TEXT)
    assert overall_status(child, scores)[0] == "ok"
    child.cells = [CellRecord(3, 1.0, "ValueError", "bad", "", True)]
    assert overall_status(child, scores) == ("error", "code cell 4 raised ValueError")
    child.cells.append(CellRecord(4, 1.0, "MemoryError", "", "", True))
    assert overall_status(child, scores)[0] == "memory limit"
    child.cells.append(CellRecord(5, 9.0, "SoftTimeout", "", "", True))
    assert overall_status(child, scores)[0] == "timeout"
    child.ended, child.detail = "crashed", "died (exit code 1)"
    assert overall_status(child, scores) == ("crashed", "died (exit code 1)")


def test_all_not_implemented_is_its_own_status():
    calls = [call(f, 0, error="NotImplementedError") for f in
             ("detect_language", "language_detection_accuracy", "overlapping_transcription", "measure_throughput")]
    child = ChildOutputs(calls=calls, cells=[CellRecord(5, 0.1, "NotImplementedError", "", "", True)])
    scores = score_all(child, REFS, LABELS, REFERENCE_TEXT)
    assert [s.points for s in scores] == [0, 0, 0]
    assert overall_status(child, scores)[0] == "not implemented"


def test_captured_output_keeps_head_and_tail_only():
    sink = _CappedText(1000)
    for _ in range(1000):
        sink.feed(b"x" * 1000)
    text = sink.text()
    assert sink.total == 1_000_000 and len(text) < 1100 and "bytes of output cut" in text


def test_parameters_are_injected_after_the_parameters_cell(tmp_path):
    import nbformat

    new_code = nbformat.v4.new_code_cell
    parameters = new_code("QUICK = 0", metadata={"tags": ["parameters"]})
    nb = nbformat.v4.new_notebook(cells=[new_code("import os"), parameters, nbformat.v4.new_markdown_cell("text"),
                                         new_code("x = 1")])  # fmt: skip
    nbformat.write(nb, tmp_path / "a.ipynb")
    cells = notebook_cells(tmp_path / "a.ipynb", {"QUICK": True, "MODEL": "tiny.en"})
    injected = "# Parameters injected by the grader\nQUICK = True\nMODEL = 'tiny.en'\n"
    assert cells == ["import os", "QUICK = 0", injected, "x = 1"]


@pytest.mark.parametrize("content", ['{"cells": [', "[]", '{"cells": [{"cell_type": "code", "source": 5}]}'])
def test_broken_notebooks_are_invalid(tmp_path, content):
    path = tmp_path / "broken.ipynb"
    path.write_text(content)
    with pytest.raises(InvalidNotebook):
        notebook_cells(path, {})


def test_student_ids_from_files_and_folders(tmp_path):
    (tmp_path / "alice.ipynb").write_text("{}")
    (tmp_path / "bob" / "ps1").mkdir(parents=True)
    (tmp_path / "bob" / "ps1" / "19_exercises.ipynb").write_text("{}")
    (tmp_path / "bob" / ".ipynb_checkpoints").mkdir()
    (tmp_path / "bob" / ".ipynb_checkpoints" / "x.ipynb").write_text("{}")
    assert [(s.student_id, s.path.name) for s in discover(tmp_path)] == [("alice", "alice.ipynb"),
                                                                          ("bob", "19_exercises.ipynb")]  # fmt: skip


def row(student: str) -> Row:
    return Row(student, 10, 5, 0, 15, "ok", "", 1.0)


def test_rows_are_on_disk_as_they_finish_and_sorted_at_the_end(tmp_path):
    path = tmp_path / "grades.csv"
    grades = GradesFile(path)
    grades.add(row("zoe"))
    grades.add(row("adam"))
    assert [r["student_id"] for r in read_grades(path)] == ["zoe", "adam"]  # before finish(): crash-safe
    grades.finish()
    assert [r["student_id"] for r in read_grades(path)] == ["adam", "zoe"]
    GradesFile(path).finish()  # a re-run starts from an empty file
    assert read_grades(path) == []


class _FakeSandbox:
    staged = type("Staged", (), {"languages": LABELS})()


def test_a_failing_submission_becomes_a_row(tmp_path):
    notebook = tmp_path / "carol.ipynb"
    notebook.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))

    def broken_runner(*args, **kwargs):
        raise RuntimeError("grader bug")

    hidden = type("Hidden", (), {"longform_reference": REFERENCE_TEXT})()
    result, scores, _ = grade_one(Submission("carol", notebook), _FakeSandbox(), hidden, REFS, GradingConfig(),
                                  runner=broken_runner)  # fmt: skip
    assert (result.status, result.total) == ("grader error", 0)
    assert "RuntimeError: grader bug" in result.reason


def test_a_grader_crash_mid_batch_leaves_the_finished_rows(tmp_path):
    submissions = [Submission(name, tmp_path / f"{name}.ipynb") for name in ("a", "b", "c")]

    def grader(submission, run, config):
        if submission.student_id == "c":
            time.sleep(0.5)  # a and b are written first
            raise KeyboardInterrupt  # the grader itself dies
        return row(submission.student_id), [], None

    run = GradingRun(hidden=None, sandbox=None, references=REFS, private=tmp_path, owns_base=False)  # type: ignore[arg-type]
    config = GradingConfig(jobs=1, progress=False, feedback=tmp_path / "feedback")
    with pytest.raises(KeyboardInterrupt):
        grade_batch(submissions, tmp_path / "grades.csv", run, config, grader=grader)
    assert sorted(r["student_id"] for r in read_grades(tmp_path / "grades.csv")) == ["a", "b"]
