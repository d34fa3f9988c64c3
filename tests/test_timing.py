"""Tests for course_utils.timing: warm-up, CUDA synchronisation, RTF arithmetic and sweeps, with a mocked clock.

A few tests run tiny.en for real (loaded once for the module) on short synthetic speech; model tests that
take more than a few seconds are marked `slow`.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest
import torch
from measure_fakes import SENTENCES, SR, FakeModel, fake_clock, load_tiny_en, seconds, spoken_sentences

from course_utils import timing
from course_utils.decoding import transcribe_options
from course_utils.scoring import wer

# --- timing -------------------------------------------------------------------------------------------------


def test_measure_rtf_excludes_warmup_runs_from_the_stats(monkeypatch: pytest.MonkeyPatch) -> None:
    """Warm-up runs are called but never timed: only the repeats read the clock, so the stats are theirs."""
    calls: list[int] = []
    fake_clock(monkeypatch, timing, [0.0, 1.0, 10.0, 12.0, 20.0, 23.0])
    measured = timing.measure_rtf(lambda audio: calls.append(len(audio)), seconds(4.0), warmup=2, repeats=3)
    assert len(calls) == 5 and set(calls) == {4 * SR}
    assert measured.runs == [1.0, 2.0, 3.0]
    assert (measured.compute_s, measured.min_s, measured.max_s) == (2.0, 1.0, 3.0)
    assert measured.audio_s == 4.0 and measured.warmup == 2
    assert measured.rtf == pytest.approx(0.5) and measured.rtfx == pytest.approx(2.0)


def test_timing_rtf_arithmetic() -> None:
    """RTF is median seconds over audio seconds and RTFx its inverse; odd outliers do not move the median."""
    measured = timing.Timing.from_runs([2.0, 9.0, 3.0], audio_s=10.0)
    assert measured.compute_s == 3.0 and measured.max_s == 9.0
    assert measured.rtf == pytest.approx(0.3) and measured.rtfx == pytest.approx(10 / 3)
    assert measured.to_dict()["runs"] == [2.0, 9.0, 3.0]
    assert math.isinf(timing.Timing.from_runs([0.0], audio_s=1.0).rtfx)


def test_measure_rtf_synchronises_cuda_around_each_timed_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a CUDA model the clock only sees finished GPU work: sync before and after every timed run."""
    log: list[Any] = []
    model = FakeModel(device="cuda", log=log)
    monkeypatch.setattr(timing, "_synchronize", lambda device: log.append(("sync", torch.device(device).type)))
    fake_clock(monkeypatch, timing, [0.0, 1.0, 2.0, 3.0])
    timing.measure_rtf(model, seconds(2.0), warmup=1, repeats=2)
    sync = ("sync", "cuda")
    assert log == ["run", sync, "run", sync, sync, "run", sync]
    assert all(call["fp16"] is True for call in model.calls)


def test_synchronize_calls_torch_only_for_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    """The helper forwards CUDA devices to torch.cuda.synchronize and leaves CPU work alone."""
    seen: list[torch.device] = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: seen.append(device))
    timing._synchronize("cpu")
    assert seen == []
    timing._synchronize("cuda:0")
    assert seen == [torch.device("cuda:0")]


def test_callable_with_cuda_device_is_synchronised(monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain callable gets the same synchronisation when told it runs on CUDA."""
    synced: list[str] = []
    monkeypatch.setattr(timing, "_synchronize", lambda device: synced.append(torch.device(device).type))
    timing.measure_rtf(lambda audio: None, seconds(1.0), warmup=0, repeats=2, device="cuda")
    assert synced == ["cuda"] * 4


def test_transcribe_options_defaults_follow_the_device() -> None:
    """One place for decode defaults: greedy, quiet, fp16 only on CUDA; explicit overrides win."""
    cpu = transcribe_options(FakeModel("cpu"))
    assert cpu == {
        "fp16": False,
        "temperature": 0.0,
        "condition_on_previous_text": True,
        "language": None,
        "verbose": None,
    }
    assert transcribe_options(FakeModel("cuda"))["fp16"] is True
    assert transcribe_options(FakeModel("cpu"), temperature=0.2, beam_size=5)["temperature"] == 0.2
    assert transcribe_options(FakeModel("cpu"), language="English")["language"] == "English"


def test_english_only_model_refuses_other_languages() -> None:
    """Asking tiny.en for German would silently transcribe English; it is an error that names the fix."""
    with pytest.raises(ValueError, match="English-only.*'base'"):
        transcribe_options(FakeModel(multilingual=False), language="de")
    assert transcribe_options(FakeModel(multilingual=True), language="de")["language"] == "de"


def test_measure_rtf_passes_decode_defaults_to_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """A model is called through transcribe_options, and caller options reach it."""
    model = FakeModel()
    timing.measure_rtf(model, seconds(1.0), warmup=0, repeats=1, condition_on_previous_text=False)
    assert model.calls == [
        {
            "fp16": False,
            "temperature": 0.0,
            "condition_on_previous_text": False,
            "language": None,
            "verbose": None,
        }
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"repeats": 0}, "repeats must be an integer >= 1"),
        ({"repeats": 1.5}, "repeats must be an integer >= 1"),
        ({"warmup": -1}, "warmup must be an integer >= 0"),
        ({"audio": np.zeros(0, np.float32)}, "empty"),
    ],
)
def test_measure_rtf_rejects_bad_inputs(kwargs: dict[str, Any], message: str) -> None:
    """Bad repeat counts and empty audio fail up front with the argument named."""
    args = {"audio": seconds(1.0), **kwargs}
    with pytest.raises(ValueError, match=message):
        timing.measure_rtf(lambda audio: None, **args)


def test_measure_rtf_rejects_non_callables() -> None:
    """A string (e.g. a model name) is neither a model nor a callable: say what to pass instead."""
    with pytest.raises(TypeError, match="load_model"):
        timing.measure_rtf("tiny.en", seconds(1.0))


def test_transcribe_and_measure_fields_with_fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """One synchronised run: text stripped, seconds from the clock, RTF and the real-time verdict."""
    fake_clock(monkeypatch, timing, [5.0, 6.5])
    result = timing.transcribe_and_measure(FakeModel(text="  hi there "), seconds(3.0))
    assert result.text == "hi there" and result.language == "en"
    assert result.audio_s == 3.0 and result.compute_s == 1.5
    assert result.rtf == pytest.approx(0.5) and result.faster_than_realtime is True
    assert result.segments[0]["tokens"] == [50363, 1, 2, 50463]
    fake_clock(monkeypatch, timing, [0.0, 4.0])
    assert timing.transcribe_and_measure(FakeModel(), seconds(3.0)).faster_than_realtime is False


def test_rtf_sweep_cuts_speech_and_adds_tone_with_fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each duration is timed on the first N seconds of the source and on a tone of N seconds."""
    model = FakeModel(text=" one two three")
    source = np.linspace(-0.5, 0.5, 5 * SR, dtype=np.float32)
    points = timing.rtf_sweep(model, [1, 2.5], source=source, verbose=False, warmup=1)
    assert [(p.signal, p.audio_s) for p in points] == [
        ("speech", 1.0),
        ("tone", 1.0),
        ("speech", 2.5),
        ("tone", 2.5),
    ]
    assert len(model.audios) == 5  # 1 warm-up + 4 points
    np.testing.assert_array_equal(model.audios[3], source[: round(2.5 * SR)])
    assert points[0].n_tokens == 4 and points[0].n_words == 3 and points[0].text == "one two three"
    table = timing.sweep_table(points)
    assert list(table.columns) == [
        "signal",
        "audio_s",
        "compute_s",
        "rtf",
        "n_tokens",
        "n_words",
        "text",
    ]
    assert len(table) == 4


def test_rtf_sweep_refuses_a_source_shorter_than_the_sweep() -> None:
    """Cutting 10 s from 2 s of audio would time the wrong length; say how long the source is."""
    with pytest.raises(ValueError, match=r"holds 2\.0 s .* needs 10 s"):
        timing.rtf_sweep(FakeModel(), [1, 10], source=seconds(2.0), verbose=False)



def test_timed_call_returns_the_output_of_the_last_timed_run() -> None:
    """The transcript comes back with the timing, so callers never run the model twice."""
    calls: list[int] = []

    def fake(audio: np.ndarray) -> str:
        calls.append(len(calls))
        return f"run {len(calls)}"

    measured, output = timing.timed_call(fake, np.zeros(SR, dtype=np.float32), warmup=1, repeats=2, device="cpu")
    assert output == "run 3" and len(measured.runs) == 2 and len(calls) == 3


# --- real runs with tiny.en ---------------------------------------------------------------------------------

tiny_en = pytest.fixture(scope="module", name="tiny_en")(load_tiny_en)
speech = pytest.fixture(scope="module", name="speech")(spoken_sentences)



def test_transcribe_and_measure_tiny_en_without_fp16_warning(tiny_en: Any, speech: list[np.ndarray]) -> None:
    """On CPU the defaults pick fp32, so whisper never warns; the fields describe the run."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*FP16")
        result = timing.transcribe_and_measure(tiny_en, speech[0])
    assert wer(SENTENCES[0], result.text) <= 0.1
    assert result.language == "en"
    assert result.audio_s == pytest.approx(len(speech[0]) / SR)
    assert result.compute_s > 0
    assert result.rtf == pytest.approx(result.compute_s / result.audio_s)
    assert result.faster_than_realtime == (result.rtf < 1)
    assert result.segments and "tokens" in result.segments[0]


@pytest.mark.slow
def test_rtf_sweep_on_two_short_durations(tiny_en: Any, speech: list[np.ndarray]) -> None:
    """A real sweep gives one point per (signal, duration) with a positive RTF and the decoded text."""
    points = timing.rtf_sweep(tiny_en, [1.0, 2.0], source=speech[0], verbose=False)
    assert [(p.signal, p.audio_s) for p in points] == [
        ("speech", 1.0),
        ("tone", 1.0),
        ("speech", 2.0),
        ("tone", 2.0),
    ]
    assert all(p.compute_s > 0 and p.rtf == pytest.approx(p.compute_s / p.audio_s) for p in points)
    assert "window" in points[2].text.lower()


# --- contention ---------------------------------------------------------------------------------------------


def test_watch_cpu_counts_other_programs_busy_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Others' cores = all busy CPU seconds minus this process's, per wall second; unknown stays nan."""
    busy = iter([100.0, 100.0 + 5.0])
    monkeypatch.setattr(timing, "busy_cpu_seconds", lambda: next(busy))
    with timing.watch_cpu() as use:
        pass
    assert use.wall_s >= 0 and use.other_cores > 0
    monkeypatch.setattr(timing, "busy_cpu_seconds", lambda: None)
    with timing.watch_cpu() as use:
        pass
    assert math.isnan(use.other_cores) and "unknown" in repr(use)


def test_cpu_contention_is_a_share_of_the_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two busy cores of four while we sleep is 0.5; the window must be positive."""
    busy = iter([0.0, 2.0 * 0.05])
    monkeypatch.setattr(timing, "busy_cpu_seconds", lambda: next(busy))
    monkeypatch.setattr(timing.os, "cpu_count", lambda: 4)
    assert 0.2 < timing.cpu_contention(0.05) <= 0.5  # 0.5 when the sleep lasts exactly 50 ms
    with pytest.raises(ValueError, match="window_s"):
        timing.cpu_contention(0)
    monkeypatch.setattr(timing, "busy_cpu_seconds", lambda: None)
    assert timing.cpu_contention(0.01) == 0.0


def test_cpu_use_spans_start_to_stop_and_says_when_contended(monkeypatch: pytest.MonkeyPatch) -> None:
    """start()/stop() measure across notebook cells; 'contended' means more than 0.2 cores of others' use."""
    busy = iter([10.0, 10.0 + 1e6])
    monkeypatch.setattr(timing, "busy_cpu_seconds", lambda: next(busy))
    use = timing.CpuUse.start().stop()
    assert use.other_cores > timing.CONTENDED_CORES and use.contended()
    assert not timing.CpuUse().contended()  # unknown is not contended
