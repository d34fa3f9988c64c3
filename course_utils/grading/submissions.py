"""Finding submissions in a folder and reading their code cells, refusing what is not a student's own file.

Ids come from file names (``alice.ipynb``) or the student's folder (``alice/ps1/19_exercises.ipynb``), made
file-name safe *before* they are made unique: two names that sanitise (or case-fold) to the same id get
suffixes ``-2``, ``-3`` and a warning, never a shared row or an overwritten feedback file. Symbolic links,
folders named like notebooks, devices, FIFOs and second hard links to one file are refused with their own row.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .sanitize import clean_text, safe_id

MAX_NOTEBOOK_BYTES = 50 << 20
MAX_CODE_CELLS = 50_000  # bounds what the grader records per submission; 10,001 harmless cells are fine
PARAMETERS_TAG = "parameters"
CHECKPOINTS = ".ipynb_checkpoints"


@dataclass
class Submission:
    """One notebook to grade; `refused` says why it is not run (its row says so), `warning` goes in its row."""

    student_id: str
    path: Path
    refused: str = ""
    warning: str = ""


class InvalidNotebook(ValueError):
    """The file is not a notebook the grader can run (not JSON, not nbformat, too large, not a regular file)."""


def _candidates(folder: Path) -> list[tuple[Path, str]]:
    """(path, reason it is refused or '') for every notebook-like entry below `folder`, without following links."""
    found: list[tuple[Path, str]] = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        here = Path(root)
        for name in sorted(dirs):
            path = here / name
            if name == CHECKPOINTS:
                dirs.remove(name)
            elif path.is_symlink():
                found.append((path, f"refused: {name} is a symbolic link to a folder (grade the real folder)"))
            elif name.endswith(".ipynb"):
                dirs.remove(name)
                found.append((path, f"refused: {name} is a folder, not a notebook file"))
        dirs.sort()
        for name in sorted(files):
            if not name.endswith(".ipynb"):
                continue
            path = here / name
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                found.append((path, f"refused: {name} is a symbolic link, not a notebook file (grade the original)"))
            elif not stat.S_ISREG(mode):
                found.append((path, f"refused: {name} is not a regular file"))
            else:
                found.append((path, ""))
    return sorted(found)


def discover(folder: Path) -> list[Submission]:
    """Every ``*.ipynb`` below `folder` (checkpoints skipped) as a submission with a unique, safe id."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"submissions folder {folder} does not exist; pass the folder of .ipynb files")
    submissions, taken, inodes = [], set(), {}
    for path, refused in _candidates(folder):
        parts = path.relative_to(folder).parts
        base = safe_id(parts[0] if len(parts) > 1 else Path(parts[0]).stem)
        student_id, number = base, 1
        while student_id.casefold() in taken:
            number += 1
            student_id = f"{base}-{number}"
        taken.add(student_id.casefold())
        relative = clean_text(str(path.relative_to(folder)), keep_newlines=False)
        warning = "" if student_id == base else (
            f"warning: id {base!r} was taken by another submission, so {relative!r} is graded as {student_id!r}")
        if not refused:
            info = path.lstat()
            other = inodes.setdefault((info.st_dev, info.st_ino), student_id)
            if other != student_id:
                refused = f"refused: {relative} is a hard link to {other}'s notebook (the same file)"
        submissions.append(Submission(student_id, path, refused, warning))
    return submissions


def read_notebook_text(path: Path) -> str:
    """The file's text, opened without following a link and only if it is a regular file of sane size."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise InvalidNotebook(f"cannot open the notebook ({error.strerror})") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise InvalidNotebook("not a regular file")
        if info.st_size > MAX_NOTEBOOK_BYTES:
            raise InvalidNotebook(f"the notebook is {info.st_size >> 20} MB; clear its outputs and resubmit")
        data = f.read(MAX_NOTEBOOK_BYTES + 1)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidNotebook(f"not UTF-8 text (byte {error.start})") from None


def _tags(cell: dict) -> list[str]:
    metadata = cell.get("metadata")
    tags = metadata.get("tags") if isinstance(metadata, dict) else None
    return [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else []


def notebook_cells(path: Path, parameters: dict) -> list[str]:
    """The code cells to run, with the grader's parameters injected after the ``parameters`` cell (papermill)."""
    text = read_notebook_text(path)
    try:
        raw = json.loads(text)
        if not isinstance(raw, dict) or not isinstance(raw.get("nbformat"), int):
            raise ValueError("no nbformat version: this is JSON, but not a Jupyter notebook")
        notebook = nbformat.reads(text, as_version=4)
        cells = [(c.get("source", ""), _tags(c)) for c in notebook.get("cells", [])
                 if isinstance(c, dict) and c.get("cell_type") == "code"]  # fmt: skip
        if not all(isinstance(source, str) for source, _ in cells):
            raise TypeError("a code cell's source is not text")
    except Exception as error:  # nbformat raises many types for broken files; deep nesting: RecursionError
        lines = clean_text(error).strip().splitlines()
        raise InvalidNotebook(f"not a valid notebook ({type(error).__name__}: {lines[0][:200] if lines else ''})"
                              ) from None  # fmt: skip
    if len(cells) > MAX_CODE_CELLS:
        raise InvalidNotebook(f"{len(cells)} code cells (at most {MAX_CODE_CELLS}); merge cells and resubmit")
    injected = "# Parameters injected by the grader\n" + "".join(
        f"{name} = {value!r}\n" for name, value in parameters.items())  # fmt: skip
    sources = [source for source, _ in cells]
    tagged = [i for i, (_, tags) in enumerate(cells) if PARAMETERS_TAG in tags]
    position = tagged[0] + 1 if tagged else 0
    return sources[:position] + [injected] + sources[position:]
