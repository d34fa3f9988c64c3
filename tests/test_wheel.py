"""A wheel-only run, as Colab does it: the package and its lesson data come from the wheel, nothing else.

The wheel is built from a copy of the sources and installed into a fresh virtual environment. To spare
re-installing PyTorch, that environment sees the project environment's site-packages through a ``.pth`` line
(like ``--system-site-packages``): the dependencies and the offline weights of the ``offline`` extra come from
there, ``course_utils`` itself from the wheel (checked). Only the lesson notebook is copied into an empty
folder, with no ``COURSE_SPEECH_DIR`` and no ``../shared`` next to it, and run with QUICK parameters.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from course_utils.grading import HELD_OUT_IDS

ROOT = Path(__file__).resolve().parent.parent
LESSON = ROOT / "notebooks" / "19_asr_with_whisper.ipynb"
QUICK = ["-p", "QUICK=True", "-p", "COMPARE_MODELS=['tiny.en']"]  # the short run; one model in the comparison
LESSON_TIMEOUT_S = 2400  # ~2 min on 2 idle cores; 18 min measured on a 2-core machine at load average 18

pytestmark = pytest.mark.slow


def _run(command: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess:
    """Run a command in its own process group (a timeout stops its kernels too); a failure shows its output."""
    shown = " ".join(map(str, command))
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True, **kwargs) as process:  # fmt: skip
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            pytest.fail(f"{shown} took more than {timeout:.0f} s:\n{stdout[-3000:]}\n{stderr[-3000:]}")
    if process.returncode != 0:
        pytest.fail(f"{shown} failed:\n{stdout[-3000:]}\n{stderr[-3000:]}")
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built from a copy of pyproject.toml, README.md and course_utils/ (not in the checkout)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "course_utils", src / "course_utils", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
          "-w", str(tmp / "dist"), str(src)], timeout=300)  # fmt: skip
    (built,) = (tmp / "dist").glob("course_utils_whisper-*.whl")
    return built


def test_wheel_ships_the_lesson_data_and_no_held_out_clip(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        manifest = archive.read("course_utils/lesson_data/manifest.csv").decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(manifest)))
    assert "course_utils/lesson_data/ATTRIBUTION.md" in names
    assert {f"course_utils/lesson_data/{row['file']}" for row in rows} <= names, "manifest rows without audio"
    assert {"jfk", "ljspeech-LJ001-0001", "fleurs-de-000"} <= {row["id"] for row in rows}
    held_out = set(HELD_OUT_IDS)
    assert not held_out & {row["id"] for row in rows}
    assert not [name for name in names if Path(name).stem in held_out]
    assert wheel.stat().st_size < 12e6


def test_lesson_runs_from_the_wheel_alone(wheel, tmp_path):
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], timeout=120)
    python = venv / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     timeout=60).stdout.strip())  # fmt: skip
    project_site = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "project_dependencies.pth").write_text("\n".join(sorted(project_site)) + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", "--no-index",
          "--ignore-installed", str(wheel)], timeout=300)  # fmt: skip

    work = tmp_path / "work"  # an empty folder with nothing but the notebook: no ../shared, no checkout
    work.mkdir()
    shutil.copy(LESSON, work / LESSON.name)
    env = {key: value for key, value in os.environ.items()
           if key not in ("COURSE_SPEECH_DIR", "PYTHONPATH", "VIRTUAL_ENV", "JUPYTER_PATH", "MPLBACKEND")}  # fmt: skip
    env.update(JUPYTER_DATA_DIR=str(tmp_path / "jupyter"), COURSE_UTILS_OFFLINE="1",
               PATH=f"{venv / 'bin'}:{env['PATH']}")
    where = _run([str(python), "-c", "import course_utils, course_utils.corpus as c; d = c.default_corpus(); "
                  "print(course_utils.__file__); print(d.folder); print(d.is_lesson_data)"],
                 timeout=300, cwd=work, env=env).stdout.split("\n")  # fmt: skip
    assert where[0].startswith(str(site)), f"course_utils imported from {where[0]}, not from the wheel"
    assert where[1].startswith(str(site)) and where[2] == "True", f"default corpus: {where[1]}"

    # --no-html: nbconvert's templates are data files of the project venv, outside this one's prefix
    _run([str(python), "-m", "course_utils.runner", LESSON.name, "--out", "out", *QUICK, "--no-html"],
         timeout=LESSON_TIMEOUT_S, cwd=work, env=env)  # fmt: skip
    executed = json.loads((work / "out" / LESSON.name).read_text(encoding="utf-8"))
    errors = [output for cell in executed["cells"] for output in cell.get("outputs", [])
              if output.get("output_type") == "error"]  # fmt: skip
    assert not errors, errors[0]
    text = json.dumps(executed)
    assert "ask not what your country" in text.lower()
    assert not re.search(r"\.\./shared|COURSE_SPEECH_DIR=", text)
