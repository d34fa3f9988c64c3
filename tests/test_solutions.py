"""The solution notebooks run top to bottom under papermill in QUICK mode (``make solutions`` runs them fully)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from course_utils.runner import run_notebook

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
QUICK = {"QUICK": True, "MODEL": "tiny.en", "LID_MODEL": "base", "DEVICE": "cpu"}


@pytest.mark.slow
@pytest.mark.corpus
@pytest.mark.parametrize("solution", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_solution_runs_in_quick_mode(solution, tmp_path):
    run = run_notebook(solution, tmp_path, QUICK, html=False, progress=False)
    executed = nbformat.read(run.notebook, as_version=4)
    errors = [o for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]  # fmt: skip
    assert not errors
    figures = sum("image/png" in o.get("data", {}) for c in executed.cells for o in c.get("outputs", []))
    assert figures >= 3, "confusion matrix, boundary losses and throughput bars"
    accuracy = re.search(r"language ID accuracy: (\d+)%", run.summary)
    assert accuracy and int(accuracy.group(1)) >= 70, run.summary
    wers = re.search(r"WER naive ([\d.]+)% vs overlapping ([\d.]+)%", run.summary)
    assert wers and float(wers.group(2)) <= float(wers.group(1)) + 5, run.summary
    assert run.summary.count("audio min per compute min") == 3, run.summary
