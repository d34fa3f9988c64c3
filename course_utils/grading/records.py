"""What one graded child produced, as plain records: limits, cells, exercise calls and how the run ended.

These are the only things that cross from the sandbox side (the local pool or a Dask worker) to the parent that
scores: raw return values and the trusted side's own timings, never scores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Limits:
    """Per-submission limits; `timeout_s` is per cell and per exercise call, `wall_timeout_s` in total."""

    timeout_s: float = 300.0
    wall_timeout_s: float = 1800.0
    memory_gb: float = 4.0  # address space (RLIMIT_AS); 0 = none (needed on CUDA)
    output_bytes: int = 200_000  # printed output kept per submission (head and tail)
    file_mb: int = 512  # largest file it may write, and the size of its private /tmp and /dev/shm
    threads: int = 1


@dataclass
class CellRecord:
    """One notebook code cell as the child reported it; `seconds` is measured by the trusted side."""

    index: int
    seconds: float = 0.0
    error: str = ""
    message: str = ""
    traceback: str = ""
    finished: bool = False


@dataclass
class CallRecord:
    """One exercise call: the raw return value or error, and the trusted side's own timing of it."""

    exercise: str
    function: str
    item: int
    value: Any = None
    error: str = ""
    message: str = ""
    traceback: str = ""
    seconds: float | None = None  # trusted clock from handing over the inputs to call_end; None if not started
    finished: bool = False


@dataclass
class ChildOutputs:
    """Everything one child produced: how it ended, cell errors, call results, capped output.

    `ended`: finished | timeout | crashed | fatal | invalid | protocol (it broke the result channel's rules:
    every answer is void) | refused (never run).
    """

    ended: str = "finished"
    detail: str = ""
    cells: list[CellRecord] = field(default_factory=list)
    calls: list[CallRecord] = field(default_factory=list)
    output: str = ""
    output_bytes: int = 0
    isolation: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    exit_code: int | None = None
    labels_given: list[str] = field(default_factory=list)  # decoy labels the child's Ex. 1 clips carried

    def call(self, function: str, item: int = 0) -> CallRecord | None:
        return next((c for c in self.calls if c.function == function and c.item == item), None)
