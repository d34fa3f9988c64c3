"""Scoring and reports from synthetic child outputs: no model, no child process, fast."""

from __future__ import annotations

import json

import pytest

from course_utils.grading.batch import GradingConfig, GradingRun, grade_batch
from course_utils.grading.hidden import Answers
from course_utils.grading.records import CallRecord, CellRecord, ChildOutputs
from course_utils.grading.reference import References
from course_utils.grading.report import GradesFile, Row, read_grades
from course_utils.grading.score import overall_status, score_all, score_ex1, score_ex2, score_ex3
from course_utils.grading.submissions import InvalidNotebook, Submission, discover, notebook_cells
from course_utils.grading.watch import CappedText

LABELS = ["de", "fr", "en", "en"]
REFERENCE_TEXT = "a gold ring will please most any girl the long journey home took a year"
THROUGHPUT_TEXTS = ["many people don't think about them as dinosaurs", "twentieth century research has shown"]
REFS = References(key="k", lid_predictions=LABELS, lid_accuracy=1.0, overlap_wer=0.0, naive_wer=0.2,
                  reference_words=15, throughput_wer=0.0, throughput_words=13, audio_minutes=0.5)  # fmt: skip
ANSWERS = Answers(LABELS, REFERENCE_TEXT, THROUGHPUT_TEXTS)


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
                             "audio_minutes_per_compute_minute": 0.5 / (call_s / 60),
                             "transcripts": THROUGHPUT_TEXTS}  # fmt: skip
    calls += [call("measure_throughput", 0, numbers, seconds=call_s), call("measure_throughput", 1, numbers)]
    return ChildOutputs(calls=calls, labels_given=list(LABELS))


def totals(child: ChildOutputs) -> list[float]:
    return [s.points for s in score_all(child, REFS, ANSWERS)]


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
    numbers = {"audio_minutes": 0.5, "compute_minutes": 30.0, "audio_minutes_per_compute_minute": 0.5 / 30,
               "transcripts": THROUGHPUT_TEXTS}  # fmt: skip
    score = score_ex3(outputs(throughput=numbers), REFS, THROUGHPUT_TEXTS)
    assert score.points == 8
    assert "seconds instead of minutes" in score.checks[3].detail


@pytest.mark.parametrize("call_s", [0.5, 30.0, 600.0])
def test_ex3_honest_answers_score_full_marks_however_long_the_call_took(call_s):
    assert score_ex3(outputs(call_s=call_s), REFS, THROUGHPUT_TEXTS).points == 10  # a busy machine costs nothing


def test_ex3_compute_time_must_match_the_parents_clock():
    claims = {"audio_minutes": 0.5, "compute_minutes": 0.001, "audio_minutes_per_compute_minute": 500.0,
              "transcripts": THROUGHPUT_TEXTS}  # fmt: skip
    assert score_ex3(outputs(throughput=claims, call_s=30.0), REFS, THROUGHPUT_TEXTS).checks[3].points == 0
    longer = {**claims, "compute_minutes": 1.0, "audio_minutes_per_compute_minute": 0.5}
    assert score_ex3(outputs(throughput=longer, call_s=30.0), REFS, THROUGHPUT_TEXTS).checks[3].points == 0


@pytest.mark.parametrize("transcripts", [
    None, [], ["", ""], ["the quick brown fox", "jumps over the lazy dog"], THROUGHPUT_TEXTS[:1], [1, 2],
    [THROUGHPUT_TEXTS[1], ""],
])  # fmt: skip
def test_ex3_without_real_transcripts_scores_nothing(transcripts):
    """A sleeping or forged measure_throughput: plausible numbers, no transcription, 0 points."""
    claims = {"audio_minutes": 0.5, "compute_minutes": 0.5, "audio_minutes_per_compute_minute": 1.0}
    if transcripts is not None:
        claims["transcripts"] = transcripts
    assert score_ex3(outputs(throughput=claims, call_s=30.0), REFS, THROUGHPUT_TEXTS).points == 0


def test_ex1_report_is_checked_against_the_decoy_labels_it_was_given():
    child = outputs()
    decoys = ["fr", "fr", "de", "en"]
    child.labels_given = decoys
    confusion: dict = {}
    for t, p in zip(decoys, LABELS, strict=True):
        confusion.setdefault(t, {}).setdefault(p, 0)
        confusion[t][p] += 1
    per = {t: row.get(t, 0) / sum(row.values()) for t, row in confusion.items()}
    child.calls[4].value = {"overall": 0.5, "per_language": per, "confusion": confusion}
    assert score_ex1(child, REFS, LABELS).points == 10
    child.calls[4].value = report(LABELS)  # the true labels' report: the child never had them
    assert score_ex1(child, REFS, LABELS).points == 7


def test_status_priorities():
    child = outputs()
    scores = score_all(child, REFS, ANSWERS)
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
    scores = score_all(child, REFS, ANSWERS)
    assert [s.points for s in scores] == [0, 0, 0]
    assert overall_status(child, scores)[0] == "not implemented"


def test_captured_output_keeps_head_and_tail_only():
    sink = CappedText(1000)
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
    assert [r.student_id for r in GradesFile(path, resume=True).rows] == ["adam", "zoe"]
    GradesFile(path).finish()  # a re-run starts from an empty file
    assert read_grades(path) == []


def test_csv_cells_cannot_start_a_formula_or_carry_control_characters(tmp_path):
    grades = GradesFile(tmp_path / "grades.csv")
    grades.add(Row("x", 0, 0, 0, 0, "error", '=HYPERLINK("http://x")\r\n\x1b[2J caf\udce9', 1.0))
    reason = read_grades(tmp_path / "grades.csv")[0]["reason"]
    assert reason.startswith("'=") and "\x1b" not in reason and "\n" not in reason and "\ufffd" in reason


class _FakePool:
    """Runs nothing: returns canned outputs (or raises) per submission, in submission order."""

    def __init__(self, results):
        self.results, self.futures = list(results), []

    def submit(self, cells, labels):
        from concurrent.futures import Future

        future, result = Future(), self.results.pop(0)
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)
        self.futures.append(future)
        return future

    def as_completed(self, futures):
        return iter(futures)

    def close(self):
        pass


def _run():
    staged = type("Staged", (), {"lid": LABELS, "fingerprint": lambda self: "f"})()
    return GradingRun(staged=staged, answers=ANSWERS, references=REFS, secret_hashes=[], hidden_ids=[],
                      sandbox=None, private=None)  # type: ignore[arg-type]


def _notebook(path):
    path.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_every_failure_becomes_a_row_and_the_rest_are_graded(tmp_path):
    """A crashing runner, a lone surrogate in an error message, a refused file, an invalid notebook: all rows."""
    names = ["a", "b", "c", "d", "e"]
    found = [Submission(n, _notebook(tmp_path / f"{n}.ipynb")) for n in names]
    (tmp_path / "d.ipynb").write_text('{"cells": [')
    found[4].refused = "refused: e.ipynb is a symbolic link"
    surrogate = ChildOutputs(cells=[CellRecord(0, 1.0, "ValueError", "caf\udce9.wav \x1b[31m", "tb \udce9", True)],
                             output="printed caf\udce9 \x1b]0;title\x07")  # fmt: skip
    pool = _FakePool([RuntimeError("grader bug \udce9"), surrogate, outputs()])
    config = GradingConfig(jobs=1, progress=False, feedback=tmp_path / "feedback")
    rows = {r.student_id: r for r in grade_batch(found, tmp_path / "grades.csv", _run(), config, pool=pool)}
    assert sorted(rows) == names
    assert (rows["a"].status, rows["a"].total) == ("grader error", 0) and "RuntimeError" in rows["a"].reason
    assert rows["b"].status == "error" and "ValueError" in rows["b"].reason
    assert rows["c"].total == 30
    assert rows["d"].status == "invalid notebook" and rows["e"].status == "refused"
    on_disk = read_grades(tmp_path / "grades.csv")
    assert [r["student_id"] for r in on_disk] == names
    for name in names:
        text = (tmp_path / "feedback" / f"{name}.md").read_text(encoding="utf-8")
        assert "\x1b" not in text and "\udce9" not in text
    assert "\ufffd" in (tmp_path / "feedback" / "b.md").read_text(encoding="utf-8")


def test_resume_keeps_finished_rows_and_grades_the_rest(tmp_path):
    found = [Submission(n, _notebook(tmp_path / f"{n}.ipynb")) for n in ("a", "b", "c")]
    config = GradingConfig(jobs=1, progress=False, feedback=tmp_path / "feedback")
    out = tmp_path / "grades.csv"
    grade_batch(found, out, _run(), config, pool=_FakePool([outputs(), RuntimeError("lost"), outputs()]))
    config.resume = True
    pool = _FakePool([outputs()])  # only b is graded again (its grader error is retried)
    rows = grade_batch(found, out, _run(), config, pool=pool)
    assert len(pool.futures) == 1
    assert [(r.student_id, r.total) for r in rows] == [("a", 30), ("b", 30), ("c", 30)]


def test_a_grader_crash_mid_batch_leaves_the_finished_rows(tmp_path):
    found = [Submission(n, _notebook(tmp_path / f"{n}.ipynb")) for n in ("a", "b", "c")]

    class Dying(_FakePool):
        def as_completed(self, futures):
            yield from futures[:2]
            raise KeyboardInterrupt  # the grader itself dies

    config = GradingConfig(jobs=1, progress=False, feedback=tmp_path / "feedback")
    with pytest.raises(KeyboardInterrupt):
        grade_batch(found, tmp_path / "grades.csv", _run(), config, pool=Dying([outputs()] * 3))
    assert sorted(r["student_id"] for r in read_grades(tmp_path / "grades.csv")) == ["a", "b"]
