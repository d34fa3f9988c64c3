"""The one decode path of course_utils.longform: 30-second log-mel windows encoded and decoded in batches.

The log-mel of the whole recording is computed once and windows are slices of it. The language is detected
once (on the first window, unless given); one ``whisper.decode`` call per batch decodes greedily, with the
exact speed-ups of ``fast_decoding``. Windows that look like silence (Whisper's no-speech rule) give no text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

import numpy as np
import torch
import whisper
from tqdm.auto import tqdm
from whisper.audio import HOP_LENGTH, N_FFT, N_FRAMES
from whisper.decoding import DecodingOptions, detect_language

from ..audio import SAMPLE_RATE
from ..decoding import transcribe_options
from ..settings import show_progress
from .fast_decoding import fast_decoding
from .windows import MAX_CHUNK_S

# whisper.transcribe's defaults for dropping a window as silence (no text) instead of keeping a hallucination
NO_SPEECH_THRESHOLD = 0.6
LOGPROB_THRESHOLD = -1.0
TIME_PRECISION = 0.02  # seconds per Whisper timestamp step (<|0.00|>, <|0.02|>, ...)

# Without timestamps Whisper now and then ends a window after its first sentence (e.g. after a closing
# quote or when a new speaker starts), silently losing the rest. A long-form window whose tokens per second
# fall below this share of the median window's is decoded again with timestamps, segment by segment.
REPAIR_RATE_RATIO = 0.5
REPAIR_MIN_S = 5.0  # windows shorter than this are never repaired


def log_mel(model: Any, audio: np.ndarray) -> torch.Tensor:
    """Log-mel of the whole recording once, on the model's device (windows are slices of it).

    whisper.transcribe pads the audio with 30 s of zeros first; N_FFT zeros give the same frames for the
    audio (each frame reaches N_FFT / 2 samples past its centre) at a fraction of the cost on short files.
    """
    tensor = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)).to(model.device)
    return whisper.log_mel_spectrogram(tensor, model.dims.n_mels, padding=N_FFT)


def window_mel(mel: torch.Tensor, start: int, end: int) -> torch.Tensor:
    """Frames of samples [start, end) padded with zeros to a 30-second window, as whisper.transcribe does."""
    first, last = start // HOP_LENGTH, -(-end // HOP_LENGTH)
    return whisper.pad_or_trim(mel[:, first : min(last, first + N_FRAMES)], N_FRAMES)


@dataclass
class Decoded:
    """What the decode path returns for a list of windows."""

    tokens: list[list[int]]  # text tokens per window (no special or timestamp tokens)
    texts: list[str]
    seconds: list[float]  # per window: its share of its batch's time
    language: str
    covered_s: list[float] = field(default_factory=list)  # with timestamps: seconds of the window transcribed
    no_speech: list[bool] = field(default_factory=list)  # dropped as silence
    encode_s: float = 0.0
    decode_s: float = 0.0


def complete_segments(tokens: Sequence[int], timestamp_begin: int, window_s: float) -> tuple[list[int], float]:
    """Text tokens of the complete segments of a timestamped output, and how many seconds they cover.

    whisper.transcribe's rule: output ending in a single timestamp covers the whole window; otherwise the
    segment after the last pair of timestamps is unfinished and is left for the next window.
    """
    is_ts = [t >= timestamp_begin for t in tokens]
    pairs = [i + 1 for i in range(len(tokens) - 1) if is_ts[i] and is_ts[i + 1]]
    single_ending = is_ts[-2:] == [False, True]
    if not pairs or single_ending:
        return [t for t, ts in zip(tokens, is_ts, strict=True) if not ts], window_s
    last = pairs[-1]
    covered = (tokens[last - 1] - timestamp_begin) * TIME_PRECISION
    if covered <= 0:
        return [t for t, ts in zip(tokens, is_ts, strict=True) if not ts], window_s
    return [t for t, ts in zip(tokens[:last], is_ts[:last], strict=True) if not ts], min(covered, window_s)


def tokenizer_for(model: Any, language: str | None = None) -> Any:
    """Whisper's tokenizer for the model and language, to turn tokens back into text."""
    return whisper.tokenizer.get_tokenizer(
        model.is_multilingual, num_languages=model.num_languages, language=language or None, task="transcribe"
    )


def progress(total: int, desc: str, verbose: bool) -> Any:
    """A tqdm bar over windows, shown only for long inputs (more than one window) and when verbose."""
    return tqdm(
        total=total, desc=desc, unit="window", leave=False, disable=not show_progress(verbose) or total <= 1
    )


def decode_windows(
    model: Any,
    mels: Sequence[torch.Tensor],
    language: str | None,
    batch_size: int,
    bar: Any = None,
    timestamps: bool = False,
    window_s: Sequence[float] | None = None,
) -> Decoded:
    """Encode and greedily decode 30-second mel windows in batches: the one decode path of the package.

    The language is detected once, on the first window, unless given. Windows that look like silence
    (no-speech probability > 0.6 and average log-probability < -1, whisper.transcribe's rule) give no
    text. With `timestamps`, the unfinished last segment is dropped and ``covered_s`` says how far each
    window got (`window_s`: the audio seconds in each window).
    """
    opts = transcribe_options(model, language=language)  # fp16 from the device, English-only check
    dtype = torch.float16 if opts["fp16"] else torch.float32
    out = Decoded([], [], [], language or ("" if model.is_multilingual else "en"))
    tokenizer = whisper.tokenizer.get_tokenizer(model.is_multilingual, num_languages=model.num_languages)
    options: DecodingOptions | None = None
    with torch.inference_mode():
        for first in range(0, len(mels), batch_size):
            batch = torch.stack(list(mels[first : first + batch_size])).to(model.device, dtype)
            start = perf_counter()
            features = model.encoder(batch)
            encoded = perf_counter()
            if options is None:
                if not out.language:
                    _, probs = detect_language(model, features[:1], tokenizer)
                    out.language = max(probs[0], key=probs[0].get)
                options = DecodingOptions(
                    task="transcribe",
                    language=out.language,
                    temperature=0.0,
                    without_timestamps=not timestamps,
                    fp16=opts["fp16"],
                )
            with fast_decoding(model):
                results = whisper.decode(model, features, options)
            done = perf_counter()
            out.encode_s += encoded - start
            out.decode_s += done - encoded
            for i, result in enumerate(results, start=first):
                silent = (
                    result.no_speech_prob > NO_SPEECH_THRESHOLD and result.avg_logprob < LOGPROB_THRESHOLD
                )
                length = window_s[i] if window_s is not None else MAX_CHUNK_S
                tokens, covered = [], length
                if not silent and timestamps:
                    tokens, covered = complete_segments(result.tokens, tokenizer.timestamp_begin, length)
                elif not silent:
                    tokens = [t for t in result.tokens if t < tokenizer.eot]
                out.tokens.append(tokens)
                out.texts.append(tokenizer.decode(tokens).strip())
                out.seconds.append((done - start) / len(results))
                out.covered_s.append(covered)
                out.no_speech.append(silent)
            if bar is not None:
                bar.update(len(results))
    return out


def repair(
    model: Any, mel: torch.Tensor, spans: Sequence[tuple[int, int]], decoded: Decoded, batch_size: int
) -> list[int]:
    """Decode again, with timestamps, the windows whose text is implausibly short; returns their indices.

    A window qualifies when it lasts at least REPAIR_MIN_S, was not silence, and its tokens per second are
    below REPAIR_RATE_RATIO of the median window's. It is re-decoded segment by segment (seeking to the end
    of the last complete segment, as whisper.transcribe does; all such windows batched together) and the
    new text replaces the old one when it is longer.
    """
    seconds = [(end - start) / SAMPLE_RATE for start, end in spans]
    rates = [
        len(t) / s
        for t, s, silent in zip(decoded.tokens, seconds, decoded.no_speech, strict=True)
        if s >= REPAIR_MIN_S and not silent
    ]
    if len(rates) < 2:
        return []
    threshold = REPAIR_RATE_RATIO * float(np.median(rates))
    todo = [
        i
        for i, (t, s) in enumerate(zip(decoded.tokens, seconds, strict=True))
        if s >= REPAIR_MIN_S and not decoded.no_speech[i] and len(t) / s < threshold
    ]
    if not todo:
        return []
    seek = {i: spans[i][0] for i in todo}  # sample where the next pass of window i starts
    tokens: dict[int, list[int]] = {i: [] for i in todo}
    spent: dict[int, float] = dict.fromkeys(todo, 0.0)
    active = list(todo)
    while active:
        lengths = [(spans[i][1] - seek[i]) / SAMPLE_RATE for i in active]
        mels = [window_mel(mel, seek[i], spans[i][1]) for i in active]
        again = decode_windows(model, mels, decoded.language, batch_size, timestamps=True, window_s=lengths)
        still = []
        for i, new, covered, length, took in zip(
            active, again.tokens, again.covered_s, lengths, again.seconds, strict=True
        ):
            tokens[i] += new
            spent[i] += took
            seek[i] += max(round(covered * SAMPLE_RATE), HOP_LENGTH)
            if covered < length - 1.0 and spans[i][1] - seek[i] >= SAMPLE_RATE:
                still.append(i)
        decoded.encode_s += again.encode_s
        decoded.decode_s += again.decode_s
        active = still
    tokenizer = tokenizer_for(model, decoded.language)
    repaired = []
    for i in todo:
        decoded.seconds[i] += spent[i]
        if len(tokens[i]) > len(decoded.tokens[i]):
            decoded.tokens[i] = tokens[i]
            decoded.texts[i] = tokenizer.decode(tokens[i]).strip()
            repaired.append(i)
    return repaired
