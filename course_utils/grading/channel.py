"""The result channel from the child, read by the trusted side: bounded, parsed safely, checked against a plan.

The child writes one JSON object per line. Student code runs in the same process as the harness, so it can
find the pipe and write anything: ``MessageReader`` bounds each line's size, its nesting depth (checked
*before* ``json.loads``, which recurses), the rate, and applies back-pressure (a bounded queue: a flooding
child blocks on its own pipe instead of growing the grader's memory). ``Protocol`` accepts only the messages
the harness sends, in its order, for the cells and calls the trusted side asked for; anything else is a
violation that ends the submission (every answer it gave is void).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

MAX_MESSAGE_BYTES = 256 << 10  # longest line accepted (the harness keeps its messages below this)
MAX_DEPTH = 16  # deepest nesting of lists/objects in a message (answers need 3)
MAX_PER_SECOND = 20_000  # a 10,001-cell notebook sends about 5,000 a second on a slow machine
QUEUE_SIZE = 256  # parsed messages waiting for the watcher; the reader blocks beyond this
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


class Violation(Exception):
    """The child broke the channel's rules (the reason is shown to the student)."""


def nesting_depth(line: bytes, limit: int = MAX_DEPTH) -> int:
    """How deeply lists and objects nest in a JSON text, without parsing it (stops counting past `limit`)."""
    brackets = _STRING.sub(b'""', line).translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for byte in brackets:
        depth += 1 if byte in b"[{" else -1
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                break
    return deepest


def parse_line(line: bytes) -> dict:
    """One message, or Violation: size, depth, valid JSON, an object with a string 'kind'."""
    if len(line) > MAX_MESSAGE_BYTES:
        raise Violation(f"a result message of {len(line) >> 10} KiB (limit {MAX_MESSAGE_BYTES >> 10} KiB)")
    if nesting_depth(line) > MAX_DEPTH:
        raise Violation(f"a result message nested deeper than {MAX_DEPTH} levels")
    try:
        message = json.loads(line)
    except (ValueError, RecursionError) as error:
        raise Violation(f"a result message that is not JSON ({type(error).__name__})") from None
    if not isinstance(message, dict) or not isinstance(message.get("kind"), str):
        raise Violation("a result message without a 'kind'")
    return message


class MessageReader(threading.Thread):
    """Reads the result pipe into a bounded queue of (trusted time, message | Violation | None at the end)."""

    def __init__(self, fd: int) -> None:
        super().__init__(daemon=True)
        self.fd = fd
        self.messages: queue.Queue = queue.Queue(maxsize=QUEUE_SIZE)
        self.stopping = threading.Event()

    def _put(self, item: Any) -> bool:
        while not self.stopping.is_set():
            with contextlib.suppress(queue.Full):
                self.messages.put((time.monotonic(), item), timeout=0.2)
                return True
        return False

    def run(self) -> None:
        buffer = bytearray()
        window, count = time.monotonic(), 0
        try:
            while not self.stopping.is_set() and (chunk := os.read(self.fd, 1 << 16)):
                buffer += chunk
                while (end := buffer.find(b"\n")) >= 0:
                    line = bytes(buffer[:end])
                    del buffer[: end + 1]
                    now = time.monotonic()
                    if now - window >= 1:
                        window, count = now, 0
                    count += 1
                    if count > MAX_PER_SECOND:
                        raise Violation(f"more than {MAX_PER_SECOND} result messages in one second")
                    if not self._put(parse_line(line)):
                        return
                if len(buffer) > MAX_MESSAGE_BYTES:
                    raise Violation(f"a result message longer than {MAX_MESSAGE_BYTES >> 10} KiB")
        except Violation as violation:
            self._put(violation)
        except BaseException as error:  # noqa: BLE001 (the reader must never die silently)
            self._put(Violation(f"an unreadable result channel ({type(error).__name__})"))
        finally:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self._put(None)

    def stop(self) -> None:
        self.stopping.set()


@dataclass(frozen=True)
class PlannedCall:
    """An exercise call the trusted side asked for; `optional` calls may be skipped by the harness."""

    exercise: str
    function: str
    item: int
    optional: bool = False


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class Protocol:
    """The harness's message order for `cells` code cells and the planned calls; ``check`` raises Violation."""

    SKIPPED = ("NotDefined", "Skipped")  # call_end without call_start

    def __init__(self, cells: int, plan: list[PlannedCall]) -> None:
        self.cells, self.plan = cells, plan
        self.stage = "ready"
        self.cell, self.cell_open = 0, False
        self.position, self.call_open = 0, False

    @property
    def current(self) -> PlannedCall | None:
        return self.plan[self.position] if self.position < len(self.plan) else None

    def check(self, message: dict) -> None:
        """Accept `message` as the next step or raise Violation saying what was out of place."""
        kind = message["kind"]
        if self.stage == "ended":
            raise Violation(f"a '{kind[:40]}' message after the harness had finished")
        if kind == "fatal":
            self.stage = "ended"
        elif kind == "ready" and self.stage == "ready":
            self.stage = "cells" if self.cells else "calls"
        elif kind in ("cell_start", "cell_end") and self.stage == "cells":
            self._cell(kind, _int(message.get("index")))
        elif kind in ("call_start", "call_end") and self.stage == "calls":
            self._call(kind, message)
        elif kind == "done" and self.stage == "calls" and not self.call_open and all(
                p.optional for p in self.plan[self.position:]):  # fmt: skip
            self.stage = "ended"
        else:
            raise Violation(f"an unexpected '{kind[:40]}' message ({self.where()})")

    def _cell(self, kind: str, index: int | None) -> None:
        if index != self.cell or self.cell_open != (kind == "cell_end"):
            raise Violation(f"a '{kind}' message for cell {index} ({self.where()})")
        self.cell_open = kind == "cell_start"
        if kind == "cell_end":
            self.cell += 1
            if self.cell == self.cells:
                self.stage = "calls"

    def _call(self, kind: str, message: dict) -> None:
        planned = self.current
        key = (message.get("exercise"), message.get("function"), _int(message.get("item")))
        if planned is None or key != (planned.exercise, planned.function, planned.item):
            raise Violation(f"a '{kind}' message for a call the grader did not ask for ({self.where()})")
        if kind == "call_start":
            if self.call_open:
                raise Violation(f"a second 'call_start' for {planned.function}() item {planned.item}")
            self.call_open = True
            return
        if not self.call_open and message.get("error") not in self.SKIPPED:
            raise Violation(f"a 'call_end' without 'call_start' for {planned.function}()")
        self.call_open = False
        self.position += 1

    def where(self) -> str:
        if self.stage == "cells":
            return f"expected code cell {self.cell + 1} of {self.cells}"
        if self.stage == "calls" and self.current is not None:
            return f"expected {self.current.function}() item {self.current.item}"
        return f"at stage {self.stage}"
