"""Less encoder work for short files: run Whisper's encoder on fewer frames, as whisper.cpp's ``audio_ctx``.

Whisper's encoder always sees a 30-s window (3000 mel frames → 1500 positions), so a 6-s file padded with
silence costs as much as a 30-s one, and its self-attention even more. ``audio_ctx(model, n_ctx)`` makes
the model take ``2 * n_ctx`` mel frames instead: the encoder adds only the first `n_ctx` rows of its
(sinusoidal) positional embedding, the decoder cross-attends to `n_ctx` positions, and ``whisper.decode``
accepts the shorter features. Whisper was trained on 30-s windows only, so this changes its input: the WER
cost per margin of padding kept after the speech is measured by ``scripts/profile_encoder_ctx.py``
(docs/benchmarks.md, "Speed (issue 10)"); ``DEFAULT_MARGIN_S`` is the smallest margin that held the corpus
WER within 0.5 point of the full window for tiny.en and base.

Not for timestamps: Whisper's timestamp rules assume 30-s windows (``decode`` without timestamps only).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from whisper.audio import N_FRAMES

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
