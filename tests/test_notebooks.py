"""The lesson notebook: committed without outputs, and every cell runs under nbval with quick parameters."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill
import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSON = ROOT / "notebooks" / "19_asr_with_whisper.ipynb"
QUICK_PARAMETERS = {"QUICK": True, "MODEL": "tiny.en", "COMPARE_MODELS": ["tiny.en", "base"]}  # = conftest's


def committed_notebooks() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=ROOT, capture_output=True, text=True, check=True)
    return [ROOT / line for line in listed.stdout.split()]


def cells_with_outputs(path: Path) -> list[int]:
    """Indices of code cells that carry outputs or execution counts."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    return [i for i, cell in enumerate(notebook["cells"])
            if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count"))]


def test_committed_notebooks_carry_no_outputs():
    notebooks = committed_notebooks()
    assert LESSON in notebooks, "the lesson notebook must be committed"
    dirty = {str(p.relative_to(ROOT)): cells_with_outputs(p) for p in notebooks if cells_with_outputs(p)}
    assert not dirty, f"strip outputs before committing (nbstripout or Edit > Clear All Outputs): {dirty}"


def test_output_check_detects_outputs(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1", execution_count=1)])
    nbformat.write(notebook, tmp_path / "dirty.ipynb")
    assert cells_with_outputs(tmp_path / "dirty.ipynb") == [0]


def test_lesson_has_a_parameters_cell_with_the_documented_names():
    notebook = nbformat.read(LESSON, as_version=4)
    tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    for name in ("MODEL", "COMPARE_MODELS", "DEVICE", "LONG_AUDIO_S", "QUICK"):
        assert f"{name} =" in tagged[0].source


@pytest.mark.slow
@pytest.mark.corpus
def test_lesson_runs_under_nbval_with_quick_parameters(tmp_path):
    prepared = tmp_path / LESSON.name
    papermill.execute_notebook(str(LESSON), str(prepared), parameters=QUICK_PARAMETERS, prepare_only=True)
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # the notebook's own inline backend
    env["COURSE_HEADLESS"] = "1"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "--current-env", "-p", "no:cacheprovider", "-q",
         "--nbval-cell-timeout", "600", str(prepared)],
        cwd=LESSON.parent, env=env, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.corpus
def test_lesson_shows_its_figures_without_warnings_and_prints_a_summary(lesson_run):
    executed = nbformat.read(lesson_run.notebook, as_version=4)
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    warnings = [o["text"] for o in outputs if o.get("name") == "stderr" and "Warning" in o.get("text", "")]
    assert not warnings, warnings
    figures = sum("image/png" in o.get("data", {}) for o in outputs)
    assert figures >= 10, f"only {figures} figures rendered"
    assert "JFK transcribed as" in lesson_run.summary and "WER" in lesson_run.summary
    assert "What this run shows" in lesson_run.summary


@pytest.mark.slow
@pytest.mark.corpus
def test_lesson_prints_no_raw_dataclass_reprs(lesson_run):
    """Result objects show as tables or one-line summaries, never as Name(field=0.37995573300003116, ...)."""
    executed = nbformat.read(lesson_run.notebook, as_version=4)
    texts = [o.get("data", {}).get("text/plain", "") + o.get("text", "")
             for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    raw = [t[:120] for t in texts if re.search(r"\b[A-Z]\w+\(\w+=", t) or re.search(r"\d\.\d{7,}", t)]
    assert not raw, raw
