"""Long audio in, text out: fixed chunks, overlapping windows merged on timed words, VAD windows, batched files.

Every method goes through one decode path, ``engine.decode_windows``: 30-second log-mel windows are encoded
in batches, the language is detected once and one ``whisper.decode`` call per batch decodes them greedily.
The methods differ only in where the windows are cut:

- ``transcribe_chunked``: back-to-back fixed windows, the lesson's naive loop done correctly (words at the
  cuts are lost or garbled; that is the lesson);
- ``transcribe_overlapping``: windows overlapping by ``overlap_s``, joined by ``merge.merge_timed`` (equal
  words at the same time in the overlap, cut at the middle of them; without such words, cut in time where
  the most words are kept); ``merge_overlapping`` is the Hugging Face pipeline's merge on plain tokens;
- ``transcribe_long`` (recommended): overlapping windows as above, plus ``recover`` for speech left without
  text;
- ``transcribe_vad``: windows cut at silences found by Silero VAD, so no word is cut and no merge is needed;
- ``transcribe_fast``: the same windows decoded once without timestamps (faster-whisper's batched way), checked
  (``onepass``);
- ``transcribe_batch``: many short files, batched for throughput.

Rooms: ``windows`` and ``merge`` (pure functions), ``vad`` (Silero), ``engine`` (the batched decode), ``files``
(``transcribe_batch``), ``onepass`` (``transcribe_fast``'s checked single pass),
``fast_decoding`` (the checked decoder speed-ups), ``coverage`` and ``recover`` (speech without text).
"""

from __future__ import annotations

from collections.abc import Sequence
from time import perf_counter
from typing import Any

import numpy as np
import torch

from ..audio import SAMPLE_RATE
from .coverage import (
    UncoveredSpeechWarning,
    drop_unspoken,
    overlap,
    speech_seconds,
    uncovered_speech,
    warn_uncovered,
    with_reasons,
)
from .engine import Covered, Segment, audio_array, decode_covered, log_mel, progress, tokenizer_for
from .files import transcribe_batch
from .merge import TimedWord, merge_overlapping, merge_timed, timed_words
from .onepass import decode_one_pass
from .recover import recover_uncovered
from .results import ChunkRecord, LongformResult
from .vad import speech_timestamps
from .windows import (
    MAX_CHUNK_S,
    check_batch_size,
    check_chunk,
    check_window_count,
    vad_windows,
    window_starts,
)

Interval = tuple[float, float]
# transcribe_long's overlap: Whisper ends a window's output 2–9 s before its end (it leaves out the sentence
# the window's end cuts); with windows every 20 s most such tails start inside the next window, which hears
# them from their start, so they need no second pass. Measured against 5 and 8 s on the stress set
# (docs/benchmarks.md, round 5): faster on base and the lowest WER, no dropped clip.
LONG_OVERLAP_S = 10.0


def _speech(audio: np.ndarray, check: bool, profile: dict[str, float]) -> list[Interval] | None:
    """VAD speech of the whole recording in seconds (None when coverage is not checked); timed in profile."""
    if not check:
        return None
    start = perf_counter()
    speech = speech_seconds(speech_timestamps(audio))
    profile["vad_s"] = profile.get("vad_s", 0.0) + perf_counter() - start
    return speech


def _decode(
    model: Any,
    mel: torch.Tensor,
    spans: Sequence[tuple[int, int]],
    language: str | None,
    batch_size: int,
    desc: str,
    verbose: bool,
    speech: list[Interval] | None,
    retry_tails: bool = True,
) -> Covered:
    """The seek loop over the windows at `spans` (with a progress bar), then the hallucination filter."""
    with progress(len(spans), desc, verbose) as bar:
        covered = decode_covered(model, mel, spans, language, batch_size, bar, retry_tails=retry_tails)
    if speech is not None:
        drop_unspoken(covered, speech)
    return covered


def _mel(model: Any, audio: np.ndarray, profile: dict[str, float]) -> torch.Tensor:
    """The recording's log-mel, timed in profile."""
    start = perf_counter()
    mel = log_mel(model, audio)
    profile["mel_s"] = perf_counter() - start
    return mel


def _finish(
    method: str,
    text: str,
    covered: Covered,
    spans: Sequence[tuple[int, int]],
    speech: list[Interval] | None,
    audio: np.ndarray,
    started: float,
    batch_size: int,
    profile: dict[str, float],
    texts: Sequence[str],
    kept: Sequence[int] | None = None,
) -> LongformResult:
    """Records, coverage check (and its one warning) and the result with the wall time since `started`."""
    decoded = [(s.start_s, s.end_s) for window in covered.segments for s in window]
    skipped = [item for window in covered.skipped for item in window]
    uncovered = [] if speech is None else with_reasons(uncovered_speech(speech, decoded), skipped)
    holes = [(a, b) for a, b, _ in uncovered]
    records = []
    for i, (start, end) in enumerate(spans):
        duration = (end - start) / SAMPLE_RATE
        n_tokens = len(covered.tokens(i))
        records.append(
            ChunkRecord(
                index=i,
                start_s=start / SAMPLE_RATE,
                end_s=end / SAMPLE_RATE,
                text=texts[i],
                n_tokens=n_tokens,
                tokens_kept=n_tokens if kept is None else kept[i],
                compute_s=covered.seconds[i],
                rtf=covered.seconds[i] / duration if duration > 0 else 0.0,
                covered_s=covered.covered_s[i],
                uncovered_speech_s=overlap(holes, start / SAMPLE_RATE, end / SAMPLE_RATE),
                passes=covered.passes[i],
                skipped="; ".join(reason for _, _, reason in covered.skipped[i]),
            )
        )
    total = perf_counter() - started
    duration = len(audio) / SAMPLE_RATE
    result = LongformResult(
        text=text.strip(),
        language=covered.language,
        chunks=records,
        audio_s=duration,
        compute_s=total,
        rtf=total / duration,
        method=method,
        batch_size=batch_size,
        profile={**profile, "encode_s": covered.encode_s, "decode_s": covered.decode_s},
        speech_s=None if speech is None else sum(b - a for a, b in speech),
        uncovered=uncovered,
    )
    warn_uncovered(f"transcribe_{method}", uncovered)
    return result


def _window_texts(model: Any, covered: Covered) -> list[str]:
    """Each window's text."""
    tokenizer = tokenizer_for(model, covered.language)
    return [tokenizer.decode(covered.tokens(i)).strip() for i in range(len(covered.segments))]


def transcribe_chunked(
    model: Any,
    audio: Any,
    chunk_s: float = 30,
    language: str | None = None,
    verbose: bool = True,
    check_coverage: bool = True,
) -> LongformResult:
    """The lesson's naive loop done right: back-to-back `chunk_s` windows, one at a time, texts joined.

    Language detected once on the first chunk and reused; per-chunk times and RTF. Each chunk is decoded as
    ``whisper.transcribe`` decodes a 30 s clip on its own (its seek loop, no extra pass over speech skipped
    after a complete sentence), so words that straddle a cut, or follow a sentence Whisper took as the end,
    are lost or garbled: compare with ``transcribe_overlapping`` and ``transcribe_vad``. `check_coverage` runs VAD to
    report (and warn about) speech left without text.
    """
    check_chunk(chunk_s)
    started = perf_counter()
    audio = audio_array(audio)
    chunk = round(chunk_s * SAMPLE_RATE)
    check_window_count(len(audio), chunk, chunk)
    spans = [(s, min(s + chunk, len(audio))) for s in window_starts(len(audio), chunk, chunk)]
    profile: dict[str, float] = {}
    speech = _speech(audio, check_coverage, profile)
    covered = _decode(model, _mel(model, audio, profile), spans, language, 1, "chunked", verbose, speech,
                      retry_tails=False)
    texts = _window_texts(model, covered)
    text = " ".join(t for t in texts if t)
    return _finish("chunked", text, covered, spans, speech, audio, started, 1, profile, texts)


def transcribe_overlapping(
    model: Any,
    audio: Any,
    chunk_s: float = 30,
    overlap_s: float = 5,
    batch_size: int = 1,
    vad: bool = False,
    language: str | None = None,
    verbose: bool = True,
    check_coverage: bool = True,
) -> LongformResult:
    """Overlapping `chunk_s` windows every ``chunk_s - overlap_s`` seconds, merged on timed words.

    `batch_size` mel windows go through each ``whisper.decode`` call (same text, less time per window on
    CPU and GPU). Each window is decoded to its end (``engine.decode_covered``) and the windows' token lists
    are joined by ``merge.merge_timed`` on their timed words. With ``vad=True`` the windows are cut at silences instead
    (``transcribe_vad``) and `overlap_s` is not used. A layout that would decode every second of audio more
    than ``windows.MAX_REDUNDANCY`` times is refused (ValueError) before any work.
    """
    check_chunk(chunk_s)
    batch_size = check_batch_size(batch_size)
    if vad:
        return transcribe_vad(
            model, audio, chunk_s=chunk_s, batch_size=batch_size, language=language, verbose=verbose
        )
    if not 0 <= overlap_s < chunk_s:
        raise ValueError(
            f"overlap_s must be at least 0 and less than chunk_s={chunk_s} seconds, got {overlap_s!r} "
            "(typical: 5 s of overlap for 30 s windows)"
        )
    return _overlapping(model, audio, chunk_s, overlap_s, batch_size, language, verbose, check_coverage, "overlapping")


def _overlapping(
    model: Any,
    audio: Any,
    chunk_s: float,
    overlap_s: float,
    batch_size: int,
    language: str | None,
    verbose: bool,
    check_coverage: bool,
    method: str,
    recover: bool = False,
) -> LongformResult:
    """Overlapping windows decoded to their ends and merged on timed words (overlapping, long).

    With `recover`, VAD speech that no window transcribed is decoded again on its own (``recover``).
    """
    started = perf_counter()
    audio = audio_array(audio)
    chunk = round(chunk_s * SAMPLE_RATE)
    step = chunk - round(overlap_s * SAMPLE_RATE)
    check_window_count(len(audio), chunk, step)
    spans = [(s, min(s + chunk, len(audio))) for s in window_starts(len(audio), chunk, step)]
    profile: dict[str, float] = {}
    speech = _speech(audio, check_coverage, profile)
    mel = _mel(model, audio, profile)
    covered = _decode(model, mel, spans, language, batch_size, method, verbose, speech)
    if recover and speech is not None:
        recover_start = perf_counter()
        recover_uncovered(model, mel, covered, spans, speech, len(audio), batch_size)
        profile["recover_s"] = perf_counter() - recover_start
    merge_start = perf_counter()
    tokenizer = tokenizer_for(model, covered.language)
    words = [_words(tokenizer, window) for window in covered.segments]
    merged, source = merge_timed(words, [(a / SAMPLE_RATE, b / SAMPLE_RATE) for a, b in spans])
    text = tokenizer.decode([t for word in merged for t in word.tokens])
    kept = [0] * len(spans)
    for word, i in zip(merged, source, strict=True):
        kept[i] += len(word.tokens)
    profile["merge_s"] = perf_counter() - merge_start
    texts = _window_texts(model, covered)
    return _finish(method, text, covered, spans, speech, audio, started, batch_size, profile, texts, kept)


def _words(tokenizer: Any, segments: Sequence[Segment]) -> list[TimedWord]:
    """A window's words with their estimated times (Whisper's own split of tokens into words)."""
    out: list[TimedWord] = []
    for segment in segments:
        texts, tokens = tokenizer.split_to_word_tokens(segment.tokens)
        out += timed_words(segment.start_s, segment.end_s, texts, tokens)
    return out


def _vad_spans(audio: np.ndarray, chunk_s: float, profile: dict[str, float]) -> tuple[list, list[Interval]]:
    """(windows cut at silences, each at most chunk_s, in samples; the speech in seconds), timed."""
    start = perf_counter()
    stamps = speech_timestamps(audio, chunk_s)
    spans = vad_windows(stamps, round(chunk_s * SAMPLE_RATE), len(audio))
    profile["vad_s"] = perf_counter() - start
    return spans, speech_seconds(stamps)


def transcribe_vad(
    model: Any,
    audio: Any,
    chunk_s: float = 30,
    batch_size: int = 8,
    language: str | None = None,
    verbose: bool = True,
) -> LongformResult:
    """Windows cut at silences (Silero VAD), each at most `chunk_s`, decoded in batches and joined.

    No word is cut, so no overlap or merge is needed, and silence is never encoded: fewer windows than
    overlapping ones (faster-whisper's BatchedInferencePipeline and WhisperX work this way). Audio without
    speech gives an empty transcript without running Whisper.
    """
    check_chunk(chunk_s)
    batch_size = check_batch_size(batch_size)
    started = perf_counter()
    audio = audio_array(audio)
    profile: dict[str, float] = {}
    spans, speech = _vad_spans(audio, chunk_s, profile)
    mel = _mel(model, audio, profile) if spans else torch.zeros(0)
    covered = _decode(model, mel, spans, language, batch_size, "vad", verbose, speech)
    texts = _window_texts(model, covered)
    text = " ".join(t for t in texts if t)
    return _finish("vad", text, covered, spans, speech, audio, started, batch_size, profile, texts)


def transcribe_fast(
    model: Any, audio: Any, batch_size: int = 16, language: str | None = None, verbose: bool = True
) -> LongformResult:
    """The fastest checked method: VAD windows decoded once without timestamps, as faster-whisper's batched pipeline.

    Windows whose text is too short for their speech, or loops, are decoded again with timestamps
    (``onepass``). Faster than ``transcribe_long`` but less thorough: speech skipped inside a window that
    passes the checks (a short last sentence, say) is neither recovered nor reported.
    """
    batch_size = check_batch_size(batch_size)
    started = perf_counter()
    audio = audio_array(audio)
    profile: dict[str, float] = {}
    spans, speech = _vad_spans(audio, MAX_CHUNK_S, profile)
    mel = _mel(model, audio, profile) if spans else torch.zeros(0)
    with progress(len(spans), "fast", verbose) as bar:
        covered = decode_one_pass(model, mel, spans, speech, language, batch_size, bar)
    texts = _window_texts(model, covered)
    text = " ".join(t for t in texts if t)
    return _finish("fast", text, covered, spans, speech, audio, started, batch_size, profile, texts)


def transcribe_long(
    model: Any, audio: Any, batch_size: int = 16, language: str | None = None, verbose: bool = True
) -> LongformResult:
    """The recommended way to transcribe long audio: batched speed, sequential accuracy, no silent loss.

    30-second windows overlapping by 10 s (``LONG_OVERLAP_S``), decoded in batches of `batch_size` with
    timestamps, each to its end (the seek loop of ``engine.decode_covered``: a window Whisper stopped early
    is decoded again from its last complete segment, batched with the others), then speech no window
    transcribed is decoded again on its own (``recover``: stretches of VAD speech without text, and
    segments whose timestamps stretch over a sentence Whisper left out), and the windows are joined by the
    timed-word merge; text over stretches without speech is dropped (hallucination filter, so silence gives
    ""), and speech that still has no text is listed in ``result.uncovered`` and reported in one warning line.

    Why this method: on the stress set (``mixes.mixed_long_form``, 6 seeds, tiny.en and base) it was the
    only batched method with sequential ``model.transcribe``'s accuracy and no dropped utterance, at under
    half its wall time on a 2-core CPU; windows cut at silences (``transcribe_vad``) were faster but lost
    short clips at the ends of full windows (docs/benchmarks.md).
    """
    batch_size = check_batch_size(batch_size)
    return _overlapping(model, audio, 30.0, LONG_OVERLAP_S, batch_size, language, verbose, True, "long", recover=True)


__all__ = [
    "MAX_CHUNK_S",
    "ChunkRecord",
    "LongformResult",
    "merge_overlapping",
    "speech_timestamps",
    "transcribe_batch",
    "transcribe_chunked",
    "transcribe_fast",
    "transcribe_overlapping",
    "transcribe_long",
    "transcribe_vad",
    "UncoveredSpeechWarning",
    "vad_windows",
    "window_starts",
]
