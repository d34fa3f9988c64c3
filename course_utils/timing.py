"""Timing Whisper: wall-clock seconds of repeated runs, the real-time factor (RTF) and RTF against duration.

Every function returns a small dataclass with ``to_dict()`` and prints nothing. Warm-up runs are never timed;
on CUDA the device is synchronised around every timed run, so the clock measures finished work. Whisper
models decode with ``decoding.transcribe_options`` (greedy, fp16 only on CUDA, quiet), like everywhere else.
``cpu_contention`` tells how much of the CPU other programs used meanwhile: timings taken on a busy machine
teach the wrong lesson.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from . import display as show
from .audio import SAMPLE_RATE, load_audio, synth_tone
from .decoding import default_device, transcribe_options
from .decoding import device_of as _device_of
from .mixes import english_long_form
from .settings import show_progress

__all__ = [
    "Timing", "timed_call", "measure_rtf", "TranscriptionResult", "transcribe_and_measure", "SweepPoint",
    "rtf_sweep", "sweep_table", "busy_cpu_seconds", "cpu_contention", "CpuUse", "watch_cpu", "CONTENDED_CORES",
]


def _synchronize(device: torch.device | str) -> None:
    """Wait for queued CUDA kernels so the clock measures finished work; a no-op on CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _as_audio(audio: Any) -> np.ndarray:
    """Audio as 16 kHz mono float32 through the one loader (arrays pass through, paths are decoded)."""
    if audio is None:
        raise ValueError("audio is None; pass a 16 kHz mono array (e.g. from course_utils.audio.load_audio)")
    return load_audio(audio, sr=SAMPLE_RATE)


def _duration_s(audio: np.ndarray) -> float:
    """Seconds of a 16 kHz array."""
    return len(audio) / SAMPLE_RATE


def _check_count(value: Any, name: str, minimum: int) -> int:
    """Reject counts that are not integers ≥ `minimum` (bools included) with the argument's name."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _rtfx(rtf: float) -> float:
    """Seconds of audio per compute second; infinite when a (mocked) run took no time."""
    return math.inf if rtf == 0 else 1.0 / rtf


def _time_runs(
    run: Callable[[np.ndarray], Any], audio: np.ndarray, device: torch.device, warmup: int, repeats: int
) -> tuple[list[float], Any]:
    """Run `warmup` times untimed, then `repeats` times timed; returns (seconds per run, last output)."""
    for _ in range(warmup):
        run(audio)
    times: list[float] = []
    output = None
    for _ in range(repeats):
        _synchronize(device)
        start = perf_counter()
        output = run(audio)
        _synchronize(device)
        times.append(perf_counter() - start)
    return times, output


def _runner(
    fn_or_model: Any, options: dict[str, Any], device: torch.device | str | None
) -> tuple[Callable[[np.ndarray], Any], torch.device]:
    """(audio → output, device to synchronise) for a Whisper model or a plain callable."""
    if hasattr(fn_or_model, "transcribe"):
        model = fn_or_model
        opts = transcribe_options(model, **options)
        return (lambda audio: model.transcribe(audio, **opts)), torch.device(device or _device_of(model))
    if callable(fn_or_model):
        fn = fn_or_model
        return (lambda audio: fn(audio, **options)), torch.device(device or default_device())
    raise TypeError(
        f"expected a Whisper model or a callable taking the audio, got {type(fn_or_model).__name__}; "
        "pass course_utils.load_model('tiny.en') or e.g. lambda audio: model.transcribe(audio)"
    )


@dataclass
class Timing:
    """Wall-clock seconds of repeated runs on one audio (warm-up excluded) and the real-time factor."""

    compute_s: float  # median seconds of the timed runs
    min_s: float
    max_s: float
    runs: list[float]  # seconds of each timed run, in order
    audio_s: float
    rtf: float  # compute_s / audio_s: below 1 is faster than real time
    rtfx: float  # 1 / rtf: seconds of audio per second of compute
    warmup: int = 0  # untimed runs before the timed ones
    device: str = "cpu"

    @classmethod
    def from_runs(cls, runs: Sequence[float], audio_s: float, warmup: int = 0, device: str = "cpu") -> Timing:
        """Summarise timed runs of `audio_s` seconds of audio."""
        median = float(statistics.median(runs))
        rtf = median / audio_s
        return cls(
            median,
            float(min(runs)),
            float(max(runs)),
            [float(t) for t in runs],
            audio_s,
            rtf,
            _rtfx(rtf),
            warmup,
            device,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain fields, for JSON and DataFrames."""
        return asdict(self)

    def __repr__(self) -> str:
        runs = f"{len(self.runs)} run" + ("" if len(self.runs) == 1 else "s")
        spread = f" ({show.seconds(self.min_s)}–{show.seconds(self.max_s)})" if len(self.runs) > 1 else ""
        return (f"Timing(median {show.seconds(self.compute_s)} of {runs}{spread} for {show.seconds(self.audio_s)} "
                f"of audio: RTF {show.rtf(self.rtf)}, {show.speed(self.rtf)}, {self.device})")


def timed_call(
    fn_or_model: Any,
    audio: Any,
    warmup: int = 1,
    repeats: int = 3,
    *,
    device: torch.device | str | None = None,
    **options: Any,
) -> tuple[Timing, Any]:
    """Like ``measure_rtf`` but also returns the last run's output (a transcript), so nothing is run twice."""
    warmup = _check_count(warmup, "warmup", 0)
    repeats = _check_count(repeats, "repeats", 1)
    samples = _as_audio(audio)
    run, dev = _runner(fn_or_model, options, device)
    times, output = _time_runs(run, samples, dev, warmup, repeats)
    return Timing.from_runs(times, _duration_s(samples), warmup, str(dev)), output


def measure_rtf(
    fn_or_model: Any,
    audio: Any,
    warmup: int = 1,
    repeats: int = 3,
    *,
    device: torch.device | str | None = None,
    **options: Any,
) -> Timing:
    """Time a model's ``transcribe`` (or any callable taking the audio) and return median/min/max and RTF.

    For a Whisper model, `options` go through ``transcribe_options`` (greedy, fp16 from the model's device);
    for a callable they are passed as keyword arguments. Warm-up runs are not timed; on CUDA the device is
    synchronised before each timed run and after it. `device` overrides the device to synchronise (default:
    the model's, or ``default_device()`` for a callable).
    """
    return timed_call(fn_or_model, audio, warmup, repeats, device=device, **options)[0]


@dataclass
class TranscriptionResult:
    """One transcription with its timing: the fields the lesson prints and plots."""

    text: str
    language: str
    audio_s: float
    compute_s: float
    rtf: float
    faster_than_realtime: bool
    segments: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain fields, for JSON and DataFrames."""
        return asdict(self)

    def __repr__(self) -> str:
        return (f"TranscriptionResult({show.shorten(self.text)!r} ({self.language or '?'}): "
                f"{show.seconds(self.audio_s)} of audio in {show.seconds(self.compute_s)}, RTF {show.rtf(self.rtf)})")


def transcribe_and_measure(model: Any, audio: Any, **options: Any) -> TranscriptionResult:
    """Transcribe once with ``transcribe_options`` defaults and time it (CUDA synchronised); no warm-up."""
    if not hasattr(model, "transcribe"):
        raise TypeError(
            f"expected a Whisper model (course_utils.load_model(...)), got {type(model).__name__}"
        )
    samples = _as_audio(audio)
    run, device = _runner(model, options, None)
    (seconds,), result = _time_runs(run, samples, device, 0, 1)
    audio_s = _duration_s(samples)
    rtf = seconds / audio_s
    return TranscriptionResult(
        text=str(result["text"]).strip(),
        language=str(result.get("language") or ""),
        audio_s=audio_s,
        compute_s=seconds,
        rtf=rtf,
        faster_than_realtime=rtf < 1.0,
        segments=list(result.get("segments", [])),
    )


@dataclass
class SweepPoint:
    """RTF of one signal cut to one duration, with how much text the model produced for it."""

    signal: str  # "speech" or "tone"
    audio_s: float
    compute_s: float  # median over the repeats
    rtf: float
    n_tokens: int  # decoded tokens incl. timestamp tokens: each one is a decoder step
    n_words: int
    text: str

    def to_dict(self) -> dict[str, Any]:
        """Plain fields, for JSON and DataFrames."""
        return asdict(self)

    def __repr__(self) -> str:
        return (f"SweepPoint({self.signal} {self.audio_s:g} s: {show.seconds(self.compute_s)}, "
                f"RTF {show.rtf(self.rtf)}, {self.n_tokens} tokens, {self.n_words} words)")


def _long_form_audio(source: Any) -> Any:
    """The array inside a ``mixes.LongForm`` (or anything with ``.audio``); other sources pass through."""
    audio = getattr(source, "audio", None)
    if audio is None:
        return source
    return audio() if callable(audio) else audio


def rtf_sweep(
    model: Any,
    durations_s: Iterable[float],
    source: Any = None,
    include_tone: bool = True,
    repeats: int = 1,
    verbose: bool = True,
    warmup: int = 1,
    **options: Any,
) -> list[SweepPoint]:
    """RTF against duration on real speech (the first N seconds of `source`) and on ``synth_tone(N)``.

    `source` is an array (or a ``LongForm``/path) at least as long as the longest duration; by default the
    corpus's English long form. The tone shows why RTF on non-speech misleads: the model hallucinates text
    whose length, not the audio's, sets the decode time (compare ``n_tokens``). `warmup` untimed runs on the
    shortest speech cut come first. Shows a progress bar unless ``verbose=False``.
    """
    durations = [float(d) for d in durations_s]
    if not durations or any(not math.isfinite(d) or d <= 0 for d in durations):
        raise ValueError(f"durations_s must be positive seconds, e.g. [5, 10, 30], got {durations}")
    repeats = _check_count(repeats, "repeats", 1)
    warmup = _check_count(warmup, "warmup", 0)
    if source is None:
        source = english_long_form()
    speech = _as_audio(_long_form_audio(source))
    longest = max(durations)
    if round(longest * SAMPLE_RATE) > len(speech):
        raise ValueError(
            f"source holds {_duration_s(speech):.1f} s of audio but the sweep needs {longest:g} s; "
            "pass a longer source (e.g. course_utils.mixes.english_long_form().audio) or shorter durations"
        )
    run, device = _runner(model, options, None)
    signals = ["speech", "tone"] if include_tone else ["speech"]
    jobs = [(signal, d) for d in durations for signal in signals]
    if warmup:
        _time_runs(run, speech[: round(min(durations) * SAMPLE_RATE)], device, warmup, 0)
    points: list[SweepPoint] = []
    for signal, d in tqdm(jobs, desc="RTF sweep", leave=False, disable=not show_progress(verbose)):
        audio = speech[: round(d * SAMPLE_RATE)] if signal == "speech" else synth_tone(d)
        times, result = _time_runs(run, audio, device, 0, repeats)
        seconds = float(statistics.median(times))
        text = str(result["text"]).strip()
        n_tokens = sum(len(segment.get("tokens", ())) for segment in result.get("segments", []))
        points.append(
            SweepPoint(
                signal,
                _duration_s(audio),
                seconds,
                seconds / _duration_s(audio),
                n_tokens,
                len(text.split()),
                text,
            )
        )
    return points


def sweep_table(points: Iterable[SweepPoint]) -> pd.DataFrame:
    """The sweep as a DataFrame, one row per (signal, duration), rounded to milliseconds (RTF to 4 places)."""
    columns = list(SweepPoint.__dataclass_fields__)
    table = pd.DataFrame([point.to_dict() for point in points], columns=columns)
    return table.round({"audio_s": 2, "compute_s": 3, "rtf": 4})


# --- is the machine busy? -----------------------------------------------------------------------------------


def busy_cpu_seconds() -> float | None:
    """CPU seconds all programs have used since boot, all cores together (Linux /proc/stat); None elsewhere."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # minus idle and iowait
    except (OSError, ValueError, IndexError, AttributeError):
        return None


CONTENDED_CORES = 0.2  # other programs' average CPU use (in cores) above which timings are not to be trusted


@dataclass
class CpuUse:
    """Wall seconds, this process's CPU seconds, and the cores other programs used, from ``start()`` to ``stop()``.

    This process's own CPU/wall cannot tell whether the machine was shared (OpenMP threads spin while they
    wait), so other programs' use is measured: all busy CPU time minus this process's, per wall second.
    ``with watch_cpu() as use:`` measures a block; ``CpuUse.start()`` ... ``.stop()`` spans notebook cells.
    """

    wall_s: float = 0.0
    own_cpu_s: float = 0.0
    other_cores: float = math.nan  # nan where the OS does not tell
    _started: tuple[float | None, float, float] = field(default=(None, 0.0, 0.0), repr=False, compare=False)

    @classmethod
    def start(cls) -> CpuUse:
        """Start measuring now."""
        return cls(_started=(busy_cpu_seconds(), time.process_time(), time.monotonic()))

    def stop(self) -> CpuUse:
        """Measure up to now (a later call measures up to the later moment); returns self."""
        busy_start, cpu_start, start = self._started
        self.wall_s = time.monotonic() - start
        self.own_cpu_s = time.process_time() - cpu_start
        busy_end = busy_cpu_seconds()
        if busy_start is not None and busy_end is not None and self.wall_s > 0:
            self.other_cores = max(0.0, busy_end - busy_start - self.own_cpu_s) / self.wall_s
        return self

    @property
    def cpu_per_wall(self) -> float:
        """This process's CPU seconds per wall second (about its busy threads)."""
        return self.own_cpu_s / self.wall_s if self.wall_s > 0 else 0.0

    def contended(self, max_other_cores: float = CONTENDED_CORES) -> bool:
        """True when other programs used more than `max_other_cores` cores on average (False when unknown)."""
        return self.other_cores > max_other_cores  # nan compares False

    def __repr__(self) -> str:
        others = "unknown" if math.isnan(self.other_cores) else f"{self.other_cores:.2f} cores"
        return f"CpuUse({show.seconds(self.wall_s)}, own CPU {self.cpu_per_wall:.1f}/s, other programs {others})"


@contextmanager
def watch_cpu() -> Iterator[CpuUse]:
    """Measure the block: ``with watch_cpu() as use: ...`` fills ``use`` (wall, own CPU, others' cores) at exit."""
    use = CpuUse.start()
    try:
        yield use
    finally:
        use.stop()


def cpu_contention(window_s: float = 2.0) -> float:
    """Share of the machine's CPU (0 to 1) that other programs used over the next `window_s` seconds.

    This process sleeps meanwhile, so every busy core belongs to someone else. Above about 0.1 timings are
    not to be trusted (and threads stop helping). 0.0 where the OS does not tell (not Linux).
    """
    if not window_s > 0:
        raise ValueError(f"window_s must be a positive number of seconds, got {window_s!r}")
    with watch_cpu() as use:
        time.sleep(window_s)
    if math.isnan(use.other_cores):
        return 0.0
    return min(1.0, use.other_cores / (os.cpu_count() or 1))

