"""Speech that no window transcribed, decoded once more on its own: ``transcribe_long``'s last coverage step.

Whisper sometimes leaves out a whole sentence in the middle of a window, where no tail rule of the seek
loop sees it, in two ways:

- between two segments it did transcribe, leaving a stretch of VAD speech without text
  (``coverage.uncovered_speech``: at least ``MIN_UNCOVERED_S`` long, farther than ``COVER_PAD_S`` from every
  segment);
- inside a segment whose timestamps stretch over the skipped sentence: the segment then spans far more
  speech than its words take to say (more than ``MAX_SPEECH_PER_WORD_S`` of VAD speech per word; read speech
  takes 0.3–0.5 s per word, pauses are not speech).

After all windows are decoded, each such stretch is decoded again in a window of its own that starts
``CONTEXT_S`` before it, all of them in batches through the same seek loop. The segments found mostly inside
a stretch of the first kind join the window the stretch lies in, and the text found for a stretched segment
replaces it when it has more words, so the merge keeps them; speech that still gets no text is reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from whisper.audio import N_SAMPLES

from ..audio import SAMPLE_RATE
from .coverage import overlap, uncovered_speech
from .engine import Covered, Segment, decode_covered, tokenizer_for

Interval = tuple[float, float]

CONTEXT_S = 1.0  # audio the window also hears before and after the stretch (as much as the coverage pad)
MIN_INSIDE = 0.5  # a re-decoded segment is kept when at least this share of it lies inside the stretch
MAX_PIECE_S = N_SAMPLES / SAMPLE_RATE - 2 * CONTEXT_S  # longer stretches are decoded in pieces this long
MAX_SPEECH_PER_WORD_S = 1.0  # a segment over more VAD speech than this per word skipped some of it...
MIN_STRETCHED_S = 4.0  # ...when it spans at least this much speech (short segments are left alone)


def owner(spans: Sequence[tuple[int, int]], start_s: float, end_s: float) -> int:
    """Index of the window that holds the stretch most centrally (its records and merge take the text)."""
    middle = (start_s + end_s) / 2 * SAMPLE_RATE
    return max(range(len(spans)), key=lambda i: min(middle - spans[i][0], spans[i][1] - middle))


def share_inside(start_s: float, end_s: float, stretch_start: float, stretch_end: float) -> float:
    """Share of [start_s, end_s] inside the stretch (a segment of no length: 1 when it lies inside, else 0)."""
    if end_s <= start_s:
        return float(stretch_start <= start_s <= stretch_end)
    return overlap([(stretch_start, stretch_end)], start_s, end_s) / (end_s - start_s)


def context_window(start_s: float, stop_s: float, duration_s: float) -> Interval:
    """The window that hears a stretch: CONTEXT_S either side, inside the audio, at most Whisper's 30 s."""
    first = max(0.0, start_s - CONTEXT_S)
    return first, min(duration_s, stop_s + CONTEXT_S, first + N_SAMPLES / SAMPLE_RATE)


def pieces(holes: Sequence[Interval], duration_s: float) -> list[tuple[Interval, Interval]]:
    """(stretch, window) pairs in seconds: each hole cut into stretches of at most MAX_PIECE_S, with context."""
    out = []
    for start, end in holes:
        while start < end:
            stop = min(end, start + MAX_PIECE_S)
            out.append(((start, stop), context_window(start, stop, duration_s)))
            start = stop
    return out


def stretched(covered: Covered, speech: Sequence[Interval], words: Any) -> list[tuple[int, Segment]]:
    """(window, segment) of every segment that spans more VAD speech than its words take to say."""
    out = []
    for i, window in enumerate(covered.segments):
        for segment in window:
            spoken = overlap(speech, segment.start_s, segment.end_s)
            n_words = len(words(segment.tokens))
            if spoken >= MIN_STRETCHED_S and spoken > MAX_SPEECH_PER_WORD_S * max(n_words, 1):
                out.append((i, segment))
    return out


def recover_uncovered(
    model: Any,
    mel: torch.Tensor,
    covered: Covered,
    spans: Sequence[tuple[int, int]],
    speech: Sequence[Interval],
    n_samples: int,
    batch_size: int,
) -> int:
    """Decode speech without text (and stretched segments) again, adding what it says to `covered`.

    Returns how many stretches got text (or more words than before).
    """
    tokenizer = tokenizer_for(model, covered.language)

    def words(tokens: Sequence[int]) -> list[str]:
        return tokenizer.decode(list(tokens)).split()

    duration_s = n_samples / SAMPLE_RATE
    decoded = [(s.start_s, s.end_s) for window in covered.segments for s in window]
    work: list[tuple[Interval, Interval, int, Segment | None]] = [
        (stretch, window, owner(spans, *stretch), None)
        for stretch, window in pieces(uncovered_speech(speech, decoded), duration_s)
    ]
    for i, segment in stretched(covered, speech, words):
        stretch = (segment.start_s, segment.end_s)
        work.append((stretch, context_window(*stretch, duration_s), i, segment))
    if not work or not spans:
        return 0
    windows = [(round(a * SAMPLE_RATE), min(n_samples, round(b * SAMPLE_RATE))) for _, (a, b), _, _ in work]
    again = decode_covered(model, mel, windows, covered.language, batch_size)
    found = 0
    for k, ((start, end), _, i, replaced) in enumerate(work):
        inside = [s for s in again.segments[k] if share_inside(s.start_s, s.end_s, start, end) >= MIN_INSIDE]
        if replaced is not None:
            if sum(len(words(s.tokens)) for s in inside) <= len(words(replaced.tokens)):
                continue  # heard alone, the stretch says no more: keep what the window had
            covered.segments[i] = [s for s in covered.segments[i] if s is not replaced]
        covered.segments[i] = sorted(covered.segments[i] + inside, key=lambda s: s.start_s)
        covered.passes[i] += again.passes[k]
        covered.seconds[i] += again.seconds[k]
        found += bool(inside)
    covered.encode_s += again.encode_s
    covered.decode_s += again.decode_s
    return found
