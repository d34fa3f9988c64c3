"""Fakes and fixtures shared by the measuring tests (test_timing, test_evaluation; loaded as a pytest plugin)."""

from __future__ import annotations

from collections.abc import Iterable
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch

from course_utils.audio import SAMPLE_RATE
from course_utils.tts import synth_speech

SR = SAMPLE_RATE

SENTENCES = [  # espeak-ng sentences that tiny.en transcribes word for word
    "Please open the window and let the fresh air in.",
    "I would like a cup of coffee, please.",
    "And so my fellow Americans, ask not what your country can do for you.",
]


class FakeModel:
    """Stands in for a Whisper model: records transcribe calls (to `log` too) and returns canned text."""

    def __init__(
        self,
        device: str = "cpu",
        multilingual: bool = False,
        text: str = " hello world",
        log: list | None = None,
    ) -> None:
        self.device = torch.device(device)
        self.is_multilingual = multilingual
        self.course_name = "fake"
        self.text = text
        self.calls: list[dict[str, Any]] = []
        self.audios: list[np.ndarray] = []
        self.log = log if log is not None else []

    def transcribe(self, audio: np.ndarray, **options: Any) -> dict[str, Any]:
        self.calls.append(options)
        self.audios.append(audio)
        self.log.append("run")
        segments = [{"text": self.text, "tokens": [50363, 1, 2, 50463]}]
        return {"text": self.text, "language": options.get("language") or "en", "segments": segments}


class FakeClip:
    """The parts of course_utils.corpus.Clip that evaluate() uses."""

    def __init__(self, id: str, language: str, transcript: str, seconds: float = 1.0) -> None:
        self.id, self.language, self.transcript = id, language, transcript
        self.duration_s = seconds
        self._audio = np.full(round(seconds * SR), 0.1, dtype=np.float32)

    def audio(self) -> np.ndarray:
        return self._audio



def fake_clock(monkeypatch: pytest.MonkeyPatch, module: ModuleType, ticks: Iterable[float]) -> None:
    """Make `module`.perf_counter return `ticks` in order; an unexpected extra read raises StopIteration."""
    it = iter(ticks)
    monkeypatch.setattr(module, "perf_counter", lambda: next(it))


def seconds(s: float) -> np.ndarray:
    """A non-silent float32 array of `s` seconds at 16 kHz."""
    return np.full(round(s * SR), 0.1, dtype=np.float32)



def load_tiny_en() -> Any:
    """tiny.en (offline packages work without network); the tests load it once per module as a fixture."""
    import course_utils

    return course_utils.load_model("tiny.en")


def spoken_sentences() -> list[np.ndarray]:
    """The SENTENCES spoken by espeak-ng (2-4 s each)."""
    return [synth_speech(sentence) for sentence in SENTENCES]
