"""Tests for course_utils.evaluation: per-clip scores, corpus rates, model comparison and throughput.

Most tests use fakes and a mocked clock; a few run tiny.en (loaded once for the module) on synthetic speech or
corpus clips (marked `corpus`); model tests that take more than a few seconds are marked `slow`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from measure_fakes import SENTENCES, SR, FakeClip, FakeModel, fake_clock, load_tiny_en, seconds, spoken_sentences

from course_utils import corpus, evaluation
from course_utils.scoring import corpus_wer


def test_evaluate_builds_rows_and_sums_corpus_rates() -> None:
    """Per-clip rows plus corpus WER over summed words, with CER kept apart for Chinese clips."""
    model = FakeModel(multilingual=True, text=" hello world")
    clips = [
        FakeClip("a", "en", "Hello, world!", 2.0),
        FakeClip("b", "en", "hello big wide world", 1.0),
        FakeClip("c", "zh", "你好", 1.0),
    ]
    scores = evaluation.evaluate(model, clips, verbose=False)
    assert [call["language"] for call in model.calls] == ["en", "en", "zh"]
    assert [(r.id, r.metric, r.errors, r.words) for r in scores.rows] == [
        ("a", "wer", 0, 2),
        ("b", "wer", 2, 4),
        ("c", "cer", 10, 2),
    ]
    assert scores.corpus_wer == pytest.approx(2 / 6)
    assert scores.corpus_cer == pytest.approx(10 / 2)
    assert scores.audio_s == pytest.approx(4.0)
    table = scores.table()
    assert list(table["error_rate"]) == pytest.approx([0.0, 0.5, 5.0])
    by_language = scores.by_language().set_index("language")
    assert by_language.loc["en", "error_rate"] == pytest.approx(2 / 6)
    assert by_language.loc["en", "clips"] == 2


def test_evaluate_refuses_foreign_clips_for_english_only_models_before_decoding() -> None:
    """tiny.en on German clips would waste minutes and report nonsense: fail before the first decode."""
    model = FakeModel(multilingual=False)
    clips = [FakeClip("en-1", "en", "hello"), FakeClip("de-1", "de", "hallo")]
    with pytest.raises(ValueError, match=r"English-only.*de-1 \(de\)"):
        evaluation.evaluate(model, clips, verbose=False)
    assert model.calls == []


def test_evaluate_refuses_clips_without_transcripts() -> None:
    """A clip with only a language label cannot be scored; the message says how to select scorable clips."""
    with pytest.raises(ValueError, match="with_transcript=True"):
        evaluation.evaluate(FakeModel(), [FakeClip("x", "en", "")], verbose=False)


# --- throughput ---------------------------------------------------------------------------------------------


def test_measure_throughput_sequential_arithmetic(monkeypatch: pytest.MonkeyPatch) -> None:
    """2 minutes of audio in 30 s of compute is 4 audio minutes per compute minute; warm-up is not timed."""
    model = FakeModel(text=" ok ")
    fake_clock(monkeypatch, evaluation, [100.0, 130.0])
    result = evaluation.measure_throughput(model, [seconds(60.0), seconds(40.0), seconds(20.0)], verbose=False)
    assert len(model.calls) == 4  # warm-up on the first file, then 3 timed
    assert result.mode == "sequential" and result.batch_size == 1 and result.n_files == 3
    assert result.audio_minutes == pytest.approx(2.0) and result.compute_minutes == pytest.approx(0.5)
    assert result.audio_minutes_per_compute_minute == pytest.approx(4.0)
    assert result.files_per_second == pytest.approx(0.1) and result.compute_s == 30.0
    assert result.texts == ["ok", "ok", "ok"]


def test_measure_throughput_batched_calls_transcribe_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batched mode hands every file to longform.transcribe_batch with the batch size, in one timed call."""
    received: list[tuple[int, int]] = []

    def transcribe_batch(model: Any, audios: list, batch_size: int = 8, language: Any = None, verbose: bool = True):
        received.append((len(audios), batch_size))
        return [f" text {i}" for i in range(len(audios))]

    monkeypatch.setattr(evaluation, "transcribe_batch", transcribe_batch)
    fake_clock(monkeypatch, evaluation, [0.0, 2.0])
    result = evaluation.measure_throughput(FakeModel(), [seconds(1.0)] * 5, mode="batched", batch_size=4)
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
        evaluation.measure_throughput(FakeModel(), **args)


# --- real runs with tiny.en ---------------------------------------------------------------------------------

tiny_en = pytest.fixture(scope="module", name="tiny_en")(load_tiny_en)
speech = pytest.fixture(scope="module", name="speech")(spoken_sentences)



@pytest.mark.slow
def test_measure_throughput_sequential_tiny_en(tiny_en: Any, speech: list[np.ndarray]) -> None:
    """Three short files through model.transcribe: texts in order and consistent rates."""
    result = evaluation.measure_throughput(tiny_en, speech, verbose=False)
    assert result.n_files == 3 and len(result.texts) == 3
    assert corpus_wer(list(zip(SENTENCES, result.texts, strict=True))) <= 0.2
    assert result.audio_minutes == pytest.approx(sum(len(a) for a in speech) / SR / 60)
    assert result.files_per_second == pytest.approx(3 / result.compute_s)


@pytest.mark.slow
def test_measure_throughput_batched_tiny_en(tiny_en: Any, speech: list[np.ndarray]) -> None:
    """Batched mode through the real transcribe_batch gives the same words as sequential decoding."""
    result = evaluation.measure_throughput(tiny_en, speech, mode="batched", batch_size=3, verbose=False)
    assert result.mode == "batched" and result.batch_size == 3 and len(result.texts) == 3
    assert corpus_wer(list(zip(SENTENCES, result.texts, strict=True))) <= 0.2


@pytest.mark.corpus
def test_evaluate_refuses_corpus_german_for_tiny_en_before_loading_audio() -> None:
    """Real corpus clips by id: an English-only model with a German clip fails before decoding anything."""
    from course_utils.corpus import list_clips

    german = list_clips(language="de", with_transcript=True)[0]
    with pytest.raises(ValueError, match="English-only"):
        evaluation.evaluate(FakeModel(multilingual=False), ["jfk-16k", german.id], verbose=False)


@pytest.mark.corpus
@pytest.mark.slow
def test_evaluate_tiny_en_on_corpus_clips(tiny_en: Any) -> None:
    """tiny.en on JFK and a LibriSpeech clip: low WER, corpus WER = summed errors over summed words."""
    scores = evaluation.evaluate(tiny_en, ["jfk-16k", "librispeech-1089-134686-0001"], verbose=False)
    assert [row.id for row in scores.rows] == ["jfk-16k", "librispeech-1089-134686-0001"]
    assert scores.rows[0].words == 22 and scores.rows[0].error_rate <= 0.1
    errors, words = sum(r.errors for r in scores.rows), sum(r.words for r in scores.rows)
    assert scores.corpus_wer == pytest.approx(errors / words) and scores.corpus_wer <= 0.2
    assert scores.corpus_cer is None


@pytest.mark.slow
@pytest.mark.corpus
def test_compare_models_measures_each_model_on_the_same_clips() -> None:
    """Both offline models are loaded, timed and scored on identical clips; base is the more accurate here."""
    clips = [c for c in corpus.list_clips("en", with_transcript=True) if c.id.startswith("librispeech")][:3]
    rows = evaluation.compare_models(["tiny.en", "base"], clips, device="cpu", verbose=False)
    assert [r.model for r in rows] == ["tiny.en", "base"]
    assert [r.parameters_m for r in rows] == [37.18, 71.83]
    assert all(r.load_s > 0 and 0 < r.rtf < 5 and 0 <= r.wer < 0.5 for r in rows)
    assert [s.id for s in rows[0].evaluation.rows] == [s.id for s in rows[1].evaluation.rows] == [c.id for c in clips]
    assert "evaluation" not in rows[0].to_dict()


def test_method_table_scores_every_result_against_the_first() -> None:
    """Seconds, speed-up over the baseline and WER for each labelled result; bad baseline named."""
    reference = "the quick brown fox jumps over the lazy dog"
    table = evaluation.method_table(reference, {
        "slow": (reference, 4.0),
        "fast but lossy": ("the quick brown fox over the lazy dog", 1.0),
    })
    assert list(table["method"]) == ["slow", "fast but lossy"]
    assert list(table["speed-up"]) == [1.0, 4.0]
    assert table["wer"].tolist() == [0.0, pytest.approx(1 / 9)]
    with pytest.raises(KeyError, match="fastest"):
        evaluation.method_table(reference, {"a": (reference, 1.0)}, baseline="fastest")
    with pytest.raises(TypeError, match="processing time"):
        evaluation.method_table(reference, {"a": object()})
