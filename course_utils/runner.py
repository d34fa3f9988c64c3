"""Run a lesson or solution notebook headless with papermill, export HTML, and print its summary cell.

``python -m course_utils.runner notebooks/19_asr_with_whisper.ipynb --out build -p QUICK True`` is what
``make lesson`` calls. The cell tagged ``summary`` prints the run's key numbers; they are echoed at the end.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .settings import HEADLESS_ENV

SUMMARY_TAG = "summary"


@dataclass
class NotebookRun:
    """Where an executed notebook went, how long it took, and what its summary cell printed."""

    notebook: Path
    html: Path | None
    seconds: float
    summary: str


def parse_parameter(text: str) -> tuple[str, object]:
    """``NAME=VALUE`` from the command line, VALUE read as a Python literal when it is one (``True``, ``3``)."""
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"parameter {text!r} must look like NAME=VALUE, e.g. QUICK=True")
    try:
        return name, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name, value


def summary_text(notebook: nbformat.NotebookNode) -> str:
    """The stdout of the cells tagged ``summary`` (empty when the notebook has none)."""
    lines = []
    for cell in notebook.cells:
        if cell.cell_type == "code" and SUMMARY_TAG in cell.get("metadata", {}).get("tags", []):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "stream" and output.get("name") == "stdout":
                    lines.append(output.get("text", ""))
    return "".join(lines).strip()


def export_html(notebook_path: Path) -> Path:
    """Write ``<notebook>.html`` beside the executed notebook (nbconvert's classic HTML exporter)."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_filename(str(notebook_path))
    html_path = notebook_path.with_suffix(".html")
    html_path.write_text(body, encoding="utf-8")
    return html_path


def _ipc_kernel_manager() -> type:
    """A kernel manager talking to its kernel over local Unix sockets: nothing listens on TCP, and the kernel
    has no reason to print ipykernel's "running over TCP without encryption" warning on every run."""
    from jupyter_client.manager import AsyncKernelManager

    class IpcKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: object) -> None:
            kwargs.setdefault("transport", "ipc")
            super().__init__(**kwargs)

    return IpcKernelManager


def run_notebook(source: str | Path, out_dir: str | Path = "build", parameters: dict | None = None,
                 html: bool = True, cell_timeout_s: int = 1200, progress: bool = True) -> NotebookRun:
    """Execute ``source`` with papermill into ``out_dir`` (same file name), then export HTML."""
    import papermill

    source, out_dir = Path(source), Path(out_dir)
    if not source.is_file():
        raise FileNotFoundError(f"Notebook {source} does not exist.")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / source.name
    os.environ.setdefault(HEADLESS_ENV, "1")  # widgets show a static note instead of waiting for clicks
    start = time.perf_counter()
    papermill.execute_notebook(
        str(source), str(target), parameters=parameters or {}, kernel_name="python3",
        progress_bar=progress, execution_timeout=cell_timeout_s, cwd=str(source.parent),
        kernel_manager_class=_ipc_kernel_manager(),
    )
    seconds = time.perf_counter() - start
    html_path = export_html(target) if html else None
    return NotebookRun(target, html_path, seconds, summary_text(nbformat.read(target, as_version=4)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.runner", description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--out", type=Path, default=Path("build"), help="output folder (default: build)")
    parser.add_argument("-p", "--parameter", action="append", type=parse_parameter, default=[],
                        metavar="NAME=VALUE", help="papermill parameter, e.g. -p QUICK=True (repeatable)")
    parser.add_argument("--no-html", action="store_true", help="skip the HTML export")
    args = parser.parse_args(argv)
    run = run_notebook(args.notebook, args.out, dict(args.parameter), html=not args.no_html)
    print(f"\nExecuted notebook: {run.notebook}")
    if run.html:
        print(f"HTML export:       {run.html}")
    print(f"Execution time:    {run.seconds:.0f} s")
    if run.summary:
        print("\n" + run.summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
