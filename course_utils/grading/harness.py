"""Inside the locked-down child: run the notebook's code cells, call the exercise functions, report raw outputs.

Runs after ``lockdown`` (see ``supervisor.child_main``). Cells run in an IPython shell (magics, ``display``,
``sys.exit()`` handled as in Jupyter), each under a soft timeout; errors are recorded and execution goes on,
as nbgrader does. Then each exercise function is called on the staged hidden audio and its return value is
sent to the parent as JSON, one message per line on `result_fd`. Nothing here scores: the parent does.
No true label, transcript or reference result ever reaches this process: ``language_detection_accuracy`` gets
clips with decoy labels (the parent checks the report against those), and the Ex. 3 files arrive in the
child's folder only when ``measure_throughput`` starts (the parent's reply on `control_fd` names them).
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

MAX_MESSAGE_BYTES = 200_000  # the parent refuses lines over 256 KiB; stay below with a clear error instead


class SoftTimeout(BaseException):
    """Raised inside student code when a cell or call runs past its limit (BaseException: hard to swallow)."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the block with SoftTimeout after `seconds` (SIGALRM); the parent kills if that fails."""

    def interrupt(signum: int, frame: Any) -> None:
        raise SoftTimeout(f"ran longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def plain(value: Any, depth: int = 0) -> Any:
    """JSON-able copy of a return value: numbers, strings, lists, dicts with string keys; the rest as repr."""
    if depth > 6:
        return repr(value)[:200]
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**53 else float(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # numpy / torch scalars
        return plain(value.item(), depth + 1)
    if hasattr(value, "to_dict") and callable(value.to_dict):  # pandas objects, result dataclasses
        with contextlib.suppress(Exception):
            return plain(value.to_dict(), depth + 1)
    if isinstance(value, dict):
        return {str(plain(k, depth + 1)): plain(v, depth + 1) for k, v in list(value.items())[:1000]}
    if isinstance(value, (list, tuple)) or hasattr(value, "tolist"):
        items = value.tolist() if hasattr(value, "tolist") else value
        return [plain(v, depth + 1) for v in list(items)[:1000]]
    return repr(value)[:200]


def describe_error(error: BaseException) -> dict[str, str]:
    """Type, message and the last frames of a traceback, short enough for a feedback file."""
    frames = traceback.format_exception(type(error), error, error.__traceback__, limit=-3)
    name = "MemoryError" if isinstance(error, MemoryError) else type(error).__name__  # numpy's subclass too
    return {"error": name, "message": str(error)[:500], "traceback": "".join(frames)[-2000:]}


class Channel:
    """JSON lines to the parent; the control pipe answers requests (labels)."""

    def __init__(self, result_fd: int, control_fd: int) -> None:
        self.out = os.fdopen(result_fd, "w", buffering=1, encoding="utf-8")
        self.control = os.fdopen(control_fd, "r", encoding="utf-8")

    def send(self, kind: str, **fields: Any) -> None:
        line = json.dumps({"kind": kind, **fields}, allow_nan=False)
        if len(line) > MAX_MESSAGE_BYTES:
            line = json.dumps({"kind": kind, **{k: v for k, v in fields.items() if k != "value"},
                               "error": "OutputTooLarge", "message": f"return value is {len(line)} bytes"})  # fmt: skip
        self.out.write(line + "\n")
        self.out.flush()

    def request(self, kind: str, timeout_s: float = 60, **fields: Any) -> Any:
        self.send(kind, **fields)
        with time_limit(timeout_s):
            return json.loads(self.control.readline() or "null")


def make_shell() -> Any:
    """A terminal-less IPython shell: magics and display work, no history file, no output cache."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.cache_size = 0
    config.InteractiveShell.colors = "nocolor"
    config.InteractiveShell.xmode = "Plain"
    return InteractiveShell.instance(config=config)


def forget_errors(shell: Any) -> None:
    """Drop the references a traceback keeps (a memory hog's list must not outlive its cell)."""
    sys.last_type = sys.last_value = sys.last_traceback = None
    if hasattr(sys, "last_exc"):
        sys.last_exc = None
    shell.last_execution_result = None
    gc.collect()


def run_cells(shell: Any, cells: list[str], timeout_s: float, channel: Channel) -> None:
    """Run every code cell with a soft timeout; record errors and go on (a broken cell is not the end)."""
    for index, source in enumerate(cells):
        channel.send("cell_start", index=index)
        error: BaseException | None = None
        try:
            with time_limit(timeout_s):
                result = shell.run_cell(source, store_history=False)
            error = result.error_before_exec or result.error_in_exec
        except BaseException as caught:  # SoftTimeout between IPython's own handlers
            error = caught
        channel.send("cell_end", index=index, **(describe_error(error) if error is not None else {}))
        if error is not None:
            error = None
            forget_errors(shell)


def call(channel: Channel, namespace: dict, exercise: str, function: str, item: int, args: tuple,
         timeout_s: float, inputs: Callable[[dict], tuple] | None = None) -> str:  # fmt: skip
    """Call one exercise function and send its value or error; returns "" or the error type. With `inputs`, the
    call_start is a request: the parent's reply (the Ex. 3 file paths) becomes the arguments."""
    fn = namespace.get(function)
    if not callable(fn):
        channel.send("call_end", exercise=exercise, function=function, item=item, error="NotDefined",
                     message=f"the notebook does not define a function {function}()")  # fmt: skip
        return "NotDefined"
    if inputs is None:
        channel.send("call_start", exercise=exercise, function=function, item=item)
    try:
        if inputs is not None:
            args = inputs(channel.request("call_start", exercise=exercise, function=function, item=item) or {})
        with time_limit(timeout_s):
            value = fn(*args)
        value = plain(value)
    except BaseException as error:
        channel.send("call_end", exercise=exercise, function=function, item=item, **describe_error(error))
        del error
        gc.collect()
        return "error"
    channel.send("call_end", exercise=exercise, function=function, item=item, value=value)
    return ""


def run_exercises(task: dict, namespace: dict, models: dict, channel: Channel, load: Callable) -> None:
    """The contract: Ex. 1 detect per clip, then accuracy with labels; Ex. 2 one recording; Ex. 3 twice."""
    inputs = Path(task["inputs"])
    timeout = task["call_timeout_s"]
    lid_model, model = models["lid"], models["asr"]
    failed = ""
    for item, name in enumerate(task["lid"]):
        if failed:
            channel.send("call_end", exercise="ex1", function="detect_language", item=item, error="Skipped",
                         message=f"not called after the first call failed ({failed})")  # fmt: skip
            continue
        failed = call(channel, namespace, "ex1", "detect_language", item, (lid_model, load(inputs / name)), timeout)
    from course_utils.corpus import Clip  # local import: the child imports package code only after lockdown

    clips = [  # decoy labels, drawn independently of the truth: the report is checked against these
        Clip(id=f"clip_{i:03d}", path=inputs / name, language=label, duration_s=len(load(inputs / name)) / 16000,
             transcript="", source="hidden", license="", sample_rate=16000)  # fmt: skip
        for i, (name, label) in enumerate(zip(task["lid"], task["labels"], strict=False))
    ]
    call(channel, namespace, "ex1", "language_detection_accuracy", 0, (lid_model, clips), timeout)
    call(channel, namespace, "ex2", "overlapping_transcription", 0,
         (model, str(inputs / task["longform"]), task["chunk_s"], task["overlap_s"]), timeout)  # fmt: skip
    for item, batch_size in enumerate((1, task["batch_size"])):
        def files(reply: dict, batch_size: int = batch_size) -> tuple:
            return model, [str(path) for path in reply.get("paths", [])], batch_size

        if call(channel, namespace, "ex3", "measure_throughput", item, (), timeout, inputs=files):
            break


def main(task: dict, result_fd: int, control_fd: int, isolation: list[str]) -> int:
    """Everything the child does after lockdown; returns its exit code."""
    channel = Channel(result_fd, control_fd)
    channel.send("ready", isolation=isolation)
    try:
        import torch

        from course_utils.audio import load_audio  # local import: after lockdown, in the child
        from course_utils.models import load_model  # local import: after lockdown, in the child

        torch.set_num_threads(task["threads"])
        models = {"lid": load_model(task["lid_model"], task["device"]),
                  "asr": load_model(task["model"], task["device"])}  # fmt: skip
    except BaseException as error:
        channel.send("fatal", stage="loading the grading models", **describe_error(error))
        return 3
    shell = make_shell()
    run_cells(shell, task["cells"], task["cell_timeout_s"], channel)
    sys.stdout.flush()
    run_exercises(task, shell.user_ns, models, channel, load_audio)
    channel.send("done")
    return 0
