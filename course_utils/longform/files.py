"""Many short files in, one text per file out: ≤ 30 s recordings batched for throughput."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from whisper.audio import N_SAMPLES

from ..audio import SAMPLE_RATE
from .engine import audio_array, decode_windows, log_mel, progress, window_mel
from .windows import MAX_CHUNK_S, check_batch_size


def transcribe_batch(
    model: Any, audios: Sequence[Any], batch_size: int = 8, language: str | None = None, verbose: bool = True
) -> list[str]:
    """Transcribe many short (≤ 30 s) recordings, `batch_size` windows per decode call, for throughput.

    Files are sorted by length before batching (similar lengths finish decoding together) and the texts are
    returned in the input order. The language is detected once, on the first file, unless given: pass
    `language` for a set in another language, and one call per language for mixed sets.
    """
    batch_size = check_batch_size(batch_size)
    if isinstance(audios, (str, np.ndarray)) or not len(audios):
        raise ValueError("audios must be a non-empty list of arrays or paths (one per file)")
    arrays = [audio_array(audio) for audio in audios]
    too_long = [i for i, a in enumerate(arrays) if len(a) > N_SAMPLES]
    if too_long:
        i = too_long[0]
        raise ValueError(
            f"file {i} lasts {len(arrays[i]) / SAMPLE_RATE:.1f} s, more than Whisper's "
            f"{MAX_CHUNK_S:g} s window; "
            "transcribe long recordings with course_utils.longform.transcribe_overlapping (or transcribe_vad)"
        )
    order = sorted(range(len(arrays)), key=lambda i: len(arrays[i]))
    if language is None and model.is_multilingual:  # detect on the first file, as documented
        order.remove(0)
        order.insert(0, 0)
    mels = [window_mel(log_mel(model, arrays[i]), 0, len(arrays[i])) for i in order]  # each file alone
    with progress(len(mels), "batched", verbose) as bar:
        decoded = decode_windows(model, mels, language, batch_size, bar)
    texts = [""] * len(arrays)
    for i, text in zip(order, decoded.texts, strict=True):
        texts[i] = text
    return texts
