"""The grader's own torch and Whisper work (staging models, reference results), run in a fresh Python process.

The grader's parent reads notebooks, follows children, scores text and writes rows: it never imports torch or
Whisper, so it stays small (under 300 MB, tested) however a submission behaves. What needs a model runs in a
helper process (``offload.main`` in a new interpreter): this package's trusted code, as the same user, with
the request as JSON on its stdin (never on disk, never in a child's reach) and its answer as JSON in a private
folder. An error there is raised again in the parent with the same built-in type and message.
"""

from __future__ import annotations

import builtins
import importlib
import json
import os
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

TASKS = {  # name → the function that does it in the helper process (JSON in, JSON out)
    "stage_models": "course_utils.grading.sandbox:stage_models",
    "references": "course_utils.grading.reference:references_task",
}


def _stderr_fd() -> int | None:
    """Where the helper's output goes: the grader's stderr when it has a file descriptor, else inherited."""
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def _raise_again(error: dict[str, Any], task: str) -> None:
    """Raise the helper's error in this process: its first built-in base class, the same message."""
    kinds = [getattr(builtins, name, None) for name in error.get("bases", [])]
    kind = next((k for k in kinds if isinstance(k, type) and issubclass(k, Exception)), RuntimeError)
    message = error.get("message", "")
    if error.get("type") != kind.__name__:
        message = f"{error.get('type')}: {message}"
    print(f"[grading] {task} failed in its helper process:\n{error.get('traceback', '')}", file=sys.stderr)
    raise kind(message)


def run_offloaded(task: str, arguments: dict[str, Any], timeout_s: float | None = None) -> Any:
    """Run `task` (one of ``TASKS``) in a fresh Python with `arguments`; return its JSON result."""
    if task not in TASKS:
        raise ValueError(f"unknown offloaded task {task!r}; expected one of {', '.join(TASKS)}")
    package_root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
    with tempfile.TemporaryDirectory(prefix="course_grading_offload_") as folder:  # 0700
        result = Path(folder) / "result.json"
        request = json.dumps({"task": task, "arguments": arguments, "result": str(result)})
        command = [sys.executable, "-c", f"import {__name__} as m; raise SystemExit(m.main())"]  # not -m: runpy
        completed = subprocess.run(command, input=request, text=True, env=env,
                                   stdout=_stderr_fd(), timeout=timeout_s, check=False)  # fmt: skip
        if not result.is_file():
            raise RuntimeError(f"the grader's {task} helper process ended with exit code {completed.returncode} "
                               "and no result (see the messages above)")  # fmt: skip
        answer = json.loads(result.read_text(encoding="utf-8"))
    if "error" in answer:
        _raise_again(answer["error"], task)
    return answer["value"]


def _run(task: str, arguments: dict[str, Any]) -> Any:
    """The helper process's side: call the task's function here (imported only in this process)."""
    module, function = TASKS[task].split(":")
    return getattr(importlib.import_module(module), function)(**arguments)


def main() -> int:
    """Read one request from stdin, do it, write the result (or the error) where the request says."""
    request = json.loads(sys.stdin.read())
    try:
        answer: dict[str, Any] = {"value": _run(request["task"], request["arguments"])}
        code = 0
    except Exception as error:  # noqa: BLE001 (every error goes back to the parent, which raises it)
        bases = [kind.__name__ for kind in type(error).__mro__ if kind.__module__ == "builtins"]
        answer = {"error": {"type": type(error).__name__, "bases": bases, "message": str(error),
                            "traceback": traceback.format_exc()}}  # fmt: skip
        code = 1
    Path(request["result"]).write_text(json.dumps(answer), encoding="utf-8")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
