"""Student notebooks from solution notebooks: one source (``solutions/``), two releases.

Answer code sits between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` lines (nbgrader's markers). Inside a
function the region becomes ``raise NotImplementedError(...)``; at the top level of a cell (helper code) it
becomes a ``# YOUR CODE HERE`` comment. Cells tagged ``solution-only`` are dropped, outputs and execution
counts are stripped. ``python -m course_utils.grading.release solutions --out notebooks [--check]``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
SOLUTION_ONLY_TAG = "solution-only"
_DEF = re.compile(r"^\s*def\s+(\w+)\s*\(")


class MarkerError(ValueError):
    """BEGIN/END SOLUTION markers that do not pair up."""


def strip_solution(source: str, where: str = "cell") -> str:
    """Replace every marked answer region in a cell's source with a stub."""
    lines, out = source.splitlines(), []
    inside, function = False, ""
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if (match := _DEF.match(line)) and not inside:
            function = match.group(1)
        if stripped == BEGIN:
            if inside:
                raise MarkerError(f"{where}, line {number}: {BEGIN} inside another solution region")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}# YOUR CODE HERE")
            if indent:
                what = f"write {function}()" if function else "write this part"
                out.append(f'{indent}raise NotImplementedError("{what}: replace this line with your code")')
        elif stripped == END:
            if not inside:
                raise MarkerError(f"{where}, line {number}: {END} without a {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise MarkerError(f"{where}: {BEGIN} without an {END}")
    return "\n".join(out)


def student_version(solution: nbformat.NotebookNode, name: str = "notebook") -> nbformat.NotebookNode:
    """The student notebook: answers stubbed, solution-only cells dropped, no outputs, no run metadata."""
    student = nbformat.v4.new_notebook(metadata={k: v for k, v in solution.metadata.items() if k != "papermill"})
    student.nbformat, student.nbformat_minor = solution.nbformat, solution.nbformat_minor
    for index, cell in enumerate(solution.cells):
        if SOLUTION_ONLY_TAG in cell.metadata.get("tags", []):
            continue
        copy = nbformat.from_dict(dict(cell))
        copy.metadata = {k: v for k, v in cell.metadata.items() if k in ("tags", "editable", "deletable")}
        if copy.cell_type == "code":
            copy.source = strip_solution(cell.source, f"{name} cell {index + 1}")
            copy.outputs, copy.execution_count = [], None
        student.cells.append(copy)
    return student


def render(notebook: nbformat.NotebookNode) -> str:
    """The exact text written to disk (so staleness is a string comparison)."""
    return nbformat.writes(notebook) + "\n"


def release(solution_path: Path, student_path: Path) -> bool:
    """Write the student version of one solution notebook; True when the file changed."""
    text = render(student_version(nbformat.read(solution_path, as_version=4), solution_path.name))
    if student_path.is_file() and student_path.read_text(encoding="utf-8") == text:
        return False
    student_path.parent.mkdir(parents=True, exist_ok=True)
    student_path.write_text(text, encoding="utf-8")
    return True


def stale(solution_path: Path, student_path: Path) -> bool:
    """True when the committed student notebook differs from what ``release`` would write now."""
    text = render(student_version(nbformat.read(solution_path, as_version=4), solution_path.name))
    return not student_path.is_file() or student_path.read_text(encoding="utf-8") != text


def solution_notebooks(source: Path) -> list[Path]:
    return sorted(source.glob("*.ipynb")) if source.is_dir() else [source]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.grading.release", description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="a solution notebook or the solutions/ folder")
    parser.add_argument("--out", type=Path, default=Path("notebooks"), help="folder for the student notebooks")
    parser.add_argument("--check", action="store_true", help="only report stale student notebooks (exit 1)")
    args = parser.parse_args(argv)
    notebooks = solution_notebooks(args.source)
    if not notebooks:
        print(f"error: no solution notebooks in {args.source}", file=sys.stderr)
        return 2
    outdated = []
    for path in notebooks:
        target = args.out / path.name
        if args.check:
            if stale(path, target):
                outdated.append(target)
        elif release(path, target):
            print(f"wrote {target}")
        else:
            print(f"{target} is up to date")
    if outdated:
        print(f"stale: {', '.join(map(str, outdated))}; run `make student`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
