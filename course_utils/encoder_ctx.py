"""Less encoder work for short files: run Whisper's encoder on fewer frames, as whisper.cpp's ``audio_ctx``.

Whisper's encoder always sees a 30-s window (3000 mel frames → 1500 positions), so a 6-s file padded with
silence costs as much as a 30-s one, and its self-attention even more. ``audio_ctx(model, n_ctx)`` makes
the model take ``2 * n_ctx`` mel frames instead: the encoder adds only the first `n_ctx` rows of its
(sinusoidal) positional embedding, the decoder cross-attends to `n_ctx` positions, and ``whisper.decode``
accepts the shorter features. Whisper was trained on 30-s windows only, so this changes its input: the WER
cost per margin of padding kept after the speech is measured by ``scripts/profile_encoder_ctx.py``
(docs/benchmarks.md, "Speed (issue 10)"): on the English corpus clips of 5–30 s, 1 s and 2 s of margin both
kept tiny.en's WER at or below the full window's (6.19 % vs 6.78 %); ``DEFAULT_MARGIN_S`` is the larger
(base was measured with 2 s only, within 0.5 point together with int8).

Not for timestamps: Whisper's timestamp rules assume 30-s windows (``decode`` without timestamps only).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from whisper.audio import N_FRAMES, N_SAMPLES

from .audio import SAMPLE_RATE, load_audio
from .longform.engine import decode_windows, log_mel, progress, window_mel

FRAMES_PER_POSITION = 2  # the encoder's second convolution has stride 2: 2 mel frames per position
POSITIONS_PER_S = 50  # 100 mel frames per second
DEFAULT_MARGIN_S = 2.0  # padding kept after the end of a file (measured; see the module docstring)
STEP_S = 1.0  # contexts are rounded up to whole seconds, so batches of similar lengths share one


def ctx_for(duration_s: float, margin_s: float = DEFAULT_MARGIN_S, full_ctx: int = N_FRAMES // 2) -> int:
    """Encoder positions for a file of `duration_s` seconds: its length plus `margin_s`, whole seconds, capped."""
    if not duration_s >= 0 or not margin_s >= 0:
        raise ValueError(f"duration_s and margin_s must be >= 0, got {duration_s!r} and {margin_s!r}")
    seconds = math.ceil((duration_s + margin_s) / STEP_S - 1e-9) * STEP_S
    return max(POSITIONS_PER_S, min(full_ctx, round(seconds * POSITIONS_PER_S)))


@contextmanager
def audio_ctx(model: Any, n_ctx: int) -> Iterator[Any]:
    """Inside the block `model` encodes ``2 * n_ctx`` mel frames and decodes from `n_ctx` positions.

    Sets ``model.dims.n_audio_ctx`` (what ``whisper.decode`` checks features against) and slices the
    encoder's positional embedding; both are restored afterwards. Not thread-safe: one block per model.
    """
    full = model.encoder.positional_embedding
    if not isinstance(n_ctx, int) or not 1 <= n_ctx <= full.shape[0]:
        raise ValueError(f"n_ctx must be an int in 1..{full.shape[0]} (encoder positions), got {n_ctx!r}")
    old_ctx = model.dims.n_audio_ctx
    model.encoder.positional_embedding = full[:n_ctx]  # a buffer: assignment replaces it
    model.dims.n_audio_ctx = n_ctx
    try:
        yield model
    finally:
        model.encoder.positional_embedding = full
        model.dims.n_audio_ctx = old_ctx


def trim_mel(mel: torch.Tensor, n_ctx: int) -> torch.Tensor:
    """The first ``2 * n_ctx`` frames of a (batch of) 30-s mel window(s), padded with zeros if shorter."""
    frames = FRAMES_PER_POSITION * n_ctx
    if mel.shape[-1] >= frames:
        return mel[..., :frames]
    return torch.nn.functional.pad(mel, (0, frames - mel.shape[-1]))


def encode_short(model: Any, mel: torch.Tensor, n_ctx: int) -> torch.Tensor:
    """Encoder output (batch, n_ctx, width) for the first ``2 * n_ctx`` frames of `mel` (batch or single)."""
    single = mel.ndim == 2
    batch = trim_mel(mel[None] if single else mel, n_ctx)
    with audio_ctx(model, n_ctx):
        features = model.encoder(batch)
    return features[0] if single else features


def transcribe_batch_short(
    model: Any,
    audios: Sequence[Any],
    batch_size: int = 8,
    language: str | None = None,
    margin_s: float = DEFAULT_MARGIN_S,
    verbose: bool = True,
) -> list[str]:
    """``longform.transcribe_batch`` with each batch's encoder window cut to its longest file + `margin_s`.

    Files (≤ 30 s each) are sorted by length, so a batch's files are alike and the cut saves most of the
    padding; texts come back in input order. Greedy, without timestamps, through the same decode path
    (``longform.engine.decode_windows``) inside ``audio_ctx``. The language is detected on the first file
    unless given.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    if isinstance(audios, (str, np.ndarray)) or not len(audios):
        raise ValueError("audios must be a non-empty list of arrays or paths (one per file)")
    arrays = [load_audio(audio, sr=SAMPLE_RATE) for audio in audios]
    too_long = [i for i, a in enumerate(arrays) if len(a) > N_SAMPLES]
    if too_long:
        raise ValueError(
            f"file {too_long[0]} lasts {len(arrays[too_long[0]]) / SAMPLE_RATE:.1f} s, more than Whisper's 30-s "
            "window; use course_utils.longform.transcribe_long for long recordings"
        )
    order = sorted(range(len(arrays)), key=lambda i: len(arrays[i]))
    if language is None and model.is_multilingual:  # detect on the first file, as transcribe_batch does
        order.remove(0)
        order.insert(0, 0)
    texts = [""] * len(arrays)
    with progress(len(arrays), "batched (short encoder)", verbose) as bar:
        for first in range(0, len(order), batch_size):
            ids = order[first : first + batch_size]
            n_ctx = ctx_for(max(len(arrays[i]) for i in ids) / SAMPLE_RATE, margin_s, model.dims.n_audio_ctx)
            mels = [trim_mel(window_mel(log_mel(model, arrays[i]), 0, len(arrays[i])), n_ctx) for i in ids]
            with audio_ctx(model, n_ctx):
                decoded = decode_windows(model, mels, language, batch_size, bar)
            language = language or decoded.language
            for i, text in zip(ids, decoded.texts, strict=True):
                texts[i] = text
    return texts
