"""VAD windows decoded once without timestamps, checked, and decoded again with timestamps where the check fails.

faster-whisper's ``BatchedInferencePipeline`` decodes each window of speech once, without timestamp tokens:
the fewest tokens and encoder passes of any long-form method. Without timestamps Whisper sometimes stops
after a few words, or loops on one phrase, and nothing says which part of the window it skipped; on the
stress set such a window lost 40–80 words at once (13 words for 23 s of speech). Two checks find those
windows from their own output, and only they go through the seek loop with timestamps
(``engine.decode_covered``), which covers the rest of the window:

- too few text tokens for the window's VAD speech (``MIN_TOKENS_PER_S``): the windows that kept their speech
  gave at least 2.45 tokens per second, the ones that had lost most of it 0.04–1.22;
- text that compresses too well (``MAX_COMPRESSION_RATIO``, whisper.transcribe's own threshold for a
  repetition loop).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from whisper.utils import compression_ratio

from ..audio import SAMPLE_RATE
from .coverage import drop_unspoken, overlap
from .engine import Covered, Segment, decode_covered, decode_windows, window_mel

Interval = tuple[float, float]
# text tokens per second of VAD speech below which a window is decoded again with timestamps. Stress set and
# corpus passage, tiny.en fp32 and int8, base fp32 (base int8 not measured): every window that kept its speech
# had at least 2.45; the windows that had lost most of it had 0.04–1.22; one base window that lost 23 of its 58
# words had 1.88 and passes (a partial loss this check does not see; docs/benchmarks.md, round 6)
MIN_TOKENS_PER_S = 1.5
MAX_COMPRESSION_RATIO = 2.4  # whisper.transcribe's compression_ratio_threshold (repetition loops)


def needs_timestamps(tokens: Sequence[int], text: str, speech_s: float) -> str:
    """Why a window's one-pass text is not to be trusted ('' when it passes both checks)."""
    if len(tokens) < MIN_TOKENS_PER_S * speech_s:
        return f"{len(tokens)} tokens for {speech_s:.1f} s of speech"
    if text and compression_ratio(text) > MAX_COMPRESSION_RATIO:
        return f"repetitive text (compression ratio {compression_ratio(text):.1f})"
    return ""


def decode_one_pass(
    model: Any,
    mel: torch.Tensor,
    spans: Sequence[tuple[int, int]],
    speech: Sequence[Interval],
    language: str | None,
    batch_size: int,
    bar: Any = None,
) -> Covered:
    """Every window once without timestamps; the windows that fail ``needs_timestamps`` again through the seek loop.

    A window that passes counts as covered whole (one segment over the window); the others have the seek
    loop's timed segments, passes and skipped parts (after the hallucination filter).
    The failing windows' encoder output is kept from the one pass, so the seek loop's first pass over them
    (the same mel window) does not encode them again.
    """

    def fails(i: int, tokens: list[int], text: str) -> bool:
        start, end = spans[i]
        return bool(needs_timestamps(tokens, text, overlap(speech, start / SAMPLE_RATE, end / SAMPLE_RATE)))

    mels = [window_mel(mel, start, end) for start, end in spans]
    once = decode_windows(model, mels, language, batch_size, bar, keep=fails)  # failing windows keep their features
    n = len(spans)
    out = Covered([[] for _ in spans], [0.0] * n, [[] for _ in spans], [1] * n, list(once.seconds), once.language,
                  once.encode_s, once.decode_s)
    again = []
    for i, (start, end) in enumerate(spans):
        start_s, end_s = start / SAMPLE_RATE, end / SAMPLE_RATE
        out.covered_s[i] = end_s - start_s
        if fails(i, once.tokens[i], once.texts[i]):
            again.append(i)
        elif once.tokens[i]:
            out.segments[i] = [Segment(start_s, end_s, once.tokens[i])]
    if not again:
        return out
    features = {k: once.features[i] for k, i in enumerate(again) if i in once.features}
    timed = decode_covered(model, mel, [spans[i] for i in again], out.language, batch_size, features=features)
    drop_unspoken(timed, speech)
    for k, i in enumerate(again):
        out.segments[i], out.skipped[i] = timed.segments[k], timed.skipped[k]
        out.passes[i] += timed.passes[k]
        out.seconds[i] += timed.seconds[k]
    out.encode_s += timed.encode_s
    out.decode_s += timed.decode_s
    return out
