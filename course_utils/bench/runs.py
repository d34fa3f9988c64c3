"""How the benchmarks time runs on a possibly shared machine: turns, retries, and other programs' CPU use.

Every timed run records how many cores other programs used meanwhile (``timing.watch_cpu``). A run during
which they used more than ``Clock.max_other_cores`` is contended: with ``retries`` it is run again, and with
``wait_idle_s`` each run first waits for the machine to go quiet (``timing.cpu_contention``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..audio import SAMPLE_RATE
from ..timing import CONTENDED_CORES, CpuUse, cpu_contention, watch_cpu

__all__ = ["WARMUP_S", "Clock", "Run", "timed", "wait_for_idle", "round_robin", "median_run"]

WARMUP_S = 8.0  # seconds of the benchmark audio used to warm every method up before timing


@dataclass
class Clock:
    """How runs are timed on a possibly shared machine."""

    repeats: int = 1  # timed runs per method; the median is reported
    wait_idle_s: float = 0.0  # before each run, wait up to this long for the other programs to go quiet
    retries: int = 0  # rerun a run during which other programs used the CPU, up to this often
    max_other_cores: float = CONTENDED_CORES  # other programs' average CPU use above which a run is contended

    def once(self) -> Clock:
        """The same settings for a single timed run (methods take turns, one run per turn)."""
        return Clock(1, self.wait_idle_s, self.retries, self.max_other_cores)


@dataclass
class Run:
    """One timed run: the CPU use measured around it and what it returned."""

    use: CpuUse
    output: Any = field(repr=False)

    @property
    def compute_s(self) -> float:
        """Wall seconds of the run."""
        return self.use.wall_s

    @property
    def other_cores(self) -> float:
        """Cores other programs used on average during the run (nan where the OS does not tell)."""
        return self.use.other_cores


def wait_for_idle(max_s: float, busy: float = 0.1) -> bool:
    """Wait (up to `max_s`) until other programs use less than `busy` of the CPU; True when that happened."""
    end = time.monotonic() + max_s
    while time.monotonic() < end:
        if cpu_contention(2.0) < busy:
            return True
    return False


def timed(fn: Callable[[], Any], clock: Clock) -> list[Run]:
    """`clock.repeats` timed runs of `fn`, each rerun (up to `clock.retries` times) while contended."""
    runs: list[Run] = []
    for _ in range(clock.repeats):
        for attempt in range(clock.retries + 1):
            if clock.wait_idle_s > 0:
                wait_for_idle(clock.wait_idle_s)
            with watch_cpu() as use:
                output = fn()
            run = Run(use, output)
            if not run.other_cores > clock.max_other_cores:  # also when unknown (nan)
                break
            if attempt < clock.retries:
                print(f"    other programs used {run.other_cores:.2f} cores meanwhile, running again", file=sys.stderr)
        runs.append(run)
    return runs


def median_run(runs: Sequence[Run], seconds: Callable[[Run], float] = lambda run: run.compute_s) -> Run:
    """The run with the median time (the upper one of an even count)."""
    return sorted(runs, key=seconds)[len(runs) // 2]


def round_robin(
    methods: Sequence[tuple[str, Callable[[np.ndarray], Any]]], audio: np.ndarray, clock: Clock, verbose: bool
) -> list[list[Run]]:
    """Warm every method up on a short piece, then time them in turns, `clock.repeats` rounds.

    Taking turns spreads slow drifts of the machine (other virtual machines, clock speed) over all methods
    instead of charging them to whichever ran at the wrong moment. Returns the runs of each method.
    """
    for _, run in methods:
        run(audio[: round(WARMUP_S * SAMPLE_RATE)])
    runs: list[list[Run]] = [[] for _ in methods]
    for round_ in range(clock.repeats):
        for (name, run), done in zip(methods, runs, strict=True):
            done += timed(lambda run=run: run(audio), clock.once())
            if verbose:
                print(f"  [{round_ + 1}/{clock.repeats}] {name:<58} {done[-1].compute_s:7.2f} s  "
                      f"others {done[-1].other_cores:.2f} cores", file=sys.stderr, flush=True)
    return runs
