"""Student release: answers become stubs, solution-only cells go, the committed student notebook is current."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import nbformat
import pytest

from course_utils.grading.hidden import HELD_OUT_IDS
from course_utils.grading.release import MarkerError, release, stale, strip_solution, student_version

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "solutions" / "19_exercises.ipynb"
STUDENT = ROOT / "notebooks" / "19_exercises.ipynb"
CONTRACT = ("detect_language", "language_detection_accuracy", "overlapping_transcription", "measure_throughput")


def test_answer_inside_a_function_becomes_a_not_implemented_stub():
    source = 'def f(x):\n    """Doc."""\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n'
    stub = strip_solution(source)
    assert "return x + 1" not in stub
    assert '    raise NotImplementedError("write f(): replace this line with your code")' in stub
    namespace: dict = {}
    exec(stub, namespace)
    with pytest.raises(NotImplementedError):
        namespace["f"](1)


def test_top_level_answer_becomes_a_comment_so_the_cell_still_runs():
    stub = strip_solution("x = 1\n### BEGIN SOLUTION\ndef helper():\n    return 2\n### END SOLUTION\ny = 3")
    assert stub == "x = 1\n# YOUR CODE HERE\ny = 3"


@pytest.mark.parametrize("source", ["### BEGIN SOLUTION\nx = 1", "x = 1\n### END SOLUTION",
                                    "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION"])  # fmt: skip
def test_unpaired_markers_are_an_error(source):
    with pytest.raises(MarkerError):
        strip_solution(source)


def test_solution_only_cells_and_outputs_are_removed():
    solution = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("instructor note", metadata={"tags": ["solution-only"]}),
        nbformat.v4.new_code_cell("print(1)", execution_count=3,
                                  outputs=[nbformat.v4.new_output("stream", text="1\n")]),
    ])  # fmt: skip
    student = student_version(solution)
    assert [c.cell_type for c in student.cells] == ["code"]
    assert student.cells[0].outputs == [] and student.cells[0].execution_count is None


def test_release_writes_and_reports_changes(tmp_path):
    target = tmp_path / "student.ipynb"
    assert release(SOLUTION, target) is True
    assert release(SOLUTION, target) is False
    assert not stale(SOLUTION, target)
    target.write_text(target.read_text().replace("YOUR CODE HERE", "edited"))
    assert stale(SOLUTION, target)


def test_committed_student_notebook_is_current():
    assert not stale(SOLUTION, STUDENT), "notebooks/19_exercises.ipynb is stale: run `make student`"


def test_student_notebook_has_no_answers_and_every_stub():
    text = STUDENT.read_text()
    assert "BEGIN SOLUTION" not in text and "solution-only" not in text
    cells = [c.source for c in nbformat.read(STUDENT, as_version=4).cells if c.cell_type == "code"]
    for name in CONTRACT:
        assert any(f"def {name}(" in c and f"write {name}()" in c for c in cells), name


def test_solution_notebook_is_committed_clean_with_the_parameters_cell():
    notebook = json.loads(SOLUTION.read_text())
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    source = "".join(tagged[0]["source"])
    for name in ("MODEL =", "LID_MODEL =", "DEVICE =", "QUICK ="):
        assert name in source
    for name in CONTRACT:
        assert f"def {name}(" in "".join("".join(c["source"]) for c in code)


def test_no_notebook_names_a_held_out_clip():
    """The held-out ids grade students: the lesson, the solutions and the student version must not use them."""
    listed = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=ROOT, capture_output=True, text=True, check=True)
    notebooks = {ROOT / line for line in listed.stdout.split()} | {SOLUTION, STUDENT}
    pattern = re.compile("|".join(re.escape(i) for i in HELD_OUT_IDS))
    offenders = {str(p.relative_to(ROOT)): sorted(set(pattern.findall(p.read_text()))) for p in notebooks
                 if p.is_file() and "fixtures" not in p.parts and pattern.search(p.read_text())}  # fmt: skip
    assert not offenders, f"notebooks use held-out grading clips: {offenders}"


def test_fixture_submissions_follow_the_solution():
    """The hostile fixtures embed the solution's answers: rebuild them when the solution changes."""
    import importlib.util

    builder = ROOT / "tests" / "fixtures" / "submissions" / "make_fixtures.py"
    spec = importlib.util.spec_from_file_location("make_fixtures", builder)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    stale_fixtures = [name for name, nb in module.fixtures().items()
                      if (builder.parent / name).read_text() != module.render(nb)]  # fmt: skip
    assert not stale_fixtures, f"run `python {builder.relative_to(ROOT)}`: {stale_fixtures} are out of date"
