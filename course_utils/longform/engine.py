"""The one decode path of course_utils.longform: 30-second log-mel windows encoded and decoded in batches.

The log-mel of the whole recording is computed once and windows are slices of it, built one batch at a
time (memory stays bounded by the batch size). The language is detected once (on the first window, unless
given); one ``whisper.decode`` call per batch decodes greedily, with the exact speed-ups of
``fast_decoding``. Windows that look like silence (Whisper's no-speech rule) give no text.

``decode_covered`` is ``whisper.transcribe``'s seek loop run across many windows at once: every window is
decoded *with* timestamp tokens, the complete segments say how far it really got, and the rest of every
window that stopped early goes back into the queue, to be decoded again in a batch with the others.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

import numpy as np
import torch
import whisper
from tqdm.auto import tqdm
from whisper.audio import HOP_LENGTH, N_FFT, N_FRAMES
from whisper.decoding import DecodingOptions, DecodingResult, detect_language

from ..audio import SAMPLE_RATE, load_audio
from ..decoding import transcribe_options
from ..settings import show_progress
from .fast_decoding import decode, fast_decoding

# whisper.transcribe's defaults for dropping a window as silence (no text) instead of keeping a hallucination
NO_SPEECH_THRESHOLD = 0.6
LOGPROB_THRESHOLD = -1.0
TIME_PRECISION = 0.02  # seconds per Whisper timestamp step (<|0.00|>, <|0.02|>, ...)
# the seek loop: a rest shorter than this is not decoded again (the unfinished segment's text is kept instead)
MIN_REST_S = 0.5
MAX_PASSES = 8  # decode passes per window at most (each pass moves on by at least one complete segment)
# a window Whisper called complete whose last segment ends at least this long before the window's end is
# decoded again from there: Whisper sometimes ends its output after a sentence and skips the speech after
# it (a speaker change; measured on the stress set), and a pause this long is rare inside speech
MIN_TAIL_S = 2.0
# ...unless that tail starts this far inside the next overlapping window, which then hears it from its start
# (as whisper.transcribe's next window starts right at the last timestamp). Stress set, base, 5 s overlap:
# 0 s gave 0.49× sequential time and 7.70 % WER, 1 s 0.53× and 7.58 %, no dropped clip (docs/benchmarks.md)
HANDOVER_S = 0.0
# windows per encoder call on a CPU: 13 windows in slices of 2 took 0.69× (tiny.en) and 0.81× (base) the time
# of one call with all 13 on the 2-core machine of docs/benchmarks.md (the attention of a big batch spills
# out of the caches); a GPU takes the whole batch at once
CPU_ENCODER_BATCH = 2


def audio_array(audio: Any) -> np.ndarray:
    """16 kHz mono float32 through the one loader (arrays pass through, files are decoded)."""
    if audio is None:
        raise ValueError("audio is None; pass a 16 kHz mono array (e.g. from course_utils.audio.load_audio)")
    return load_audio(audio, sr=SAMPLE_RATE)


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


def is_silence(result: DecodingResult) -> bool:
    """whisper.transcribe's rule: no-speech probability above 0.6 and average log-probability below -1."""
    return result.no_speech_prob > NO_SPEECH_THRESHOLD and result.avg_logprob < LOGPROB_THRESHOLD


# --- timestamps ---------------------------------------------------------------------------------------------


@dataclass
class Segment:
    """Decoded text with its time in the recording (seconds), from a pair of Whisper timestamp tokens."""

    start_s: float
    end_s: float
    tokens: list[int]  # text tokens only


def timed_segments(
    tokens: Sequence[int], timestamp_begin: int, window_s: float
) -> tuple[list[Segment], float, list[int]]:
    """(complete segments, seconds of the window they cover, text tokens of the unfinished last segment).

    whisper.transcribe's rule: consecutive timestamp tokens close one segment and open the next; output
    ending in a single timestamp is complete and covers the whole window; otherwise the text after the last
    pair is unfinished and the window is covered up to that pair. Times are relative to the window.
    """
    is_ts = [t >= timestamp_begin for t in tokens]
    cuts = [i + 1 for i in range(len(tokens) - 1) if is_ts[i] and is_ts[i + 1]]
    single_ending = is_ts[-2:] == [False, True]

    def seconds(token: int) -> float:
        return min((token - timestamp_begin) * TIME_PRECISION, window_s)

    def text(piece: Sequence[int]) -> list[int]:
        return [t for t in piece if t < timestamp_begin]

    if not cuts:  # one segment: its end is the last timestamp, else the window's end
        stamps = [t for t in tokens if t >= timestamp_begin]
        end = seconds(stamps[-1]) if stamps and stamps[-1] != timestamp_begin else window_s
        start = seconds(stamps[0]) if len(stamps) > 1 else 0.0
        words = text(tokens)
        return ([Segment(start, max(end, start), words)] if words else []), window_s, []
    segments = []
    last = 0
    for cut in [*cuts, len(tokens)] if single_ending else cuts:
        piece = tokens[last:cut]
        start = seconds(piece[0]) if is_ts[last] else 0.0
        end = seconds(piece[-1]) if is_ts[cut - 1] else window_s
        if text(piece):
            segments.append(Segment(start, max(end, start), text(piece)))
        last = cut
    if single_ending:
        return segments, window_s, []
    covered = seconds(tokens[last - 1])
    if covered <= 0:  # nothing complete: take the whole output as it is
        return [Segment(0.0, window_s, text(tokens))] if text(tokens) else [], window_s, []
    return segments, covered, text(tokens[last:])


def resume_at(segments: Sequence[Segment], covered: float, unfinished: Sequence[int], length: float) -> float:
    """Seconds into the window from which it must be decoded again (`length` when it is done).

    An unfinished last segment resumes at the end of the complete ones (whisper.transcribe's rule); a
    complete output whose last segment ends at least MIN_TAIL_S before the window's end resumes there, so
    speech Whisper skipped after its last sentence is decoded too (silence there is then dropped as such).
    """
    if unfinished:
        return covered
    if segments and length - segments[-1].end_s >= MIN_TAIL_S:
        return segments[-1].end_s
    return length


def handover_points(spans: Sequence[tuple[int, int]]) -> list[int]:
    """Per window (sample spans, in order): the sample from which a skipped tail is left to the next window.

    A tail from there on lies at least HANDOVER_S inside the next window, which overlaps this one and hears
    it from its start; without an overlapping next window, the window's end (every tail is decoded again).
    """
    return [
        spans[i + 1][0] + round(HANDOVER_S * SAMPLE_RATE) if i + 1 < len(spans) and spans[i + 1][0] < end else end
        for i, (_, end) in enumerate(spans)
    ]


def encode(model: Any, batch: torch.Tensor) -> torch.Tensor:
    """The encoder over a batch of mel windows: on a CPU in slices of CPU_ENCODER_BATCH, else all at once."""
    if batch.device.type != "cpu" or len(batch) <= CPU_ENCODER_BATCH:
        return model.encoder(batch)
    return torch.cat([model.encoder(batch[i : i + CPU_ENCODER_BATCH]) for i in range(0, len(batch), CPU_ENCODER_BATCH)])


# --- batched decoding ---------------------------------------------------------------------------------------


class _BatchDecoder:
    """Encodes and decodes batches of mel windows with one set of options; detects the language once."""

    def __init__(self, model: Any, language: str | None, timestamps: bool) -> None:
        opts = transcribe_options(model, language=language)  # fp16 from the device, English-only check
        self.model = model
        self.fp16 = bool(opts["fp16"])
        self.dtype = torch.float16 if self.fp16 else torch.float32
        self.language = language or ("" if model.is_multilingual else "en")
        self.timestamps = timestamps
        self.tokenizer = whisper.tokenizer.get_tokenizer(model.is_multilingual, num_languages=model.num_languages)
        self.options: DecodingOptions | None = None
        self.encode_s = self.decode_s = 0.0
        self.features = torch.empty(0)

    def _encode(self, mels: Sequence[torch.Tensor], known: Sequence[torch.Tensor | None]) -> torch.Tensor:
        """The encoder output of a batch of mel windows, encoding only those without a known output."""
        todo = [j for j in range(len(mels)) if not known or known[j] is None]
        if len(todo) == len(mels):
            return encode(self.model, torch.stack(list(mels)).to(self.model.device, self.dtype))
        parts = list(known)
        if todo:
            fresh = encode(self.model, torch.stack([mels[j] for j in todo]).to(self.model.device, self.dtype))
            for j, row in zip(todo, fresh, strict=True):
                parts[j] = row
        return torch.stack(parts)

    def __call__(
        self, mels: Sequence[torch.Tensor], known: Sequence[torch.Tensor | None] = ()
    ) -> tuple[list[DecodingResult], float]:
        """Decoded results of one batch and the seconds it took; `known[j]`, when given, is window j's encoder output.

        The batch's encoder output stays in ``self.features`` until the next call.
        """
        with torch.inference_mode():
            start = perf_counter()
            features = self._encode(mels, known)
            self.features = features
            encoded = perf_counter()
            if self.options is None:
                if not self.language:
                    _, probs = detect_language(self.model, features[:1], self.tokenizer)
                    self.language = max(probs[0], key=probs[0].get)
                self.options = DecodingOptions(
                    task="transcribe",
                    language=self.language,
                    temperature=0.0,
                    without_timestamps=not self.timestamps,
                    fp16=self.fp16,
                )
            with fast_decoding(self.model) as fast:
                results = (decode if fast else whisper.decode)(self.model, features, self.options)
            done = perf_counter()
        self.encode_s += encoded - start
        self.decode_s += done - encoded
        return results, done - start


@dataclass
class Decoded:
    """Text per window from ``decode_windows`` (no timestamps)."""

    tokens: list[list[int]]  # text tokens per window (no special or timestamp tokens)
    texts: list[str]
    seconds: list[float]  # per window: its share of its batch's time
    language: str
    no_speech: list[bool] = field(default_factory=list)  # dropped as silence
    encode_s: float = 0.0
    decode_s: float = 0.0
    features: dict[int, torch.Tensor] = field(default_factory=dict)  # encoder output of the windows `keep` chose


def decode_windows(
    model: Any,
    mels: Sequence[torch.Tensor],
    language: str | None,
    batch_size: int,
    bar: Any = None,
    keep: Callable[[int, list[int], str], bool] | None = None,
) -> Decoded:
    """Encode and greedily decode 30-second mel windows in batches, without timestamps (short files).

    The language is detected once, on the first window, unless given. Windows that look like silence
    (``is_silence``) give no text. ``keep(i, tokens, text)`` true keeps window i's encoder output in
    ``features`` (for a second decode of the same window that need not encode it again).
    """
    decoder = _BatchDecoder(model, language, timestamps=False)
    out = Decoded([], [], [], decoder.language)
    for first in range(0, len(mels), batch_size):
        results, took = decoder(mels[first : first + batch_size])
        for j, result in enumerate(results):
            silent = is_silence(result)
            tokens = [] if silent else [t for t in result.tokens if t < decoder.tokenizer.eot]
            out.tokens.append(tokens)
            out.texts.append(decoder.tokenizer.decode(tokens).strip())
            out.seconds.append(took / len(results))
            out.no_speech.append(silent)
            if keep is not None and keep(first + j, tokens, out.texts[-1]):
                out.features[first + j] = decoder.features[j].clone()  # not a view: the batch is freed
        if bar is not None:
            bar.update(len(results))
    out.language, out.encode_s, out.decode_s = decoder.language, decoder.encode_s, decoder.decode_s
    return out


@dataclass
class Covered:
    """What ``decode_covered`` found in each window: timed segments, how far it got, what it skipped."""

    segments: list[list[Segment]]  # per window, in time order, times in seconds of the recording
    covered_s: list[float]  # per window: seconds from its start that decoding went through
    skipped: list[list[tuple[float, float, str]]]  # per window: (start_s, end_s, reason) left without text
    passes: list[int]  # decode passes per window (1 = complete at the first pass)
    seconds: list[float]  # per window: its share of the batches' time
    language: str
    encode_s: float = 0.0
    decode_s: float = 0.0

    def tokens(self, i: int) -> list[int]:
        """All text tokens of window `i`, in order."""
        return [t for segment in self.segments[i] for t in segment.tokens]


def decode_covered(
    model: Any,
    mel: torch.Tensor,
    spans: Sequence[tuple[int, int]],
    language: str | None,
    batch_size: int,
    bar: Any = None,
    retry_tails: bool = True,
    features: Mapping[int, torch.Tensor] | None = None,
) -> Covered:
    """Decode every sample span to its end: whisper.transcribe's seek loop, batched across windows.

    Each window is decoded with timestamps; when its output ends in an unfinished segment, the rest of the
    window (from the last complete segment's end) joins the queue and is decoded again together with the
    rest of other windows (so does the rest after a complete output's last segment when it is at least
    MIN_TAIL_S long: ``resume_at``; once per window, and not where the tail lies HANDOVER_S inside the next
    overlapping window, which decodes it anyway; ``retry_tails=False`` keeps whisper.transcribe's own rule,
    which moves on after a complete output), until every window is covered, or its rest is shorter than
    MIN_REST_S (the unfinished text is then kept), or it used MAX_PASSES passes (then too the unfinished text is
    kept). Windows
    judged silent by ``is_silence`` give no text and are reported as skipped with the reason.
    ``features[i]``, when given, is window i's encoder output (its first pass then skips the encoder).
    """
    decoder = _BatchDecoder(model, language, timestamps=True)
    n = len(spans)
    out = Covered([[] for _ in spans], [0.0] * n, [[] for _ in spans], [0] * n, [0.0] * n, decoder.language)
    queue = deque((i, start) for i, (start, _) in enumerate(spans))
    begin = decoder.tokenizer.timestamp_begin
    tailed: set[int] = set()  # windows whose tail after a complete output was already decoded again
    handover = handover_points(spans)
    while queue:
        batch = [queue.popleft() for _ in range(min(batch_size, len(queue)))]
        mels = [window_mel(mel, seek, spans[i][1]) for i, seek in batch]
        known = [features.get(i) if features and out.passes[i] == 0 else None for i, _ in batch]
        results, took = decoder(mels, known) if any(k is not None for k in known) else decoder(mels)
        finished = 0
        for (i, seek), result in zip(batch, results, strict=True):
            end = spans[i][1]
            offset, length = seek / SAMPLE_RATE, (end - seek) / SAMPLE_RATE
            out.passes[i] += 1
            out.seconds[i] += took / len(batch)
            if is_silence(result):
                reason = f"no speech (p={result.no_speech_prob:.2f}, logprob={result.avg_logprob:.2f})"
                out.skipped[i].append((offset, end / SAMPLE_RATE, reason))
                out.covered_s[i] = (end - spans[i][0]) / SAMPLE_RATE
                finished += 1
                continue
            segments, covered, unfinished = timed_segments(result.tokens, begin, length)
            for s in segments:
                out.segments[i].append(Segment(offset + s.start_s, offset + s.end_s, s.tokens))
            resume = resume_at(segments, covered, unfinished, length) if retry_tails or unfinished else length
            if resume < length and not unfinished:  # a skipped tail: decoded again once per window at most,
                tail = seek + round(resume * SAMPLE_RATE)  # and only where the next window did not hear it whole
                resume = length if i in tailed or tail >= handover[i] else resume
                tailed.add(i)
            seek = min(end, seek + max(round(resume * SAMPLE_RATE), HOP_LENGTH))
            rest = (end - seek) / SAMPLE_RATE
            if resume < length and rest >= MIN_REST_S and out.passes[i] < MAX_PASSES:
                queue.append((i, seek))
                out.covered_s[i] = (seek - spans[i][0]) / SAMPLE_RATE
                continue
            if unfinished:  # too short to decode again (or out of passes): keep Whisper's text for it
                out.segments[i].append(Segment(seek / SAMPLE_RATE, end / SAMPLE_RATE, unfinished))
            out.covered_s[i] = (end - spans[i][0]) / SAMPLE_RATE
            finished += 1
        if bar is not None:
            bar.update(finished)
    out.language, out.encode_s, out.decode_s = decoder.language, decoder.encode_s, decoder.decode_s
    return out
