"""The headless notebook runner: parameters from the command line and the summary cell."""

from __future__ import annotations

import argparse

import nbformat
import pytest

from course_utils import runner


def test_parameters_are_python_literals_when_they_can_be():
    assert runner.parse_parameter("QUICK=True") == ("QUICK", True)
    assert runner.parse_parameter("LONG_AUDIO_S=90") == ("LONG_AUDIO_S", 90)
    assert runner.parse_parameter("COMPARE_MODELS=['tiny.en']") == ("COMPARE_MODELS", ["tiny.en"])
    assert runner.parse_parameter("MODEL=base") == ("MODEL", "base")
    with pytest.raises(argparse.ArgumentTypeError, match="NAME=VALUE"):
        runner.parse_parameter("QUICK")


def test_summary_is_the_stdout_of_tagged_cells_only():
    tagged = nbformat.v4.new_code_cell("print('x')", metadata={"tags": ["summary"]})
    tagged.outputs = [nbformat.v4.new_output("stream", name="stdout", text="RTF 0.1\n"),
                      nbformat.v4.new_output("stream", name="stderr", text="warning\n")]
    other = nbformat.v4.new_code_cell("print('y')")
    other.outputs = [nbformat.v4.new_output("stream", name="stdout", text="noise\n")]
    notebook = nbformat.v4.new_notebook(cells=[other, tagged])
    assert runner.summary_text(notebook) == "RTF 0.1"


def test_missing_notebook_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.ipynb"):
        runner.run_notebook(tmp_path / "nope.ipynb", tmp_path)


def test_run_notebook_executes_without_kernel_warnings_on_the_console(tmp_path, capfd):
    """The kernel talks over Unix sockets, so ipykernel has no TCP-without-encryption warning to print."""
    source = tmp_path / "tiny.ipynb"
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("print(6 * 7)")]
    nbformat.write(notebook, source)
    run = runner.run_notebook(source, tmp_path / "out", html=False, progress=False)
    executed = nbformat.read(run.notebook, as_version=4)
    assert executed.cells[0].outputs[0]["text"] == "42\n"
    assert "WARNING" not in capfd.readouterr().err
