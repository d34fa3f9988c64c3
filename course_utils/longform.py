"""Long audio in, text out: fixed chunks, overlapping windows merged on tokens, VAD windows, batched files.

Every method goes through one decode path, ``_decode_windows``: 30-second log-mel windows are encoded in
batches, the language is detected once (on the first window, unless given) and one ``whisper.decode`` call
per batch decodes them greedily without timestamps. A window whose text is implausibly short for its length
(Whisper sometimes stops after the first sentence) is decoded again with timestamps, seeking past complete
segments as ``whisper.transcribe`` does (``_repair``). The methods differ only in where the windows are cut:

- ``transcribe_chunked``: back-to-back fixed windows, the lesson's naive loop done correctly (words at the
  cuts are lost or garbled; that is the lesson);
- ``transcribe_overlapping``: windows overlapping by ``overlap_s``, joined by ``merge_overlapping`` (longest
  common sequence in the overlap, cut at its middle, as the Hugging Face ASR pipeline does);
- ``transcribe_vad``: windows cut at silences found by Silero VAD, so no word is cut and no merge is needed;
- ``transcribe_batch``: many short files, batched for throughput.
"""

from __future__ import annotations

import threading
import types
import warnings
from collections.abc import Hashable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from time import perf_counter
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
import whisper
from tqdm.auto import tqdm
from whisper.audio import HOP_LENGTH, N_FFT, N_FRAMES, N_SAMPLES
from whisper.decoding import DecodingOptions, detect_language

from .audio import SAMPLE_RATE, load_audio
from .decoding import transcribe_options
from .settings import show_progress

if TYPE_CHECKING:
    import pandas as pd

MAX_CHUNK_S = N_SAMPLES / SAMPLE_RATE  # 30 s: Whisper's encoder sees exactly this much audio per window
# whisper.transcribe's defaults for dropping a window as silence (no text) instead of keeping a hallucination
NO_SPEECH_THRESHOLD = 0.6
LOGPROB_THRESHOLD = -1.0
# transcribe_overlapping accepts an overlap match only when at least this share of the aligned tokens agree
MIN_OVERLAP_RATIO = 0.25

# Without timestamps Whisper now and then ends a window after its first sentence (e.g. after a closing
# quote or when a new speaker starts), silently losing the rest. A long-form window whose tokens per second
# fall below this share of the median window's is decoded again with timestamps, segment by segment.
REPAIR_RATE_RATIO = 0.5
REPAIR_MIN_S = 5.0  # windows shorter than this are never repaired

T = TypeVar("T", bound=Hashable)


# --- results ------------------------------------------------------------------------------------------------


@dataclass
class ChunkRecord:
    """One decoded window: where it lies in the audio, what it produced and what it cost."""

    index: int
    start_s: float
    end_s: float
    text: str  # this window's own transcript, before any merge
    n_tokens: int  # text tokens decoded in this window
    tokens_kept: int  # of those, how many made it into the final transcript (all but overlap duplicates)
    process_time_s: float  # this window's share of its batch's encode + decode time
    rtf: float  # process_time_s / window duration
    repaired: bool = False  # text was implausibly short and was decoded again with timestamps (see _repair)

    def to_dict(self) -> dict[str, Any]:
        """Plain fields, for JSON and DataFrames."""
        return asdict(self)


@dataclass
class LongformResult:
    """A long-form transcript with the per-window records and the total cost."""

    text: str
    language: str
    chunks: list[ChunkRecord]
    audio_duration_s: float
    process_time_s: float  # wall time of the whole call: mel, VAD, encode, decode, merge
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
        import pandas as pd

        return pd.DataFrame([chunk.to_dict() for chunk in self.chunks])


# --- pure helpers -------------------------------------------------------------------------------------------


def window_starts(n_samples: int, chunk: int, step: int) -> list[int]:
    """Start offsets of windows of `chunk` samples every `step` samples that together cover `n_samples`.

    The last window is the first one that reaches the end, so no window is redundant; with ``step == chunk``
    the windows tile the audio exactly once. Lengths in any unit (samples, frames, seconds as ints).
    """
    if chunk < 1 or step < 1:
        raise ValueError(f"chunk and step must be >= 1, got chunk={chunk}, step={step}")
    if step > chunk:
        raise ValueError(f"step ({step}) larger than chunk ({chunk}) would leave gaps between windows")
    if n_samples <= 0:
        return []
    starts = [0]
    while starts[-1] + chunk < n_samples:
        starts.append(starts[-1] + step)
    return starts


def _best_alignment(
    left: Sequence[T], right: Sequence[T], max_shift: int | None = None, min_ratio: float = 0.0
) -> tuple[int, int, int, int]:
    """(left_start, left_stop, right_start, right_stop) of the best-matching overlap, or a no-match marker.

    Slides `right` along `left` and scores each alignment by matches / shift + shift / 10000 (favouring long
    near-perfect matches), keeping only alignments with more than one match, as the HF pipeline does, and
    (when asked) at most `max_shift` items deep and with at least `min_ratio` of the aligned items equal.
    """
    n_left, n_right = len(left), len(right)
    best_score, best = 0.0, (n_left, n_left, 0, 0)  # no match: keep all of left, all of right
    last = n_left + n_right if max_shift is None else min(n_left + n_right, max_shift + 1)
    for shift in range(1, last):
        left_start, left_stop = max(0, n_left - shift), min(n_left, n_left + n_right - shift)
        right_start, right_stop = max(0, shift - n_left), min(n_right, shift)
        pairs = zip(left[left_start:left_stop], right[right_start:right_stop], strict=True)
        matches = sum(a == b for a, b in pairs)
        score = matches / shift + shift / 10000.0
        if matches > 1 and matches >= min_ratio * (left_stop - left_start) and score > best_score:
            best_score, best = score, (left_start, left_stop, right_start, right_stop)
    return best


def _merge_with_counts(
    sequences: Sequence[Sequence[T]], max_shift: int | None = None, min_ratio: float = 0.0
) -> tuple[list[T], list[int]]:
    """The merged sequence and how many items of each input sequence it kept."""
    if not sequences:
        return [], []
    merged: list[T] = []
    kept: list[int] = []
    left = list(sequences[0])
    for right in sequences[1:]:
        right = list(right)
        left_start, left_stop, right_start, right_stop = _best_alignment(left, right, max_shift, min_ratio)
        left_mid = (left_start + left_stop) // 2  # trust the left window up to the middle of the overlap...
        right_mid = (right_start + right_stop) // 2  # ...and the right window after it
        merged.extend(left[:left_mid])
        kept.append(left_mid)
        left = right[right_mid:]
    merged.extend(left)
    kept.append(len(left))
    return merged, kept


def merge_overlapping(
    token_sequences: Sequence[Sequence[T]], max_shift: int | None = None, min_ratio: float = 0.0
) -> list[T]:
    """Join transcripts of overlapping windows (token ids or words) into one, without duplicating the overlap.

    Each next window is aligned to the text so far by the longest common sequence (the alignment with the
    highest share of equal items, at least two); the result keeps the left window up to the middle of that
    match and the right window after it, as the Hugging Face ASR pipeline does. Without any match the
    windows are concatenated. `max_shift` limits how far back (in items) an overlap may start and
    `min_ratio` is the least share of equal items an overlap needs: both reject chance matches of common
    words far from the real overlap, e.g. when Whisper skipped the half-heard start of a window.
    """
    return _merge_with_counts(token_sequences, max_shift, min_ratio)[0]


# --- checks -------------------------------------------------------------------------------------------------


def _check_chunk(chunk_s: float) -> None:
    """Reject window lengths Whisper cannot take."""
    if isinstance(chunk_s, bool) or not isinstance(chunk_s, (int, float)) or not 0 < chunk_s <= MAX_CHUNK_S:
        raise ValueError(
            f"chunk_s must be more than 0 and at most {MAX_CHUNK_S:g} seconds (Whisper's window), "
            f"got {chunk_s!r}"
        )


def _check_batch_size(batch_size: int) -> int:
    """Reject batch sizes that are not integers >= 1."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(
            f"batch_size must be an integer >= 1 (mel windows per decode call), got {batch_size!r}"
        )
    return int(batch_size)


def _audio_array(audio: Any) -> np.ndarray:
    """16 kHz mono float32 through the one loader (arrays pass through, files are decoded)."""
    if audio is None:
        raise ValueError("audio is None; pass a 16 kHz mono array (e.g. from course_utils.audio.load_audio)")
    return load_audio(audio, sr=SAMPLE_RATE)


# --- the one decode path ------------------------------------------------------------------------------------


def _mel(model: Any, audio: np.ndarray) -> torch.Tensor:
    """Log-mel of the whole recording once, on the model's device (windows are slices of it).

    whisper.transcribe pads the audio with 30 s of zeros first; N_FFT zeros give the same frames for the
    audio (each frame reaches N_FFT / 2 samples past its centre) at a fraction of the cost on short files.
    """
    tensor = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)).to(model.device)
    return whisper.log_mel_spectrogram(tensor, model.dims.n_mels, padding=N_FFT)


def _window_mel(mel: torch.Tensor, start: int, end: int) -> torch.Tensor:
    """Frames of samples [start, end) padded with zeros to a 30-second window, as whisper.transcribe does."""
    first, last = start // HOP_LENGTH, -(-end // HOP_LENGTH)
    return whisper.pad_or_trim(mel[:, first : min(last, first + N_FRAMES)], N_FRAMES)


@dataclass
class _Decoded:
    """What the decode path returns for a list of windows."""

    tokens: list[list[int]]  # text tokens per window (no special or timestamp tokens)
    texts: list[str]
    seconds: list[float]  # per window: its share of its batch's time
    language: str
    covered_s: list[float] = field(default_factory=list)  # with timestamps: seconds of the window transcribed
    no_speech: list[bool] = field(default_factory=list)  # dropped as silence
    encode_s: float = 0.0
    decode_s: float = 0.0


def _complete_segments(
    tokens: Sequence[int], timestamp_begin: int, window_s: float
) -> tuple[list[int], float]:
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
    covered = (tokens[last - 1] - timestamp_begin) * 0.02  # Whisper's timestamps are 20 ms steps
    if covered <= 0:
        return [t for t, ts in zip(tokens, is_ts, strict=True) if not ts], window_s
    return [t for t, ts in zip(tokens[:last], is_ts[:last], strict=True) if not ts], min(covered, window_s)


@contextmanager
def _fast_decoding(model: Any) -> Iterator[None]:
    """Two exact speed-ups of Whisper's decoding step, installed on this model only inside the block.

    Both are memory-layout changes measured on a 2-core CPU with ~10 windows per batch; the sampled tokens
    are the same (``tests/test_longform.py`` checks it):

    - cross-attention: Whisper re-views the cached encoder keys and values as strided (batch, heads, 1500,
      dim) tensors at every step, and attention over strided memory is ~30 % slower, so a contiguous copy is
      made once per decode call and used instead (``_ContiguousAttention``);
    - logits: ``x @ embedding.T`` for a few rows is computed as ``(embedding @ x.T).T``
      (``_decoder_forward``), a product shape the BLAS handles ~2× faster; it is the largest single cost of a
      batched step.
    """
    decoder = getattr(model, "decoder", None)
    blocks = getattr(decoder, "blocks", None)
    modules = [b.cross_attn for b in blocks or [] if hasattr(getattr(b, "cross_attn", None), "n_head")]
    logits = all(hasattr(decoder, a) for a in ("token_embedding", "positional_embedding", "ln", "mask"))
    for module in modules:
        module.qkv_attention = _ContiguousAttention(module)
    if logits and blocks is not None:
        decoder.forward = types.MethodType(_decoder_forward, decoder)
    try:
        yield
    finally:
        for module in modules:
            module.__dict__.pop("qkv_attention", None)
        if decoder is not None:
            decoder.__dict__.pop("forward", None)


def _decoder_forward(
    self: Any, x: torch.Tensor, xa: torch.Tensor, kv_cache: dict | None = None
) -> torch.Tensor:
    """whisper.model.TextDecoder.forward with the final projection as (embedding @ x.T).T (same logits)."""
    offset = next(iter(kv_cache.values())).shape[1] if kv_cache else 0
    x = self.token_embedding(x) + self.positional_embedding[offset : offset + x.shape[-1]]
    x = x.to(xa.dtype)
    for block in self.blocks:
        x = block(x, xa, mask=self.mask, kv_cache=kv_cache)
    x = self.ln(x)
    n_batch, n_ctx, n_state = x.shape
    weight = self.token_embedding.weight.to(x.dtype)
    return (weight @ x.reshape(n_batch * n_ctx, n_state).T).T.reshape(n_batch, n_ctx, -1).float()


class _ContiguousAttention:
    """A drop-in ``qkv_attention`` for one cross-attention module that caches contiguous keys and values."""

    def __init__(self, module: Any) -> None:
        self.module = module
        self.source: torch.Tensor | None = None  # the cached key tensor the copies were made from
        self.keys = self.values = torch.empty(0)

    def __call__(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: Any = None
    ) -> tuple[Any, None]:
        own = mask is not None or q.shape[1] != 1 or not getattr(type(self.module), "use_sdpa", True)
        if own:  # not the one-token cross-attention step, or attention weights wanted: Whisper's own code
            return type(self.module).qkv_attention(self.module, q, k, v, mask)
        n_batch, n_ctx, _ = k.shape
        heads = self.module.n_head
        if self.source is not k:
            self.source = k
            self.keys = k.view(n_batch, n_ctx, heads, -1).permute(0, 2, 1, 3).contiguous()
            self.values = v.view(n_batch, n_ctx, heads, -1).permute(0, 2, 1, 3).contiguous()
        query = q.view(n_batch, 1, heads, -1).permute(0, 2, 1, 3)
        out = F.scaled_dot_product_attention(query, self.keys, self.values)
        return out.permute(0, 2, 1, 3).flatten(start_dim=2), None


def _decode_windows(
    model: Any,
    mels: Sequence[torch.Tensor],
    language: str | None,
    batch_size: int,
    bar: Any = None,
    timestamps: bool = False,
    window_s: Sequence[float] | None = None,
) -> _Decoded:
    """Encode and greedily decode 30-second mel windows in batches: the one decode path of this module.

    The language is detected once, on the first window, unless given. Windows that look like silence
    (no-speech probability > 0.6 and average log-probability < -1, whisper.transcribe's rule) give no
    text. With `timestamps`, the unfinished last segment is dropped and ``covered_s`` says how far each
    window got (`window_s`: the audio seconds in each window).
    """
    opts = transcribe_options(model, language=language)  # fp16 from the device, English-only check
    dtype = torch.float16 if opts["fp16"] else torch.float32
    out = _Decoded([], [], [], language or ("" if model.is_multilingual else "en"))
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
            with _fast_decoding(model):
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
                    tokens, covered = _complete_segments(result.tokens, tokenizer.timestamp_begin, length)
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


def _repair(
    model: Any, mel: torch.Tensor, spans: Sequence[tuple[int, int]], decoded: _Decoded, batch_size: int
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
        mels = [_window_mel(mel, seek[i], spans[i][1]) for i in active]
        again = _decode_windows(model, mels, decoded.language, batch_size, timestamps=True, window_s=lengths)
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
    tokenizer = _tokenizer(model, decoded.language)
    repaired = []
    for i in todo:
        decoded.seconds[i] += spent[i]
        if len(tokens[i]) > len(decoded.tokens[i]):
            decoded.tokens[i] = tokens[i]
            decoded.texts[i] = tokenizer.decode(tokens[i]).strip()
            repaired.append(i)
    return repaired


def _progress(total: int, desc: str, verbose: bool) -> Any:
    """A tqdm bar over windows, shown only for long inputs (more than one window) and when verbose."""
    return tqdm(
        total=total, desc=desc, unit="window", leave=False, disable=not show_progress(verbose) or total <= 1
    )


def _tokenizer(model: Any, language: str) -> Any:
    """Whisper's tokenizer for the model and language, to turn merged tokens back into text."""
    return whisper.tokenizer.get_tokenizer(
        model.is_multilingual, num_languages=model.num_languages, language=language or None, task="transcribe"
    )


def _records(
    spans: Sequence[tuple[int, int]],
    decoded: _Decoded,
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
                process_time_s=seconds,
                rtf=seconds / duration if duration > 0 else 0.0,
                repaired=i in repaired,
            )
        )
    return records


def _result(
    method: str,
    text: str,
    decoded: _Decoded,
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
        audio_duration_s=duration,
        process_time_s=total,
        rtf=total / duration,
        method=method,
        batch_size=batch_size,
        profile=profile,
    )


def _spans_mels(
    model: Any, audio: np.ndarray, spans: Sequence[tuple[int, int]]
) -> tuple[torch.Tensor, list[torch.Tensor], float]:
    """One mel of the whole recording, the mel window of each sample span, and the seconds they took."""
    start = perf_counter()
    mel = _mel(model, audio)
    mels = [_window_mel(mel, a, b) for a, b in spans]
    return mel, mels, perf_counter() - start


def _decode_spans(
    model: Any,
    audio: np.ndarray,
    spans: Sequence[tuple[int, int]],
    language: str | None,
    batch_size: int,
    desc: str,
    verbose: bool,
) -> tuple[_Decoded, dict[str, float], list[int]]:
    """Mel, batched decode and repair of the windows at `spans`: (decoded, profile seconds, repaired)."""
    mel, mels, mel_s = _spans_mels(model, audio, spans)
    with _progress(len(spans), desc, verbose) as bar:
        decoded = _decode_windows(model, mels, language, batch_size, bar)
    repair_start = perf_counter()
    repaired = _repair(model, mel, spans, decoded, batch_size)
    return decoded, {"mel_s": mel_s, "repair_s": perf_counter() - repair_start}, repaired


# --- public methods -----------------------------------------------------------------------------------------


def transcribe_chunked(
    model: Any, audio: Any, chunk_s: float = 30, language: str | None = None, verbose: bool = True
) -> LongformResult:
    """The lesson's naive loop done right: back-to-back `chunk_s` windows, one at a time, texts joined.

    Language detected once on the first chunk and reused; per-chunk times and RTF. Words that straddle a
    cut are lost or garbled: compare with ``transcribe_overlapping`` and ``transcribe_vad``.
    """
    _check_chunk(chunk_s)
    started = perf_counter()
    audio = _audio_array(audio)
    chunk = round(chunk_s * SAMPLE_RATE)
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
    _check_chunk(chunk_s)
    batch_size = _check_batch_size(batch_size)
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
    spans = [(s, min(s + chunk, len(audio))) for s in window_starts(len(audio), chunk, step)]
    decoded, profile, repaired = _decode_spans(
        model, audio, spans, language, batch_size, "overlapping", verbose
    )
    merge_start = perf_counter()
    max_shift = _overlap_items(decoded.tokens, spans, overlap_s)
    tokens, kept = _merge_with_counts(decoded.tokens, max_shift, MIN_OVERLAP_RATIO)
    text = _tokenizer(model, decoded.language).decode(tokens)
    profile["merge_s"] = perf_counter() - merge_start
    records = _records(spans, decoded, kept, repaired)
    return _result("overlapping", text, decoded, records, audio, started, batch_size, profile)


def _overlap_items(
    tokens: Sequence[Sequence[int]], spans: Sequence[tuple[int, int]], overlap_s: float
) -> int:
    """How many tokens deep an overlap may reach: twice the tokens expected in `overlap_s`, plus slack."""
    seconds = sum(end - start for start, end in spans) / SAMPLE_RATE
    per_second = sum(map(len, tokens)) / seconds if seconds else 0.0
    return int(2 * per_second * overlap_s) + 5


# --- VAD windows --------------------------------------------------------------------------------------------

_VAD_LOCK = threading.Lock()
_VAD_MODEL: dict[str, Any] = {}


def _vad_model() -> tuple[Any, Any]:
    """(model, get_speech_timestamps function) of Silero VAD, loaded once per process.

    The batched ONNX "sequence" model when onnxruntime is installed (same timestamps, several times faster),
    else the TorchScript one. Importing ``silero_vad`` sets torch to one thread: the setting is restored.
    """
    with _VAD_LOCK:
        if "model" not in _VAD_MODEL:
            threads = torch.get_num_threads()
            try:
                import silero_vad
            finally:
                torch.set_num_threads(threads)
            try:
                with warnings.catch_warnings():  # silero_vad's own importlib.resources DeprecationWarning
                    warnings.simplefilter("ignore", DeprecationWarning)
                    model = silero_vad.load_silero_vad(sequence=True)
                _VAD_MODEL["fn"] = silero_vad.get_speech_timestamps_sequence
            except (ImportError, AttributeError, TypeError):
                model = silero_vad.load_silero_vad()
                _VAD_MODEL["fn"] = silero_vad.get_speech_timestamps
            finally:
                torch.set_num_threads(threads)
            _VAD_MODEL["model"] = model
        return _VAD_MODEL["model"], _VAD_MODEL["fn"]


def speech_timestamps(audio: np.ndarray, max_speech_s: float = MAX_CHUNK_S) -> list[tuple[int, int]]:
    """Silero VAD speech segments as (start, end) samples; segments longer than `max_speech_s` are split."""
    model, fn = _vad_model()
    threads = torch.get_num_threads()
    try:
        stamps = fn(
            audio if fn.__name__.endswith("sequence") else torch.from_numpy(audio),
            model,
            sampling_rate=SAMPLE_RATE,
            threshold=0.5,
            min_silence_duration_ms=100,
            speech_pad_ms=200,
            max_speech_duration_s=max_speech_s,
        )
    finally:
        torch.set_num_threads(threads)
    return [(int(s["start"]), int(s["end"])) for s in stamps]


def vad_windows(
    segments: Iterable[tuple[int, int]], max_samples: int, n_samples: int | None = None
) -> list[tuple[int, int]]:
    """Merge speech segments, in order, into windows of at most `max_samples` samples cut only at silences.

    A window spans from its first segment's start to its last segment's end (short pauses inside stay, so
    words keep their context), as WhisperX does; a segment longer than the window is split into pieces.
    """
    windows: list[tuple[int, int]] = []
    for seg_start, seg_end in segments:
        seg_end = seg_end if n_samples is None else min(seg_end, n_samples)
        while seg_end - seg_start > max_samples:  # VAD normally splits these already
            windows.append((seg_start, seg_start + max_samples))
            seg_start += max_samples
        if seg_end <= seg_start:
            continue
        if windows and seg_end - windows[-1][0] <= max_samples and seg_start >= windows[-1][1]:
            windows[-1] = (windows[-1][0], seg_end)
        else:
            windows.append((seg_start, seg_end))
    return windows


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
    _check_chunk(chunk_s)
    batch_size = _check_batch_size(batch_size)
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
            _Decoded([], [], [], language or ("" if model.is_multilingual else "en")),
            {},
            [],
        )
    text = " ".join(t for t in decoded.texts if t)
    profile["vad_s"] = vad_s
    records = _records(spans, decoded, repaired=repaired)
    return _result("vad", text, decoded, records, audio, started, batch_size, profile)


# --- many short files ---------------------------------------------------------------------------------------


def transcribe_batch(
    model: Any, audios: Sequence[Any], batch_size: int = 8, language: str | None = None, verbose: bool = True
) -> list[str]:
    """Transcribe many short (≤ 30 s) recordings, `batch_size` windows per decode call, for throughput.

    Files are sorted by length before batching (similar lengths finish decoding together) and the texts are
    returned in the input order. The language is detected once, on the first file, unless given: pass
    `language` for a set in another language, and one call per language for mixed sets.
    """
    batch_size = _check_batch_size(batch_size)
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
    mels = [_window_mel(_mel(model, arrays[i]), 0, len(arrays[i])) for i in order]  # each file alone
    with _progress(len(mels), "batched", verbose) as bar:
        decoded = _decode_windows(model, mels, language, batch_size, bar)
    texts = [""] * len(arrays)
    for i, text in zip(order, decoded.texts, strict=True):
        texts[i] = text
    return texts
