"""Tests for course_utils.metrics: timing, WER/CER and throughput, mostly with fakes and a mocked clock.

A few tests run tiny.en for real (loaded once for the module) on short synthetic speech; tests that need the
speech corpus are marked `corpus`, model tests that take more than a few seconds `slow`.
"""

from __future__ import annotations

import importlib.util
import math
import sys
import types
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
import pytest
import torch

from course_utils import data, metrics
from course_utils.audio import SAMPLE_RATE
from course_utils.tts import synth_speech

SR = SAMPLE_RATE


def _longform_has_transcribe_batch() -> bool:
    """True once the colleague's course_utils.longform provides transcribe_batch."""
    if importlib.util.find_spec("course_utils.longform") is None:
        return False
    from course_utils import longform

    return hasattr(longform, "transcribe_batch")


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
    """The parts of course_utils.data.Clip that evaluate() uses."""

    def __init__(self, id: str, language: str, transcript: str, seconds: float = 1.0) -> None:
        self.id, self.language, self.transcript = id, language, transcript
        self.duration_s = seconds
        self._audio = np.full(round(seconds * SR), 0.1, dtype=np.float32)

    def audio(self) -> np.ndarray:
        return self._audio


def fake_clock(monkeypatch: pytest.MonkeyPatch, ticks: Iterable[float]) -> None:
    """Make metrics.perf_counter return `ticks` in order; an unexpected extra read raises StopIteration."""
    it = iter(ticks)
    monkeypatch.setattr(metrics, "perf_counter", lambda: next(it))


def seconds(s: float) -> np.ndarray:
    """A non-silent float32 array of `s` seconds at 16 kHz."""
    return np.full(round(s * SR), 0.1, dtype=np.float32)


# --- timing -------------------------------------------------------------------------------------------------


def test_measure_rtf_excludes_warmup_runs_from_the_stats(monkeypatch: pytest.MonkeyPatch) -> None:
    """Warm-up runs are called but never timed: only the repeats read the clock, so the stats are theirs."""
    calls: list[int] = []
    fake_clock(monkeypatch, [0.0, 1.0, 10.0, 12.0, 20.0, 23.0])
    timing = metrics.measure_rtf(lambda audio: calls.append(len(audio)), seconds(4.0), warmup=2, repeats=3)
    assert len(calls) == 5 and set(calls) == {4 * SR}
    assert timing.runs == [1.0, 2.0, 3.0]
    assert (timing.median_s, timing.min_s, timing.max_s) == (2.0, 1.0, 3.0)
    assert timing.audio_s == 4.0 and timing.warmup == 2
    assert timing.rtf == pytest.approx(0.5) and timing.rtfx == pytest.approx(2.0)


def test_timing_rtf_arithmetic() -> None:
    """RTF is median seconds over audio seconds and RTFx its inverse; odd outliers do not move the median."""
    timing = metrics.Timing.from_runs([2.0, 9.0, 3.0], audio_s=10.0)
    assert timing.median_s == 3.0 and timing.max_s == 9.0
    assert timing.rtf == pytest.approx(0.3) and timing.rtfx == pytest.approx(10 / 3)
    assert timing.to_dict()["runs"] == [2.0, 9.0, 3.0]
    assert math.isinf(metrics.Timing.from_runs([0.0], audio_s=1.0).rtfx)


def test_measure_rtf_synchronises_cuda_around_each_timed_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a CUDA model the clock only sees finished GPU work: sync before and after every timed run."""
    log: list[Any] = []
    model = FakeModel(device="cuda", log=log)
    monkeypatch.setattr(metrics, "_synchronize", lambda device: log.append(("sync", torch.device(device).type)))
    fake_clock(monkeypatch, [0.0, 1.0, 2.0, 3.0])
    metrics.measure_rtf(model, seconds(2.0), warmup=1, repeats=2)
    sync = ("sync", "cuda")
    assert log == ["run", sync, "run", sync, sync, "run", sync]
    assert all(call["fp16"] is True for call in model.calls)


def test_synchronize_calls_torch_only_for_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    """The helper forwards CUDA devices to torch.cuda.synchronize and leaves CPU work alone."""
    seen: list[torch.device] = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: seen.append(device))
    metrics._synchronize("cpu")
    assert seen == []
    metrics._synchronize("cuda:0")
    assert seen == [torch.device("cuda:0")]


def test_callable_with_cuda_device_is_synchronised(monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain callable gets the same synchronisation when told it runs on CUDA."""
    synced: list[str] = []
    monkeypatch.setattr(metrics, "_synchronize", lambda device: synced.append(torch.device(device).type))
    metrics.measure_rtf(lambda audio: None, seconds(1.0), warmup=0, repeats=2, device="cuda")
    assert synced == ["cuda"] * 4


def test_transcribe_options_defaults_follow_the_device() -> None:
    """One place for decode defaults: greedy, quiet, fp16 only on CUDA; explicit overrides win."""
    cpu = metrics.transcribe_options(FakeModel("cpu"))
    assert cpu == {
        "fp16": False,
        "temperature": 0.0,
        "condition_on_previous_text": True,
        "language": None,
        "verbose": None,
    }
    assert metrics.transcribe_options(FakeModel("cuda"))["fp16"] is True
    assert metrics.transcribe_options(FakeModel("cpu"), temperature=0.2, beam_size=5)["temperature"] == 0.2
    assert metrics.transcribe_options(FakeModel("cpu"), language="English")["language"] == "English"


def test_english_only_model_refuses_other_languages() -> None:
    """Asking tiny.en for German would silently transcribe English; it is an error that names the fix."""
    with pytest.raises(ValueError, match="English-only.*'base'"):
        metrics.transcribe_options(FakeModel(multilingual=False), language="de")
    assert metrics.transcribe_options(FakeModel(multilingual=True), language="de")["language"] == "de"


def test_measure_rtf_passes_decode_defaults_to_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """A model is called through transcribe_options, and caller options reach it."""
    model = FakeModel()
    metrics.measure_rtf(model, seconds(1.0), warmup=0, repeats=1, condition_on_previous_text=False)
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
        metrics.measure_rtf(lambda audio: None, **args)


def test_measure_rtf_rejects_non_callables() -> None:
    """A string (e.g. a model name) is neither a model nor a callable: say what to pass instead."""
    with pytest.raises(TypeError, match="load_model"):
        metrics.measure_rtf("tiny.en", seconds(1.0))


def test_transcribe_and_measure_fields_with_fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """One synchronised run: text stripped, seconds from the clock, RTF and the real-time verdict."""
    fake_clock(monkeypatch, [5.0, 6.5])
    result = metrics.transcribe_and_measure(FakeModel(text="  hi there "), seconds(3.0))
    assert result.text == "hi there" and result.language == "en"
    assert result.audio_duration_s == 3.0 and result.process_time_s == 1.5
    assert result.rtf == pytest.approx(0.5) and result.faster_than_realtime is True
    assert result.segments[0]["tokens"] == [50363, 1, 2, 50463]
    fake_clock(monkeypatch, [0.0, 4.0])
    assert metrics.transcribe_and_measure(FakeModel(), seconds(3.0)).faster_than_realtime is False


def test_rtf_sweep_cuts_speech_and_adds_tone_with_fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each duration is timed on the first N seconds of the source and on a tone of N seconds."""
    model = FakeModel(text=" one two three")
    source = np.linspace(-0.5, 0.5, 5 * SR, dtype=np.float32)
    points = metrics.rtf_sweep(model, [1, 2.5], source=source, verbose=False, warmup=1)
    assert [(p.signal, p.duration_s) for p in points] == [
        ("speech", 1.0),
        ("tone", 1.0),
        ("speech", 2.5),
        ("tone", 2.5),
    ]
    assert len(model.audios) == 5  # 1 warm-up + 4 points
    np.testing.assert_array_equal(model.audios[3], source[: round(2.5 * SR)])
    assert points[0].n_tokens == 4 and points[0].n_words == 3 and points[0].text == "one two three"
    table = metrics.sweep_table(points)
    assert list(table.columns) == [
        "signal",
        "duration_s",
        "process_time_s",
        "rtf",
        "n_tokens",
        "n_words",
        "text",
    ]
    assert len(table) == 4


def test_rtf_sweep_refuses_a_source_shorter_than_the_sweep() -> None:
    """Cutting 10 s from 2 s of audio would time the wrong length; say how long the source is."""
    with pytest.raises(ValueError, match=r"holds 2\.0 s .* needs 10 s"):
        metrics.rtf_sweep(FakeModel(), [1, 10], source=seconds(2.0), verbose=False)


# --- accuracy -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "hypothesis"),
    [
        ("Hello, World!", "hello world"),  # case and punctuation
        ("It costs twenty five dollars.", "It costs $25."),  # spelled-out numbers and currency
        ("It isn't here, I'm sure.", "it is not here i am sure"),  # contractions
        ("The colour of Mr. Smith's car", "the color of mister smith's car"),  # spelling, titles
    ],
)
def test_wer_normalises_english_before_scoring(reference: str, hypothesis: str) -> None:
    """Formatting differences are not recognition errors: Whisper's English normaliser removes them."""
    assert metrics.wer(reference, hypothesis) == 0.0


def test_wer_counts_real_errors() -> None:
    """After normalisation, real substitutions, deletions and insertions count against the reference."""
    counts = metrics.word_errors("The cat sat on the mat.", "the cat sat on a mat today")
    assert (counts.substitutions, counts.deletions, counts.insertions, counts.hits) == (1, 0, 1, 5)
    assert counts.reference_words == 6 and counts.errors == 2
    assert metrics.wer("The cat sat on the mat.", "the cat sat on a mat today") == pytest.approx(2 / 6)
    assert metrics.wer("one small step", "") == 1.0


def test_non_english_uses_the_basic_normaliser() -> None:
    """Other languages lose case and punctuation but keep their spelling (no English number rules)."""
    assert metrics.normalize_text("Guten Tag, Herr Müller!", "de") == "guten tag herr müller"
    assert metrics.wer("Guten Tag, Herr Müller!", "guten tag herr müller", language="German") == 0.0
    assert metrics.normalize_text("twenty five", "de") == "twenty five"


def test_corpus_wer_sums_errors_instead_of_averaging_rates() -> None:
    """One wrong word in a 1-word clip and a perfect 9-word clip: 1/10 corpus WER, not a 50 % mean."""
    pairs = [
        ("hello", "yellow"),
        ("the quick brown fox jumps over the lazy dog", "the quick brown fox jumps over the lazy dog"),
    ]
    per_clip = [metrics.wer(ref, hyp) for ref, hyp in pairs]
    assert sum(per_clip) / len(per_clip) == pytest.approx(0.5)
    assert metrics.corpus_wer(pairs) == pytest.approx(0.1)
    counts = [metrics.word_errors(ref, hyp) for ref, hyp in pairs]
    assert metrics.corpus_wer(counts) == pytest.approx(0.1)
    assert (counts[0] + counts[1]).reference_words == 10


@pytest.mark.parametrize("reference", ["", "   ", "uh [music]"])
def test_empty_reference_is_an_error_not_a_number(reference: str) -> None:
    """A reference with nothing scorable left has no WER: a ValueError explains instead of 0, inf or nan."""
    with pytest.raises(ValueError, match="empty after 'en' text normalisation"):
        metrics.wer(reference, "some words")
    with pytest.raises(ValueError, match="empty after"):
        metrics.cer(reference, "some words")


def test_cer_for_chinese_ignores_punctuation_and_spaces() -> None:
    """Chinese is scored by characters; punctuation and the spaces it leaves behind are not errors."""
    assert metrics.cer("你好，世界。", "你好 世界", language="zh") == 0.0
    assert metrics.cer("你好，世界。", "你好世", language="zh") == pytest.approx(0.25)
    assert metrics.error_rate("你好，世界。", "你好世", language="zh") == pytest.approx(0.25)
    assert metrics.error_counts("안녕하세요, 세계!", "안녕하세요 세계", "ko").unit == "char"


def test_wer_redirects_languages_scored_by_characters() -> None:
    """WER on Chinese would count a whole sentence as one word: the error points to cer()/error_rate()."""
    with pytest.raises(ValueError, match=r"Chinese \('zh'\).*cer\(\).*error_rate\(\)"):
        metrics.wer("你好世界", "你好世界", language="zh")


def test_cer_on_spaced_languages_counts_one_space_between_words() -> None:
    """In English CER, punctuation and doubled spaces vanish but word boundaries still count."""
    assert metrics.cer("Hello, world!", "hello   world") == 0.0
    assert metrics.cer("hello world", "helloworld") == pytest.approx(1 / 11)


def test_error_rate_picks_wer_for_spaced_languages() -> None:
    """error_rate is WER wherever words are separated by spaces."""
    assert metrics.error_rate("the cat sat", "the cat sat down") == pytest.approx(1 / 3)
    assert metrics.error_counts("la casa", "la cosa", "es").unit == "word"


def test_unknown_language_and_mixed_units_are_errors() -> None:
    """A typo in the language must not silently switch normaliser; WER and CER counts never add up."""
    with pytest.raises(ValueError, match="unknown language 'englsh'"):
        metrics.wer("a", "a", language="englsh")
    with pytest.raises(ValueError, match="do not mix"):
        _ = metrics.word_errors("a b", "a b") + metrics.char_errors("ab", "ab")


def test_evaluate_builds_rows_and_sums_corpus_rates() -> None:
    """Per-clip rows plus corpus WER over summed words, with CER kept apart for Chinese clips."""
    model = FakeModel(multilingual=True, text=" hello world")
    clips = [
        FakeClip("a", "en", "Hello, world!", 2.0),
        FakeClip("b", "en", "hello big wide world", 1.0),
        FakeClip("c", "zh", "你好", 1.0),
    ]
    evaluation = metrics.evaluate(model, clips, verbose=False)
    assert [call["language"] for call in model.calls] == ["en", "en", "zh"]
    assert [(r.id, r.metric, r.errors, r.words) for r in evaluation.rows] == [
        ("a", "wer", 0, 2),
        ("b", "wer", 2, 4),
        ("c", "cer", 10, 2),
    ]
    assert evaluation.corpus_wer == pytest.approx(2 / 6)
    assert evaluation.corpus_cer == pytest.approx(10 / 2)
    assert evaluation.audio_s == pytest.approx(4.0)
    table = evaluation.table()
    assert list(table["error_rate"]) == pytest.approx([0.0, 0.5, 5.0])
    by_language = evaluation.by_language().set_index("language")
    assert by_language.loc["en", "error_rate"] == pytest.approx(2 / 6)
    assert by_language.loc["en", "clips"] == 2


def test_evaluate_refuses_foreign_clips_for_english_only_models_before_decoding() -> None:
    """tiny.en on German clips would waste minutes and report nonsense: fail before the first decode."""
    model = FakeModel(multilingual=False)
    clips = [FakeClip("en-1", "en", "hello"), FakeClip("de-1", "de", "hallo")]
    with pytest.raises(ValueError, match=r"English-only.*de-1 \(de\)"):
        metrics.evaluate(model, clips, verbose=False)
    assert model.calls == []


def test_evaluate_refuses_clips_without_transcripts() -> None:
    """A clip with only a language label cannot be scored; the message says how to select scorable clips."""
    with pytest.raises(ValueError, match="with_transcript=True"):
        metrics.evaluate(FakeModel(), [FakeClip("x", "en", "")], verbose=False)


# --- throughput ---------------------------------------------------------------------------------------------


def test_measure_throughput_sequential_arithmetic(monkeypatch: pytest.MonkeyPatch) -> None:
    """2 minutes of audio in 30 s of compute is 4 audio minutes per compute minute; warm-up is not timed."""
    model = FakeModel(text=" ok ")
    fake_clock(monkeypatch, [100.0, 130.0])
    result = metrics.measure_throughput(model, [seconds(60.0), seconds(40.0), seconds(20.0)], verbose=False)
    assert len(model.calls) == 4  # warm-up on the first file, then 3 timed
    assert result.mode == "sequential" and result.batch_size == 1 and result.n_files == 3
    assert result.audio_minutes == pytest.approx(2.0) and result.compute_minutes == pytest.approx(0.5)
    assert result.audio_minutes_per_compute_minute == pytest.approx(4.0)
    assert result.files_per_second == pytest.approx(0.1) and result.total_s == 30.0
    assert result.texts == ["ok", "ok", "ok"]


def test_measure_throughput_batched_calls_transcribe_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batched mode hands every file to longform.transcribe_batch with the batch size, in one timed call."""
    received: list[tuple[int, int]] = []

    def transcribe_batch(model: Any, audios: list, batch_size: int = 8, language: Any = None, verbose: bool = True):
        received.append((len(audios), batch_size))
        return [f" text {i}" for i in range(len(audios))]

    fake = types.ModuleType("course_utils.longform")
    fake.transcribe_batch = transcribe_batch
    monkeypatch.setitem(sys.modules, "course_utils.longform", fake)
    fake_clock(monkeypatch, [0.0, 2.0])
    result = metrics.measure_throughput(FakeModel(), [seconds(1.0)] * 5, mode="batched", batch_size=4)
    assert received == [(1, 4), (5, 4)]  # warm-up on one file, then all five
    assert result.batch_size == 4 and result.texts == [f"text {i}" for i in range(5)]
    assert result.files_per_second == pytest.approx(2.5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "parallel"}, "mode must be one of"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1"),
        ({"audios": []}, "non-empty list"),
    ],
)
def test_measure_throughput_rejects_bad_inputs(kwargs: dict[str, Any], message: str) -> None:
    """Unknown modes, empty batches and empty file lists fail before any work."""
    args = {"audios": [seconds(1.0)], **kwargs}
    with pytest.raises(ValueError, match=message):
        metrics.measure_throughput(FakeModel(), **args)


# --- real runs with tiny.en ---------------------------------------------------------------------------------

SENTENCES = [  # espeak-ng sentences that tiny.en transcribes word for word
    "Please open the window and let the fresh air in.",
    "I would like a cup of coffee, please.",
    "And so my fellow Americans, ask not what your country can do for you.",
]


@pytest.fixture(scope="module")
def tiny_en() -> Any:
    """tiny.en loaded once for the module (offline packages work without network)."""
    import course_utils

    return course_utils.load_model("tiny.en")


@pytest.fixture(scope="module")
def speech() -> list[np.ndarray]:
    """Short espeak-ng sentences with known text (2-4 s each)."""
    return [synth_speech(sentence) for sentence in SENTENCES]


def test_transcribe_and_measure_tiny_en_without_fp16_warning(tiny_en: Any, speech: list[np.ndarray]) -> None:
    """On CPU the defaults pick fp32, so whisper never warns; the fields describe the run."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*FP16")
        result = metrics.transcribe_and_measure(tiny_en, speech[0])
    assert metrics.wer(SENTENCES[0], result.text) <= 0.1
    assert result.language == "en"
    assert result.audio_duration_s == pytest.approx(len(speech[0]) / SR)
    assert result.process_time_s > 0
    assert result.rtf == pytest.approx(result.process_time_s / result.audio_duration_s)
    assert result.faster_than_realtime == (result.rtf < 1)
    assert result.segments and "tokens" in result.segments[0]


@pytest.mark.slow
def test_rtf_sweep_on_two_short_durations(tiny_en: Any, speech: list[np.ndarray]) -> None:
    """A real sweep gives one point per (signal, duration) with a positive RTF and the decoded text."""
    points = metrics.rtf_sweep(tiny_en, [1.0, 2.0], source=speech[0], verbose=False)
    assert [(p.signal, p.duration_s) for p in points] == [
        ("speech", 1.0),
        ("tone", 1.0),
        ("speech", 2.0),
        ("tone", 2.0),
    ]
    assert all(p.process_time_s > 0 and p.rtf == pytest.approx(p.process_time_s / p.duration_s) for p in points)
    assert "window" in points[2].text.lower()


@pytest.mark.slow
def test_measure_throughput_sequential_tiny_en(tiny_en: Any, speech: list[np.ndarray]) -> None:
    """Three short files through model.transcribe: texts in order and consistent rates."""
    result = metrics.measure_throughput(tiny_en, speech, verbose=False)
    assert result.n_files == 3 and len(result.texts) == 3
    assert metrics.corpus_wer(list(zip(SENTENCES, result.texts, strict=True))) <= 0.2
    assert result.audio_minutes == pytest.approx(sum(len(a) for a in speech) / SR / 60)
    assert result.files_per_second == pytest.approx(3 / result.total_s)


@pytest.mark.slow
@pytest.mark.skipif(
    not _longform_has_transcribe_batch(),
    reason="course_utils.longform.transcribe_batch does not exist yet (a colleague is writing it)",
)
def test_measure_throughput_batched_tiny_en(tiny_en: Any, speech: list[np.ndarray]) -> None:
    """Batched mode through the real transcribe_batch gives the same words as sequential decoding."""
    result = metrics.measure_throughput(tiny_en, speech, mode="batched", batch_size=3, verbose=False)
    assert result.mode == "batched" and result.batch_size == 3 and len(result.texts) == 3
    assert metrics.corpus_wer(list(zip(SENTENCES, result.texts, strict=True))) <= 0.2


@pytest.mark.corpus
def test_evaluate_refuses_corpus_german_for_tiny_en_before_loading_audio() -> None:
    """Real corpus clips by id: an English-only model with a German clip fails before decoding anything."""
    from course_utils.data import list_clips

    german = list_clips(language="de", with_transcript=True)[0]
    with pytest.raises(ValueError, match="English-only"):
        metrics.evaluate(FakeModel(multilingual=False), ["jfk-16k", german.id], verbose=False)


@pytest.mark.corpus
@pytest.mark.slow
def test_evaluate_tiny_en_on_corpus_clips(tiny_en: Any) -> None:
    """tiny.en on JFK and a LibriSpeech clip: low WER, corpus WER = summed errors over summed words."""
    evaluation = metrics.evaluate(tiny_en, ["jfk-16k", "librispeech-1089-134686-0001"], verbose=False)
    assert [row.id for row in evaluation.rows] == ["jfk-16k", "librispeech-1089-134686-0001"]
    assert evaluation.rows[0].words == 22 and evaluation.rows[0].error_rate <= 0.1
    errors, words = sum(r.errors for r in evaluation.rows), sum(r.words for r in evaluation.rows)
    assert evaluation.corpus_wer == pytest.approx(errors / words) and evaluation.corpus_wer <= 0.2
    assert evaluation.corpus_cer is None


@pytest.mark.slow
@pytest.mark.corpus
def test_compare_models_measures_each_model_on_the_same_clips() -> None:
    """Both offline models are loaded, timed and scored on identical clips; base is the more accurate here."""
    clips = [c for c in data.list_clips("en", with_transcript=True) if c.id.startswith("librispeech")][:3]
    rows = metrics.compare_models(["tiny.en", "base"], clips, device="cpu", verbose=False)
    assert [r.model for r in rows] == ["tiny.en", "base"]
    assert [r.parameters_m for r in rows] == [37.18, 71.83]
    assert all(r.load_s > 0 and 0 < r.rtf < 5 and 0 <= r.wer < 0.5 for r in rows)
    assert [s.id for s in rows[0].evaluation.rows] == [s.id for s in rows[1].evaluation.rows] == [c.id for c in clips]
    assert "evaluation" not in rows[0].to_dict()


def test_method_table_scores_every_result_against_the_first() -> None:
    """Seconds, speed-up over the baseline and WER for each labelled result; bad baseline named."""
    reference = "the quick brown fox jumps over the lazy dog"
    table = metrics.method_table(reference, {
        "slow": (reference, 4.0),
        "fast but lossy": ("the quick brown fox over the lazy dog", 1.0),
    })
    assert list(table["method"]) == ["slow", "fast but lossy"]
    assert list(table["speed-up"]) == [1.0, 4.0]
    assert table["wer"].tolist() == [0.0, pytest.approx(1 / 9)]
    with pytest.raises(KeyError, match="fastest"):
        metrics.method_table(reference, {"a": (reference, 1.0)}, baseline="fastest")
    with pytest.raises(TypeError, match="processing time"):
        metrics.method_table(reference, {"a": object()})


def test_timed_call_returns_the_output_of_the_last_timed_run() -> None:
    """The transcript comes back with the timing, so callers never run the model twice."""
    calls: list[int] = []

    def fake(audio: np.ndarray) -> str:
        calls.append(len(calls))
        return f"run {len(calls)}"

    timing, output = metrics.timed_call(fake, np.zeros(SR, dtype=np.float32), warmup=1, repeats=2, device="cpu")
    assert output == "run 3" and len(timing.runs) == 2 and len(calls) == 3
