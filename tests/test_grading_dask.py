"""Grading on a Dask cluster gives the same CSV as grading here: a local `dask scheduler` and two `dask worker`
processes on 127.0.0.1 (free ports, bounded in time, stopped afterwards) grade eight quick submissions.

The submissions are chosen to be cheap (no transcription): the untouched student version, an empty notebook,
invalid JSON, a link, a sleeping Ex. 3 and three channel attacks. Every child still loads both grading models.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_grading import EMPTY_NOTEBOOK, FIXTURES, ROOT, hidden_set  # tests/ is on sys.path (pytest rootdir)

from course_utils.grading.report import read_grades

pytestmark = [pytest.mark.slow, pytest.mark.corpus]
DASK = Path(sys.executable).with_name("dask")
START_TIMEOUT_S = 120


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """tcp://127.0.0.1:PORT with two single-thread workers; every process is stopped at the end."""
    from distributed import Client

    logs = tmp_path_factory.mktemp("dask_logs")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    common = {"cwd": ROOT, "stdin": subprocess.DEVNULL}
    processes = [subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                   "--no-dashboard"], stdout=open(logs / "scheduler.log", "wb"),
                                  stderr=subprocess.STDOUT, **common)]  # fmt: skip
    try:
        for i in range(2):
            processes.append(subprocess.Popen(
                [str(DASK), "worker", address, "--nthreads", "1", "--nworkers", "1", "--host", "127.0.0.1",
                 "--no-dashboard", "--memory-limit", "0", "--name", f"grader-{i}"],
                stdout=open(logs / f"worker-{i}.log", "wb"), stderr=subprocess.STDOUT, **common,
            ))  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with Client(address, timeout="10s") as client:
                    client.wait_for_workers(2, timeout=max(1, deadline - time.monotonic()))
                break
            except (OSError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        yield address
    finally:
        _stop(processes[1:])
        _stop(processes[:1])


def _submissions(folder: Path) -> Path:
    folder.mkdir()
    for name in ("sleep_ex3", "deep_json", "flood_channel", "forge_channel"):
        shutil.copy(FIXTURES / f"{name}.ipynb", folder / f"{name}.ipynb")
    shutil.copy(ROOT / "notebooks" / "19_exercises.ipynb", folder / "student.ipynb")
    shutil.copy(FIXTURES / "invalid_json.txt", folder / "invalid_json.ipynb")
    (folder / "empty.ipynb").write_text(EMPTY_NOTEBOOK, encoding="utf-8")
    (folder / "linked.ipynb").symlink_to(folder / "empty.ipynb")
    return folder


def _grade(submissions: Path, out: Path, hidden: Path, *extra: str) -> tuple[list[dict], float]:
    command = [sys.executable, "-m", "course_utils.grading", str(submissions), "--out", str(out), "-j", "2",
               "--hidden", str(hidden), "--timeout", "120", "--wall-timeout", "600", *extra]  # fmt: skip
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, timeout=1500, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-5000:]
    return read_grades(out), time.monotonic() - started


def test_a_dask_cluster_grades_like_the_local_pool(cluster, tmp_path):
    hidden = hidden_set(tmp_path / "hidden")
    submissions = _submissions(tmp_path / "submissions")
    local, local_s = _grade(submissions, tmp_path / "local" / "grades.csv", hidden)
    (tmp_path / "dask").mkdir()
    shutil.copy(tmp_path / "local" / "grades.references.json", tmp_path / "dask" / "grades.references.json")
    remote, remote_s = _grade(submissions, tmp_path / "dask" / "grades.csv", hidden, "--scheduler", cluster)
    print(f"8 submissions: local pool (-j 2) {local_s:.0f} s, Dask with 2 workers {remote_s:.0f} s")

    def comparable(rows: list[dict]) -> list[dict]:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]  # wall time differs, nothing else

    assert len(local) == 8
    assert comparable(remote) == comparable(local)
    assert {row["student_id"]: row["status"] for row in remote}["linked"] == "refused"
    assert (tmp_path / "dask" / "feedback" / "deep_json.md").is_file()
