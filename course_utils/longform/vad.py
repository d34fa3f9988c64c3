"""Speech timestamps from Silero VAD, loaded once per process.

The batched ONNX "sequence" model when onnxruntime is installed (same timestamps, several times faster),
else the TorchScript one. Importing ``silero_vad`` sets torch to one thread; every call here restores the
caller's thread count.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from ..audio import SAMPLE_RATE
from .windows import MAX_CHUNK_S


@contextmanager
def _keep_threads() -> Iterator[None]:
    """Restore torch's thread count after the block (silero_vad changes it on import and on load)."""
    threads = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _use_threads(model: Any, threads: int) -> None:
    """Give the ONNX sequence model `threads` intra-op threads (silero_vad opens its session with one).

    On the 2-core machine of docs/benchmarks.md two threads took 0.38 s instead of 0.49 s for 269 s of
    speech. Kept as it is when the model's file cannot be found.
    """
    import onnxruntime

    path = getattr(model.session, "_model_path", None)
    if threads <= 1 or not path:
        return
    options = onnxruntime.SessionOptions()
    options.inter_op_num_threads, options.intra_op_num_threads = 1, threads
    model.session = onnxruntime.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])


@functools.lru_cache(maxsize=1)
def load_vad() -> tuple[Any, Callable[..., Any]]:
    """(model, get_speech_timestamps function) of Silero VAD; the cache makes it once per process."""
    threads = torch.get_num_threads()  # before silero_vad's import sets torch to one thread
    with _keep_threads():
        import silero_vad  # heavy optional dependency (onnxruntime/TorchScript model): only when VAD is used

        try:
            with warnings.catch_warnings():  # silero_vad's own importlib.resources DeprecationWarning
                warnings.simplefilter("ignore", DeprecationWarning)
                model = silero_vad.load_silero_vad(sequence=True)
            _use_threads(model, threads)
            return model, silero_vad.get_speech_timestamps_sequence
        except (ImportError, AttributeError, TypeError):
            return silero_vad.load_silero_vad(), silero_vad.get_speech_timestamps


def speech_timestamps(audio: np.ndarray, max_speech_s: float = MAX_CHUNK_S) -> list[tuple[int, int]]:
    """Silero VAD speech segments as (start, end) samples; segments longer than `max_speech_s` are split."""
    model, fn = load_vad()
    with _keep_threads():
        stamps = fn(
            audio if fn.__name__.endswith("sequence") else torch.from_numpy(audio),
            model,
            sampling_rate=SAMPLE_RATE,
            threshold=0.5,
            min_silence_duration_ms=100,
            speech_pad_ms=200,
            max_speech_duration_s=max_speech_s,
        )
    return [(int(s["start"]), int(s["end"])) for s in stamps]
