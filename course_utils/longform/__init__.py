"""Long audio in, text out: fixed chunks, overlapping windows merged on tokens, VAD windows, batched files.

Every method goes through one decode path, ``engine.decode_windows``: 30-second log-mel windows are encoded
in batches, the language is detected once and one ``whisper.decode`` call per batch decodes them greedily.
The methods differ only in where the windows are cut:

- ``transcribe_chunked``: back-to-back fixed windows, the lesson's naive loop done correctly (words at the
  cuts are lost or garbled; that is the lesson);
- ``transcribe_overlapping``: windows overlapping by ``overlap_s``, joined by ``merge_overlapping`` (longest
  common sequence in the overlap, cut at its middle, as the Hugging Face ASR pipeline does);
- ``transcribe_vad``: windows cut at silences found by Silero VAD, so no word is cut and no merge is needed;
- ``transcribe_batch``: many short files, batched for throughput.

Rooms: ``windows`` and ``merge`` (pure functions), ``vad`` (Silero), ``engine`` (the batched decode),
``fast_decoding`` (the checked decoder speed-ups).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from time import perf_counter
from typing import TYPE_CHECKING, Any

import numpy as np
from whisper.audio import N_SAMPLES

from ..audio import SAMPLE_RATE, load_audio
from .engine import Decoded, decode_windows, log_mel, progress, repair, tokenizer_for, window_mel
from .merge import MIN_OVERLAP_RATIO, merge_overlapping, merge_with_counts, overlap_items
from .vad import speech_timestamps
from .windows import (
    MAX_CHUNK_S,
    check_batch_size,
    check_chunk,
    check_window_count,
    vad_windows,
    window_starts,
)

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class ChunkRecord:
    """One decoded window: where it lies in the audio, what it produced and what it cost."""

    index: int
    start_s: float
    end_s: float
    text: str  # this window's own transcript, before any merge
    n_tokens: int  # text tokens decoded in this window
    tokens_kept: int  # of those, how many made it into the final transcript (all but overlap duplicates)
    compute_s: float  # this window's share of its batch's encode + decode time
    rtf: float  # compute_s / window duration
    repaired: bool = False  # text was implausibly short and was decoded again with timestamps

    def to_dict(self) -> dict[str, Any]:
        """Plain fields, for JSON and DataFrames."""
        return asdict(self)


@dataclass
class LongformResult:
    """A long-form transcript with the per-window records and the total cost."""

    text: str
    language: str
    chunks: list[ChunkRecord]
    audio_s: float
    compute_s: float  # wall time of the whole call: mel, VAD, encode, decode, merge
    rtf: float
    method: str  # "chunked", "overlapping" or "vad"
    batch_size: int = 1
    profile: dict[str, float] = field(default_factory=dict)  # seconds per stage: mel, vad, encode, decode

    @property
    def rtfx(self) -> float:
        """Seconds of audio per compute second (1 / RTF)."""
        return float("inf") if self.rtf == 0 else 1.0 / self.rtf

    @property
    def faster_than_realtime(self) -> bool:
        """True when the transcript took less time than the audio lasts."""
        return self.rtf < 1.0

    def to_dict(self) -> dict[str, Any]:
        """Plain fields (chunks as a list of dicts), for JSON."""
        return asdict(self)

    def table(self) -> pd.DataFrame:
        """One row per window: start, end, text, tokens, time, RTF."""
        import pandas as pd  # pandas only for this table view

        return pd.DataFrame([chunk.to_dict() for chunk in self.chunks])


def _audio_array(audio: Any) -> np.ndarray:
    """16 kHz mono float32 through the one loader (arrays pass through, files are decoded)."""
    if audio is None:
        raise ValueError("audio is None; pass a 16 kHz mono array (e.g. from course_utils.audio.load_audio)")
    return load_audio(audio, sr=SAMPLE_RATE)


def _records(
    spans: Sequence[tuple[int, int]],
    decoded: Decoded,
    kept: Sequence[int] | None = None,
    repaired: Sequence[int] = (),
) -> list[ChunkRecord]:
    """Per-window records from sample spans and the decode output."""
    records = []
    for i, ((start, end), tokens, text, seconds) in enumerate(
        zip(spans, decoded.tokens, decoded.texts, decoded.seconds, strict=True)
    ):
        duration = (end - start) / SAMPLE_RATE
        records.append(
            ChunkRecord(
                index=i,
                start_s=start / SAMPLE_RATE,
                end_s=end / SAMPLE_RATE,
                text=text,
                n_tokens=len(tokens),
                tokens_kept=len(tokens) if kept is None else kept[i],
                compute_s=seconds,
                rtf=seconds / duration if duration > 0 else 0.0,
                repaired=i in repaired,
            )
        )
    return records


def _result(
    method: str,
    text: str,
    decoded: Decoded,
    records: list[ChunkRecord],
    audio: np.ndarray,
    started: float,
    batch_size: int,
    profile: dict[str, float],
) -> LongformResult:
    """Assemble the result with the total wall time since `started`."""
    total = perf_counter() - started
    duration = len(audio) / SAMPLE_RATE
    profile = {**profile, "encode_s": decoded.encode_s, "decode_s": decoded.decode_s}
    return LongformResult(
        text=text.strip(),
        language=decoded.language,
        chunks=records,
        audio_s=duration,
        compute_s=total,
        rtf=total / duration,
        method=method,
        batch_size=batch_size,
        profile=profile,
    )


def _decode_spans(
    model: Any,
    audio: np.ndarray,
    spans: Sequence[tuple[int, int]],
    language: str | None,
    batch_size: int,
    desc: str,
    verbose: bool,
) -> tuple[Decoded, dict[str, float], list[int]]:
    """Mel, batched decode and repair of the windows at `spans`: (decoded, profile seconds, repaired)."""
    start = perf_counter()
    mel = log_mel(model, audio)
    mels = [window_mel(mel, a, b) for a, b in spans]
    mel_s = perf_counter() - start
    with progress(len(spans), desc, verbose) as bar:
        decoded = decode_windows(model, mels, language, batch_size, bar)
    repair_start = perf_counter()
    repaired = repair(model, mel, spans, decoded, batch_size)
    return decoded, {"mel_s": mel_s, "repair_s": perf_counter() - repair_start}, repaired


def transcribe_chunked(
    model: Any, audio: Any, chunk_s: float = 30, language: str | None = None, verbose: bool = True
) -> LongformResult:
    """The lesson's naive loop done right: back-to-back `chunk_s` windows, one at a time, texts joined.

    Language detected once on the first chunk and reused; per-chunk times and RTF. Words that straddle a
    cut are lost or garbled: compare with ``transcribe_overlapping`` and ``transcribe_vad``.
    """
    check_chunk(chunk_s)
    started = perf_counter()
    audio = _audio_array(audio)
    chunk = round(chunk_s * SAMPLE_RATE)
    check_window_count(len(audio), chunk, chunk)
    spans = [(s, min(s + chunk, len(audio))) for s in window_starts(len(audio), chunk, chunk)]
    decoded, profile, repaired = _decode_spans(model, audio, spans, language, 1, "chunked", verbose)
    text = " ".join(t for t in decoded.texts if t)
    return _result(
        "chunked", text, decoded, _records(spans, decoded, repaired=repaired), audio, started, 1, profile
    )


def transcribe_overlapping(
    model: Any,
    audio: Any,
    chunk_s: float = 30,
    overlap_s: float = 5,
    batch_size: int = 1,
    vad: bool = False,
    language: str | None = None,
    verbose: bool = True,
) -> LongformResult:
    """Overlapping `chunk_s` windows every ``chunk_s - overlap_s`` seconds, merged on tokens.

    `batch_size` mel windows go through each ``whisper.decode`` call (same text, less time per window on
    CPU and GPU). The windows' token lists are joined by ``merge_overlapping``. With ``vad=True`` the windows
    are cut at silences instead (``transcribe_vad``) and `overlap_s` is not used.
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
    started = perf_counter()
    audio = _audio_array(audio)
    chunk = round(chunk_s * SAMPLE_RATE)
    step = chunk - round(overlap_s * SAMPLE_RATE)
    check_window_count(len(audio), chunk, step)
    spans = [(s, min(s + chunk, len(audio))) for s in window_starts(len(audio), chunk, step)]
    decoded, profile, repaired = _decode_spans(
        model, audio, spans, language, batch_size, "overlapping", verbose
    )
    merge_start = perf_counter()
    seconds = sum(end - start for start, end in spans) / SAMPLE_RATE
    max_shift = overlap_items(sum(map(len, decoded.tokens)), seconds, overlap_s)
    tokens, kept = merge_with_counts(decoded.tokens, max_shift, MIN_OVERLAP_RATIO)
    text = tokenizer_for(model, decoded.language).decode(tokens)
    profile["merge_s"] = perf_counter() - merge_start
    records = _records(spans, decoded, kept, repaired)
    return _result("overlapping", text, decoded, records, audio, started, batch_size, profile)


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
    audio = _audio_array(audio)
    vad_start = perf_counter()
    max_samples = round(chunk_s * SAMPLE_RATE)
    spans = vad_windows(speech_timestamps(audio, chunk_s), max_samples, len(audio))
    vad_s = perf_counter() - vad_start
    if spans:
        decoded, profile, repaired = _decode_spans(model, audio, spans, language, batch_size, "vad", verbose)
    else:  # no speech: nothing to decode
        decoded, profile, repaired = (
            Decoded([], [], [], language or ("" if model.is_multilingual else "en")),
            {},
            [],
        )
    text = " ".join(t for t in decoded.texts if t)
    profile["vad_s"] = vad_s
    records = _records(spans, decoded, repaired=repaired)
    return _result("vad", text, decoded, records, audio, started, batch_size, profile)


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
    arrays = [_audio_array(audio) for audio in audios]
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


__all__ = [
    "MAX_CHUNK_S",
    "ChunkRecord",
    "LongformResult",
    "merge_overlapping",
    "speech_timestamps",
    "transcribe_batch",
    "transcribe_chunked",
    "transcribe_overlapping",
    "transcribe_vad",
    "vad_windows",
    "window_starts",
]
