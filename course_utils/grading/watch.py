"""The trusted side's loop around one running child: messages in order, timeouts, Ex. 3 inputs on demand.

``watch`` follows the child's result channel (``channel.MessageReader``), checks every message against the
``channel.Protocol`` plan, records cells and calls with its own clock, copies the Ex. 3 files into the child's
folder only when ``measure_throughput`` starts (the clock starts when they are there), and stops the child on a
timeout or a channel violation. Printed output is kept capped (head and tail).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import time
from collections.abc import Callable
from typing import Any

from .channel import MessageReader, Protocol, Violation
from .records import CallRecord, CellRecord, ChildOutputs, Limits

GRACE_S = 10.0  # after a soft timeout, how long the child has to recover before it is killed
DETAILED_CELL_ERRORS = 100  # cells whose error message and traceback are kept (the rest: the error type)


class CappedText:
    """Keeps the first and last bytes of a stream and counts the rest (a 100 MB print costs nothing)."""

    def __init__(self, limit: int) -> None:
        self.head_limit, self.tail_limit = limit * 3 // 4, limit // 4
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail = (self.tail + data)[-self.tail_limit :]

    def text(self) -> str:
        kept = len(self.head) + len(self.tail)
        middle = f"\n[... {self.total - kept} bytes of output cut ...]\n" if self.total > kept else ""
        return self.head.decode(errors="replace") + middle + bytes(self.tail).decode(errors="replace")


def drain(fd: int, sink: CappedText) -> None:
    """Read a pipe to its end into `sink`."""
    with contextlib.suppress(OSError):
        while chunk := os.read(fd, 1 << 16):
            sink.feed(chunk)
    os.close(fd)


def _text(message: dict, key: str, limit: int = 1000) -> str:
    value = message.get(key, "")
    return (value if isinstance(value, str) else repr(value))[:limit]


def _reply(control_w: int, payload: Any) -> None:
    with contextlib.suppress(OSError):  # non-blocking: a child that never reads cannot stall the watcher
        os.write(control_w, (json.dumps(payload) + "\n").encode())


def watch(proc: subprocess.Popen, reader: MessageReader, control_w: int, outputs: ChildOutputs,
          protocol: Protocol, limits: Limits, started: float, deliver: Callable[[int], list[str]]) -> None:  # fmt: skip
    """Follow the child's messages until it exits; enforce hard timeouts and the channel's rules."""
    os.set_blocking(control_w, False)
    wall_deadline = started + limits.wall_timeout_s
    deadline, doing = wall_deadline, "starting up"
    call_started: dict[tuple[str, int], float] = {}
    eof, cell_started, exited_at, detailed = False, started, 0.0, 0
    while True:
        try:
            now, message = reader.messages.get(timeout=0.2)
        except queue.Empty:
            now, message = time.monotonic(), {"kind": "tick"}
        try:
            if isinstance(message, Violation):
                raise message
            if message is None:
                eof = True
            elif message["kind"] != "tick":
                protocol.check(message)
                kind = message["kind"]
                if kind == "ready":
                    isolation = message.get("isolation")
                    outputs.isolation = [str(x)[:200] for x in isolation[:12]] if isinstance(isolation, list) else []
                elif kind == "cell_start":
                    outputs.cells.append(CellRecord(message["index"]))
                    cell_started = now
                    deadline = min(wall_deadline, now + limits.timeout_s + GRACE_S)
                    doing = f"code cell {message['index'] + 1}"
                elif kind == "cell_end":
                    cell = outputs.cells[-1]
                    cell.seconds, cell.finished, cell.error = now - cell_started, True, _text(message, "error", 100)
                    if cell.error and detailed < DETAILED_CELL_ERRORS:
                        detailed += 1
                        cell.message, cell.traceback = _text(message, "message"), _text(message, "traceback", 4000)
                    deadline, doing = wall_deadline, "between cells"
                elif kind == "call_start":
                    key = (message["function"], message["item"])
                    if key[0] == "measure_throughput":
                        _reply(control_w, {"paths": deliver(key[1])})
                    call_started[key] = time.monotonic()
                    deadline = min(wall_deadline, now + limits.timeout_s + GRACE_S)
                    doing = f"{key[0]}() on hidden input {key[1] + 1}"
                elif kind == "call_end":
                    key = (message["function"], message["item"])
                    begun = call_started.get(key)
                    outputs.calls.append(CallRecord(
                        exercise=message["exercise"], function=key[0], item=key[1], value=message.get("value"),
                        error=_text(message, "error", 100), message=_text(message, "message"),
                        traceback=_text(message, "traceback", 4000),
                        seconds=None if begun is None else now - begun, finished=True,
                    ))  # fmt: skip
                    deadline, doing = wall_deadline, "between exercise calls"
                elif kind == "fatal":
                    outputs.ended = "fatal"
                    outputs.detail = ": ".join(_text(message, key) for key in ("stage", "error", "message"))
                elif kind == "done":
                    doing = "done"
        except Violation as violation:
            outputs.ended, outputs.calls = "protocol", []  # its answers cannot be trusted: none count
            outputs.detail = f"the notebook wrote to the grader's result channel: {violation}"
            return
        if eof and proc.poll() is not None:
            break
        if time.monotonic() > deadline:
            what = "the whole submission" if deadline == wall_deadline else doing
            limit = limits.wall_timeout_s if deadline == wall_deadline else limits.timeout_s
            outputs.ended = "timeout"
            outputs.detail = f"{what} ran longer than {limit:g} s and was stopped"
            return
        if proc.poll() is not None and not eof:
            exited_at = exited_at or time.monotonic()
            if time.monotonic() - exited_at > 5:
                break  # exited, yet something still holds the result pipe open: stop waiting for it
    if doing != "done" and outputs.ended == "finished":
        verb = "died" if proc.returncode != 0 else "stopped"
        outputs.ended = "crashed"
        outputs.detail = f"the notebook process {verb} during {doing} ({exit_text(proc.returncode)})"


def exit_text(code: int | None) -> str:
    """An exit status in words: 'exit code 1', 'killed by SIGKILL'."""
    if code is None:
        return "still running"
    if code > 128 or code < 0:
        number = code - 128 if code > 128 else -code
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(number).name}"
    return f"exit code {code}"


def stop(proc: subprocess.Popen) -> None:
    """Ask the supervisor to kill the submission's processes, then kill the whole group to be sure."""
    if proc.poll() is None:
        with contextlib.suppress(OSError):
            proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
