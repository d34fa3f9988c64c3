"""Long-form transcription: the overlap merge, window coverage, edge cases, errors and real tiny.en runs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from course_utils.audio import SAMPLE_RATE
from course_utils.longform import (
    LongformResult,
    engine,
    fast_decoding,
    merge,
    merge_overlapping,
    transcribe_batch,
    transcribe_chunked,
    transcribe_overlapping,
    transcribe_vad,
    vad_windows,
    window_starts,
)

# --- merge_overlapping: known answers -----------------------------------------------------------------------


def words(text: str) -> list[str]:
    """Split on spaces: the merge works on words as well as on token ids."""
    return text.split()


def test_merge_identical_overlap_is_kept_once() -> None:
    """Tokens both windows agree on appear once."""
    assert merge_overlapping([[1, 2, 3, 4, 5], [4, 5, 6, 7]]) == [1, 2, 3, 4, 5, 6, 7]
    assert merge_overlapping([words("a b c d"), words("c d e f"), words("e f g")]) == words("a b c d e f g")


def test_merge_partial_overlap_cuts_in_the_middle() -> None:
    """A disagreement after the middle of the matched overlap is resolved in favour of the right window."""
    left, right = words("we went to the old mill"), words("the old mall by the river")
    assert merge_overlapping([left, right]) == words("we went to the old mall by the river")
    # before the middle the left window wins
    left, right = words("we went to tha old mall"), words("to the old mall by the river")
    assert merge_overlapping([left, right]) == words("we went to tha old mall by the river")


def test_merge_without_match_concatenates() -> None:
    """No overlap (or a single equal token, which is not evidence) means plain concatenation."""
    assert merge_overlapping([[1, 2, 3], [4, 5, 6]]) == [1, 2, 3, 4, 5, 6]
    assert merge_overlapping([[1, 2, 3], [3, 4]]) == [1, 2, 3, 3, 4]


def test_merge_repeated_words_are_neither_lost_nor_doubled() -> None:
    """Runs of the same word align by position, so their count survives the merge."""
    assert merge_overlapping([words("no no no no yes"), words("no yes maybe")]) == words(
        "no no no no yes maybe"
    )
    assert merge_overlapping([words("a the the the"), words("the the the b")]) == words("a the the the b")


def test_merge_empty_chunks() -> None:
    """Empty windows (silence) add nothing; the rest is joined."""
    assert merge_overlapping([]) == []
    assert merge_overlapping([[1, 2, 3]]) == [1, 2, 3]
    assert merge_overlapping([[], [1, 2]]) == [1, 2]
    assert merge_overlapping([[1, 2], []]) == [1, 2]
    assert merge_overlapping([[1, 2, 3], [], [3, 4, 5]]) == [1, 2, 3, 3, 4, 5]


def test_merge_limits_reject_chance_matches() -> None:
    """HF's rule accepts two equal tokens far back; max_shift and min_ratio turn that into concatenation."""
    left, right = [1, 2, 3, 4, 5, 6, 7, 8], [2, 3, 9, 9]
    assert merge_overlapping([left, right]) == [1, 2, 3, 9, 9]  # the pipeline's rule, as documented
    assert merge_overlapping([left, right], max_shift=3) == left + right
    assert merge_overlapping([left, right], min_ratio=0.75) == left + right


def test_merge_counts_add_up() -> None:
    """Per-window kept counts sum to the merged length (the records' tokens_kept)."""
    seqs = [words("a b c d e"), words("d e f g h"), words("g h i")]
    merged, kept = merge.merge_with_counts(seqs)
    assert merged == words("a b c d e f g h i")
    assert sum(kept) == len(merged) and len(kept) == 3


# --- window_starts and VAD windows --------------------------------------------------------------------------


@pytest.mark.parametrize("chunk, step", [(480, 480), (480, 400), (480, 250), (7, 3), (5, 1)])
def test_window_starts_cover_audio_exactly_once(chunk: int, step: int) -> None:
    """Every sample lies in a window, windows never start past the end, and none is redundant."""
    for n in [1, 2, step, chunk - 1, chunk, chunk + 1, 2 * chunk, 3 * chunk + 17, 10 * chunk - 1, 4799]:
        starts = window_starts(n, chunk, step)
        assert starts[0] == 0 and all(b - a == step for a, b in zip(starts, starts[1:], strict=False))
        assert starts[-1] < n <= starts[-1] + chunk  # the last window reaches the end
        assert len(starts) == 1 or starts[-2] + chunk < n  # ...and is needed
        covered = np.zeros(n, dtype=int)
        for s in starts:
            covered[s : s + chunk] += 1
        assert covered.min() >= 1
        if step == chunk:
            assert (covered == 1).all()
        owned = np.zeros(n, dtype=int)  # what each window contributes up to the next start: a partition
        for a, b in zip(starts, [*starts[1:], n], strict=True):
            owned[a:b] += 1
        assert (owned == 1).all()


def test_window_starts_edge_cases() -> None:
    """No audio means no window; a step longer than the window would leave gaps."""
    assert window_starts(0, 10, 5) == []
    with pytest.raises(ValueError, match="gaps"):
        window_starts(100, 10, 11)
    with pytest.raises(ValueError):
        window_starts(100, 0, 0)


def test_vad_windows_merge_segments_up_to_the_limit() -> None:
    """Speech segments are grouped into windows cut only between segments, each at most max_samples."""
    segments = [(0, 10), (12, 20), (25, 28), (40, 45), (46, 90)]
    assert vad_windows(segments, 30) == [(0, 28), (40, 45), (46, 76), (76, 90)]
    assert vad_windows([], 30) == []
    assert vad_windows([(5, 50)], 100, n_samples=40) == [(5, 40)]


# --- real model ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model():  # noqa: ANN201
    """tiny.en, loaded once (offline package or cache); a loading error is a failure, never a skip."""
    from course_utils import load_model

    return load_model("tiny.en", device="cpu")


@pytest.fixture(scope="module")
def speech_40s():  # noqa: ANN201
    """The first ≈47 s of the benchmark's long form and its reference (30 s falls inside a sentence)."""
    from course_utils.mixes import english_long_form, long_form

    return long_form(english_long_form().clip_ids, max_duration_s=48)


def test_errors_say_what_to_change(model) -> None:  # noqa: ANN001
    """Bad settings fail before any decoding, naming the setting."""
    audio = np.zeros(SAMPLE_RATE, dtype=np.float32)
    with pytest.raises(ValueError, match="empty"):
        transcribe_overlapping(model, np.zeros(0, dtype=np.float32))
    with pytest.raises(ValueError, match="overlap_s"):
        transcribe_overlapping(model, audio, chunk_s=10, overlap_s=10)
    with pytest.raises(ValueError, match="chunk_s"):
        transcribe_overlapping(model, audio, chunk_s=45)
    with pytest.raises(ValueError, match="chunk_s"):
        transcribe_chunked(model, audio, chunk_s=0)
    with pytest.raises(ValueError, match="batch_size"):
        transcribe_overlapping(model, audio, batch_size=0)
    with pytest.raises(ValueError, match="transcribe_overlapping"):
        transcribe_batch(model, [audio, np.zeros(31 * SAMPLE_RATE, dtype=np.float32)])
    with pytest.raises(ValueError, match="English-only"):
        transcribe_chunked(model, audio, language="de")


def test_silence_gives_empty_text(model) -> None:  # noqa: ANN001
    """Silence yields (next to) no text and no crash; with VAD Whisper is not even run."""
    silence = np.zeros(35 * SAMPLE_RATE, dtype=np.float32)
    for result in (
        transcribe_chunked(model, silence, verbose=False),
        transcribe_overlapping(model, silence, batch_size=2, verbose=False),
    ):
        assert len(result.text.split()) <= 2, result.text
        assert len(result.chunks) == 2
    vad = transcribe_vad(model, silence, verbose=False)
    assert vad.text == "" and vad.chunks == []


def test_short_audio_is_one_window(model) -> None:  # noqa: ANN001
    """Audio shorter than a window is one window; every method agrees and the record spans the audio."""
    from course_utils.corpus import load_clip
    from course_utils.scoring import wer

    audio, reference = load_clip("jfk")
    results = [
        transcribe_chunked(model, audio, verbose=False),
        transcribe_overlapping(model, audio, verbose=False),
        transcribe_vad(model, audio, verbose=False),
    ]
    for result in results:
        assert len(result.chunks) == 1
        assert wer(reference, result.text) < 0.1, result.text
        assert result.language == "en" and result.audio_s == pytest.approx(11.0, abs=0.01)
    assert results[0].chunks[0].start_s == 0 and results[0].chunks[0].end_s == pytest.approx(11.0, abs=0.01)


@pytest.mark.corpus
def test_overlapping_beats_chunked_on_40s(model, speech_40s) -> None:  # noqa: ANN001
    """On ~40 s of speech the cut at 30 s costs the chunked method words the overlap merge keeps."""
    from course_utils.scoring import wer

    audio, reference = speech_40s.audio, speech_40s.reference
    chunked = transcribe_chunked(model, audio, verbose=False)
    overlapping = transcribe_overlapping(model, audio, batch_size=2, verbose=False)
    assert [(c.start_s, c.end_s) for c in chunked.chunks] == [(0.0, 30.0), (30.0, len(audio) / SAMPLE_RATE)]
    assert [c.start_s for c in overlapping.chunks] == [0.0, 25.0]
    # the records say how many tokens of each window the merge kept (tiny.en skips the end of window 1 here,
    # and the reference says "he could wait no longer" twice, 5 s apart: the timed merge keeps both)
    assert all(0 <= c.tokens_kept <= c.n_tokens for c in overlapping.chunks)
    assert overlapping.text.lower().count("could wait no longer") == 2
    n_ref = len(reference.split())
    assert abs(len(overlapping.text.split()) - n_ref) <= 0.1 * n_ref  # nothing doubled, nothing lost
    assert wer(reference, overlapping.text) <= wer(reference, chunked.text)
    assert wer(reference, overlapping.text) < 0.15
    vad = transcribe_vad(model, audio, batch_size=4, verbose=False)
    assert wer(reference, vad.text) < 0.15
    threads = torch.get_num_threads()
    transcribe_vad(model, audio[: 5 * SAMPLE_RATE], verbose=False)
    assert torch.get_num_threads() == threads  # importing silero_vad must not leave torch on one thread
    data = overlapping.to_dict()
    json.dumps(data)
    assert list(overlapping.table().columns)[:3] == ["index", "start_s", "end_s"]
    assert isinstance(overlapping, LongformResult) and overlapping.method == "overlapping"


@pytest.mark.corpus
def test_fast_decoding_gives_whispers_tokens(model, speech_40s) -> None:  # noqa: ANN001
    """The layout speed-ups change no sampled token, and leave the model as it was after the block."""
    import whisper

    mel = engine.log_mel(model, speech_40s.audio)
    spans = [(0, 30 * SAMPLE_RATE), (25 * SAMPLE_RATE, len(speech_40s.audio))]
    mels = torch.stack([engine.window_mel(mel, a, b) for a, b in spans])
    options = whisper.DecodingOptions(language="en", without_timestamps=True, fp16=False, temperature=0.0)
    with torch.inference_mode():
        features = model.encoder(mels)
        stock = whisper.decode(model, features, options)
        with fast_decoding.fast_decoding(model) as on:
            assert on
            assert "forward" in vars(model.decoder)
            fast = whisper.decode(model, features, options)
    assert [r.tokens for r in fast] == [r.tokens for r in stock]
    assert [r.avg_logprob for r in fast] == pytest.approx([r.avg_logprob for r in stock], abs=1e-4)
    assert "forward" not in vars(model.decoder)
    assert all("qkv_attention" not in vars(b.cross_attn) for b in model.decoder.blocks)


def test_cpu_encoder_slices_give_the_whole_batchs_features(model) -> None:  # noqa: ANN001
    """engine.encode on a CPU runs CPU_ENCODER_BATCH windows per call: every window, in order, same features."""
    generator = torch.Generator().manual_seed(0)
    mels = torch.randn(2 * engine.CPU_ENCODER_BATCH + 1, model.dims.n_mels, 3000, generator=generator)
    with torch.inference_mode():
        whole = model.encoder(mels)
        sliced = engine.encode(model, mels)
    assert sliced.shape == whole.shape
    assert torch.allclose(sliced, whole, atol=1e-4)


@pytest.mark.corpus
@pytest.mark.parametrize("timestamps", [False, True])
def test_finished_rows_leave_the_batch_with_whispers_tokens(model, speech_40s, timestamps) -> None:  # noqa: ANN001
    """fast_decoding.decode: windows of very different lengths in one batch; rows leave, tokens stay Whisper's."""
    import whisper

    mel = engine.log_mel(model, speech_40s.audio)
    seconds = [(0, 30), (25, 47), (3, 5), (10, 12), (40, 41)]  # long, medium, two short, one almost empty
    mels = torch.stack([engine.window_mel(mel, a * SAMPLE_RATE, b * SAMPLE_RATE) for a, b in seconds])
    options = whisper.DecodingOptions(language="en", without_timestamps=not timestamps, fp16=False, temperature=0.0)
    with torch.inference_mode():
        features = model.encoder(mels)
        stock = whisper.decode(model, features, options)
        task = fast_decoding._ShrinkingTask(model, options)
        real_logits = task.inference.logits
        rows_per_step: list[int] = []

        def counting(tokens, audio_features):  # noqa: ANN001, ANN202
            rows_per_step.append(tokens.shape[0])
            return real_logits(tokens, audio_features)

        task.inference.logits = counting
        with fast_decoding.fast_decoding(model) as on:
            assert on
            shrunk = task.run(features)
    assert [r.tokens for r in shrunk] == [r.tokens for r in stock]
    assert [r.avg_logprob for r in shrunk] == pytest.approx([r.avg_logprob for r in stock], abs=1e-4)
    assert [r.no_speech_prob for r in shrunk] == pytest.approx([r.no_speech_prob for r in stock], abs=1e-5)
    assert rows_per_step[0] == len(seconds) and min(rows_per_step) < len(seconds)  # finished rows left
    assert rows_per_step == sorted(rows_per_step, reverse=True)
    assert len(rows_per_step) == max(len(r.tokens) for r in stock) + 1  # one step per token, then end-of-text


@pytest.mark.corpus
def test_transcribe_batch_keeps_input_order(model) -> None:  # noqa: ANN001
    """Batched files come back in the order given, whatever the internal sorting by length."""
    from course_utils.corpus import load_clip
    from course_utils.scoring import wer

    clips = [load_clip(i) for i in ("jfk", "librispeech-1089-134686-0001", "ljspeech-LJ001-0002")]
    texts = transcribe_batch(model, [a for a, _ in clips], batch_size=2, verbose=False)
    assert len(texts) == 3
    for (_, reference), text in zip(clips, texts, strict=True):
        assert wer(reference, text) < 0.35, (reference, text)
    assert transcribe_batch(model, [a for a, _ in clips[::-1]], batch_size=3, verbose=False) == texts[::-1]


@pytest.mark.slow
@pytest.mark.corpus
def test_overlapping_matches_sequential_wer_on_two_minutes(model) -> None:  # noqa: ANN001
    """Acceptance: on ≥ 2 minutes of speech the merged transcript's WER is ≤ openai-whisper's + 1 point."""
    from course_utils.decoding import transcribe_options
    from course_utils.mixes import english_long_form, long_form
    from course_utils.scoring import wer

    speech = long_form(english_long_form().clip_ids, max_duration_s=150)
    assert speech.duration_s >= 120
    sequential = model.transcribe(speech.audio, **transcribe_options(model))["text"]
    overlapping = transcribe_overlapping(model, speech.audio, batch_size=8, verbose=False)
    assert wer(speech.reference, overlapping.text) <= wer(speech.reference, sequential) + 0.01


# --- the decoder speed-ups: pinned, verified at first use, one warning when they fall back ------------------


def _fresh_fast_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget earlier verifications and warnings, so each test sees the first use."""
    monkeypatch.setattr(fast_decoding, "_VERIFIED", fast_decoding.weakref.WeakKeyDictionary())
    monkeypatch.setattr(fast_decoding, "_WARNED", set())


def test_fast_decoding_on_for_the_checked_version(model, monkeypatch) -> None:  # noqa: ANN001
    """The installed, checked Whisper passes the first-use check: the patch is on, no warning."""
    import warnings

    _fresh_fast_decoding(monkeypatch)
    assert fast_decoding.whisper_version() in fast_decoding.CHECKED_WHISPER_VERSIONS
    with warnings.catch_warnings():
        warnings.simplefilter("error", fast_decoding.FastDecodingFallback)
        with fast_decoding.fast_decoding(model) as on:
            assert on and "forward" in vars(model.decoder)
    assert "forward" not in vars(model.decoder)
    assert fast_decoding._VERIFIED[model] is True


def test_fast_decoding_falls_back_on_unchecked_version(model, monkeypatch) -> None:  # noqa: ANN001
    """Another Whisper version: Whisper's own decoder, and exactly one warning line however often it is used."""
    _fresh_fast_decoding(monkeypatch)
    monkeypatch.setattr(fast_decoding, "whisper_version", lambda: "20990101")
    with pytest.warns(fast_decoding.FastDecodingFallback, match="20990101") as caught:
        for _ in range(3):
            with fast_decoding.fast_decoding(model) as on:
                assert not on and "forward" not in vars(model.decoder)
    assert len(caught) == 1 and "\n" not in str(caught[0].message)


def test_fast_decoding_falls_back_when_tokens_differ(model, monkeypatch) -> None:  # noqa: ANN001
    """A patched forward that changes the logits fails the first-use check: fallback, warning, same text."""
    _fresh_fast_decoding(monkeypatch)
    right = fast_decoding._decoder_forward

    def wrong(self, x, xa, kv_cache=None):  # noqa: ANN001, ANN202
        logits = right(self, x, xa, kv_cache)
        return logits.roll(1, dims=-1)  # every token id shifted by one

    monkeypatch.setattr(fast_decoding, "_decoder_forward", wrong)
    audio = np.zeros(SAMPLE_RATE, dtype=np.float32)
    with pytest.warns(fast_decoding.FastDecodingFallback, match="other tokens"):
        with fast_decoding.fast_decoding(model) as on:
            assert not on
    assert fast_decoding._VERIFIED[model] is False
    transcribe_batch(model, [audio], verbose=False)  # decoding still works, on Whisper's own code
