"""Measuring, never showing: timing (RTF), accuracy (WER/CER with Whisper's normalisers) and throughput.

Every function returns a small dataclass with ``to_dict()`` (lists of them turn into DataFrames) and prints
nothing; ``plots`` draws the results and notebooks narrate them. Whisper decode defaults live in one place,
``transcribe_options``, so every measurement decodes the same way (greedy, fp16 only on CUDA, quiet).

Accuracy conventions (one WER function for the lesson, solutions, bench, grader and tests):

- Text is normalised before scoring: Whisper's ``EnglishTextNormalizer`` for English (case, punctuation,
  spelled-out numbers, contractions, British spellings), ``BasicTextNormalizer`` for every other language.
- ``wer`` counts word errors; ``cer`` counts character errors (whitespace runs count as one space, except in
  the languages of ``CER_LANGUAGES``, where whitespace is dropped). Languages written without spaces between
  words (Chinese, Japanese, Thai, ...) and Korean (whose spacing is inconsistent) have no meaningful WER:
  ``wer`` refuses them and ``error_rate`` picks CER for them and WER for everything else.
- Corpus rates sum errors over all reference words (``corpus_wer``), never average per-clip rates: a 2-word
  clip with one error must not weigh as much as a 100-word clip.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from time import perf_counter
from typing import TYPE_CHECKING, Any

import jiwer
import numpy as np
import torch
from tqdm.auto import tqdm
from whisper.normalizers import BasicTextNormalizer, EnglishTextNormalizer
from whisper.tokenizer import LANGUAGES

from .audio import SAMPLE_RATE, load_audio, synth_tone
from .decoding import default_device, language_code, transcribe_options
from .decoding import device_of as _device_of
from .decoding import model_name as _model_name
from .models import describe_model, load_model
from .settings import show_progress

if TYPE_CHECKING:
    import pandas as pd

# Scored with CER: scripts without spaces between words (zh, yue, ja, th, lo, my) and Korean, by convention.
CER_LANGUAGES = frozenset({"zh", "yue", "ja", "ko", "th", "lo", "my"})


# --- timing -------------------------------------------------------------------------------------------------


def _synchronize(device: torch.device | str) -> None:
    """Wait for queued CUDA kernels so the clock measures finished work; a no-op on CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _as_audio(audio: Any) -> np.ndarray:
    """Audio as 16 kHz mono float32 through the one loader (arrays pass through, paths are decoded)."""
    if audio is None:
        raise ValueError("audio is None; pass a 16 kHz mono array (e.g. from course_utils.audio.load_audio)")
    return load_audio(audio, sr=SAMPLE_RATE)


def _duration_s(audio: np.ndarray) -> float:
    """Seconds of a 16 kHz array."""
    return len(audio) / SAMPLE_RATE


def _check_count(value: Any, name: str, minimum: int) -> int:
    """Reject counts that are not integers ≥ `minimum` (bools included) with the argument's name."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _rtfx(rtf: float) -> float:
    """Seconds of audio per compute second; infinite when a (mocked) run took no time."""
    return math.inf if rtf == 0 else 1.0 / rtf


def _time_runs(
    run: Callable[[np.ndarray], Any], audio: np.ndarray, device: torch.device, warmup: int, repeats: int
) -> tuple[list[float], Any]:
    """Run `warmup` times untimed, then `repeats` times timed; returns (seconds per run, last output)."""
    for _ in range(warmup):
        run(audio)
    times: list[float] = []
    output = None
    for _ in range(repeats):
        _synchronize(device)
        start = perf_counter()
        output = run(audio)
        _synchronize(device)
        times.append(perf_counter() - start)
    return times, output


def _runner(
    fn_or_model: Any, options: dict[str, Any], device: torch.device | str | None
) -> tuple[Callable[[np.ndarray], Any], torch.device]:
    """(audio → output, device to synchronise) for a Whisper model or a plain callable."""
    if hasattr(fn_or_model, "transcribe"):
        model = fn_or_model
        opts = transcribe_options(model, **options)
        return (lambda audio: model.transcribe(audio, **opts)), torch.device(device or _device_of(model))
    if callable(fn_or_model):
        fn = fn_or_model
        return (lambda audio: fn(audio, **options)), torch.device(device or default_device())
    raise TypeError(
        f"expected a Whisper model or a callable taking the audio, got {type(fn_or_model).__name__}; "
        "pass course_utils.load_model('tiny.en') or e.g. lambda audio: model.transcribe(audio)"
    )


@dataclass
class Timing:
    """Wall-clock seconds of repeated runs on one audio (warm-up excluded) and the real-time factor."""

    median_s: float
    min_s: float
    max_s: float
    runs: list[float]  # seconds of each timed run, in order
    audio_s: float
    rtf: float  # median_s / audio_s: below 1 is faster than real time
    rtfx: float  # 1 / rtf: seconds of audio per second of compute
    warmup: int = 0  # untimed runs before the timed ones
    device: str = "cpu"

    @classmethod
    def from_runs(cls, runs: Sequence[float], audio_s: float, warmup: int = 0, device: str = "cpu") -> Timing:
        """Summarise timed runs of `audio_s` seconds of audio."""
        median = float(statistics.median(runs))
        rtf = median / audio_s
        return cls(
            median,
            float(min(runs)),
            float(max(runs)),
            [float(t) for t in runs],
            audio_s,
            rtf,
            _rtfx(rtf),
            warmup,
            device,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain fields, for JSON and DataFrames."""
        return asdict(self)


def timed_call(
    fn_or_model: Any,
    audio: Any,
    warmup: int = 1,
    repeats: int = 3,
    *,
    device: torch.device | str | None = None,
    **options: Any,
) -> tuple[Timing, Any]:
    """Like ``measure_rtf`` but also returns the last run's output (a transcript), so nothing is run twice."""
    warmup = _check_count(warmup, "warmup", 0)
    repeats = _check_count(repeats, "repeats", 1)
    samples = _as_audio(audio)
    run, dev = _runner(fn_or_model, options, device)
    times, output = _time_runs(run, samples, dev, warmup, repeats)
    return Timing.from_runs(times, _duration_s(samples), warmup, str(dev)), output


def measure_rtf(
    fn_or_model: Any,
    audio: Any,
    warmup: int = 1,
    repeats: int = 3,
    *,
    device: torch.device | str | None = None,
    **options: Any,
) -> Timing:
    """Time a model's ``transcribe`` (or any callable taking the audio) and return median/min/max and RTF.

    For a Whisper model, `options` go through ``transcribe_options`` (greedy, fp16 from the model's device);
    for a callable they are passed as keyword arguments. Warm-up runs are not timed; on CUDA the device is
    synchronised before each timed run and after it. `device` overrides the device to synchronise (default:
    the model's, or ``default_device()`` for a callable).
    """
    return timed_call(fn_or_model, audio, warmup, repeats, device=device, **options)[0]


@dataclass
class TranscriptionResult:
    """One transcription with its timing: the fields the lesson prints and plots."""

    text: str
    language: str
    audio_duration_s: float
    process_time_s: float
    rtf: float
    faster_than_realtime: bool
    segments: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain fields, for JSON and DataFrames."""
        return asdict(self)


def transcribe_and_measure(model: Any, audio: Any, **options: Any) -> TranscriptionResult:
    """Transcribe once with ``transcribe_options`` defaults and time it (CUDA synchronised); no warm-up."""
    if not hasattr(model, "transcribe"):
        raise TypeError(
            f"expected a Whisper model (course_utils.load_model(...)), got {type(model).__name__}"
        )
    samples = _as_audio(audio)
    run, device = _runner(model, options, None)
    (seconds,), result = _time_runs(run, samples, device, 0, 1)
    audio_s = _duration_s(samples)
    rtf = seconds / audio_s
    return TranscriptionResult(
        text=str(result["text"]).strip(),
        language=str(result.get("language") or ""),
        audio_duration_s=audio_s,
        process_time_s=seconds,
        rtf=rtf,
        faster_than_realtime=rtf < 1.0,
        segments=list(result.get("segments", [])),
    )


@dataclass
class SweepPoint:
    """RTF of one signal cut to one duration, with how much text the model produced for it."""

    signal: str  # "speech" or "tone"
    duration_s: float
    process_time_s: float  # median over the repeats
    rtf: float
    n_tokens: int  # decoded tokens incl. timestamp tokens: each one is a decoder step
    n_words: int
    text: str

    def to_dict(self) -> dict[str, Any]:
        """Plain fields, for JSON and DataFrames."""
        return asdict(self)


def _long_form_audio(source: Any) -> Any:
    """The array inside a ``data.LongForm`` (or anything with ``.audio``); other sources pass through."""
    audio = getattr(source, "audio", None)
    if audio is None:
        return source
    return audio() if callable(audio) else audio


def rtf_sweep(
    model: Any,
    durations_s: Iterable[float],
    source: Any = None,
    include_tone: bool = True,
    repeats: int = 1,
    verbose: bool = True,
    warmup: int = 1,
    **options: Any,
) -> list[SweepPoint]:
    """RTF against duration on real speech (the first N seconds of `source`) and on ``synth_tone(N)``.

    `source` is an array (or a ``LongForm``/path) at least as long as the longest duration; by default the
    corpus's English long form. The tone shows why RTF on non-speech misleads: the model hallucinates text
    whose length, not the audio's, sets the decode time (compare ``n_tokens``). `warmup` untimed runs on the
    shortest speech cut come first. Shows a progress bar unless ``verbose=False``.
    """
    durations = [float(d) for d in durations_s]
    if not durations or any(not math.isfinite(d) or d <= 0 for d in durations):
        raise ValueError(f"durations_s must be positive seconds, e.g. [5, 10, 30], got {durations}")
    repeats = _check_count(repeats, "repeats", 1)
    warmup = _check_count(warmup, "warmup", 0)
    if source is None:
        from .data import english_long_form

        source = english_long_form()
    speech = _as_audio(_long_form_audio(source))
    longest = max(durations)
    if round(longest * SAMPLE_RATE) > len(speech):
        raise ValueError(
            f"source holds {_duration_s(speech):.1f} s of audio but the sweep needs {longest:g} s; "
            "pass a longer source (e.g. course_utils.data.english_long_form().audio) or shorter durations"
        )
    run, device = _runner(model, options, None)
    signals = ["speech", "tone"] if include_tone else ["speech"]
    jobs = [(signal, d) for d in durations for signal in signals]
    if warmup:
        _time_runs(run, speech[: round(min(durations) * SAMPLE_RATE)], device, warmup, 0)
    points: list[SweepPoint] = []
    for signal, d in tqdm(jobs, desc="RTF sweep", leave=False, disable=not show_progress(verbose)):
        audio = speech[: round(d * SAMPLE_RATE)] if signal == "speech" else synth_tone(d)
        times, result = _time_runs(run, audio, device, 0, repeats)
        seconds = float(statistics.median(times))
        text = str(result["text"]).strip()
        n_tokens = sum(len(segment.get("tokens", ())) for segment in result.get("segments", []))
        points.append(
            SweepPoint(
                signal,
                _duration_s(audio),
                seconds,
                seconds / _duration_s(audio),
                n_tokens,
                len(text.split()),
                text,
            )
        )
    return points


def sweep_table(points: Iterable[SweepPoint]) -> pd.DataFrame:
    """The sweep as a DataFrame, one row per (signal, duration), for plots and the notebook."""
    import pandas as pd

    columns = list(SweepPoint.__dataclass_fields__)
    return pd.DataFrame([point.to_dict() for point in points], columns=columns)


# --- accuracy -----------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _english_normalizer() -> EnglishTextNormalizer:
    return EnglishTextNormalizer()


@lru_cache(maxsize=1)
def _basic_normalizer() -> BasicTextNormalizer:
    return BasicTextNormalizer()


def normalize_text(text: str, language: str = "en") -> str:
    """The text as it is scored: Whisper's English normaliser for 'en', the basic one otherwise."""
    if not isinstance(text, str):
        raise TypeError(f"expected a transcript string, got {type(text).__name__}")
    code = language_code(language)
    normalizer = _english_normalizer() if code == "en" else _basic_normalizer()
    return " ".join(normalizer(text).split())


@dataclass
class ErrorCounts:
    """Alignment counts of one or many (reference, hypothesis) pairs; they add up across a corpus.

    ``reference_words`` is the reference length in ``unit``s: words, or characters when ``unit == "char"``.
    """

    substitutions: int
    deletions: int
    insertions: int
    hits: int
    reference_words: int
    unit: str = "word"  # "word" (WER) or "char" (CER)

    @property
    def errors(self) -> int:
        """Substitutions + deletions + insertions."""
        return self.substitutions + self.deletions + self.insertions

    @property
    def rate(self) -> float:
        """Errors per reference unit (can exceed 1 when the hypothesis has many insertions)."""
        if self.reference_words == 0:
            raise ValueError("no reference words to score against: the error rate is undefined")
        return self.errors / self.reference_words

    def __add__(self, other: ErrorCounts) -> ErrorCounts:
        """Sum counts of the same unit, for corpus rates."""
        if not isinstance(other, ErrorCounts):
            return NotImplemented
        if other.unit != self.unit:
            raise ValueError(f"cannot add {self.unit} counts to {other.unit} counts (WER and CER do not mix)")
        return ErrorCounts(
            self.substitutions + other.substitutions,
            self.deletions + other.deletions,
            self.insertions + other.insertions,
            self.hits + other.hits,
            self.reference_words + other.reference_words,
            self.unit,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain fields plus errors and rate, for JSON and DataFrames."""
        return {**asdict(self), "errors": self.errors, "rate": self.rate if self.reference_words else None}


def _counts(output: Any, reference_length: int, unit: str) -> ErrorCounts:
    """ErrorCounts from a jiwer WordOutput/CharacterOutput."""
    return ErrorCounts(
        output.substitutions, output.deletions, output.insertions, output.hits, reference_length, unit
    )


def _normalised_reference(reference: str, code: str, unit: str) -> str:
    """The normalised reference, or a ValueError when nothing scorable is left (WER would divide by 0)."""
    text = normalize_text(reference, code)
    if not text:
        raise ValueError(
            f"reference {reference!r} is empty after {code!r} text normalisation, so the {unit} error rate "
            "is undefined (nothing to divide by); check the reference transcript or leave this clip out"
        )
    return text


def word_errors(reference: str, hypothesis: str, language: str = "en") -> ErrorCounts:
    """Word-level error counts after normalisation; languages in ``CER_LANGUAGES`` are a ValueError."""
    code = language_code(language)
    if code in CER_LANGUAGES:
        raise ValueError(
            f"WER is not meaningful for {LANGUAGES[code].title()} ({code!r}): its words are not reliably "
            "separated by spaces, so it is scored by characters; use cer(), or error_rate() which picks CER "
            f"for {', '.join(sorted(CER_LANGUAGES))}"
        )
    ref = _normalised_reference(reference, code, "word")
    hyp = normalize_text(hypothesis, code)
    return _counts(jiwer.process_words(ref, hyp), len(ref.split()), "word")


def char_errors(reference: str, hypothesis: str, language: str = "en") -> ErrorCounts:
    """Character-level error counts after normalisation (whitespace dropped for ``CER_LANGUAGES``)."""
    code = language_code(language)
    ref = _normalised_reference(reference, code, "character")
    hyp = normalize_text(hypothesis, code)
    if code in CER_LANGUAGES:
        ref, hyp = ref.replace(" ", ""), hyp.replace(" ", "")
    return _counts(jiwer.process_characters(ref, hyp), len(ref), "char")


def error_counts(reference: str, hypothesis: str, language: str = "en") -> ErrorCounts:
    """CER counts for ``CER_LANGUAGES`` (zh, ja, ko, ...), WER counts for every other language."""
    code = language_code(language)
    scorer = char_errors if code in CER_LANGUAGES else word_errors
    return scorer(reference, hypothesis, code)


def wer(reference: str, hypothesis: str, language: str = "en") -> float:
    """Word error rate after Whisper's normalisation (English or basic); see ``error_rate`` for zh/ja/ko."""
    return word_errors(reference, hypothesis, language).rate


def cer(reference: str, hypothesis: str, language: str = "en") -> float:
    """Character error rate after Whisper's normalisation."""
    return char_errors(reference, hypothesis, language).rate


def error_rate(reference: str, hypothesis: str, language: str = "en") -> float:
    """The language's usual metric: CER for ``CER_LANGUAGES`` (zh, ja, ko, ...), WER otherwise."""
    return error_counts(reference, hypothesis, language).rate


def _total(
    items: Iterable[ErrorCounts | tuple[str, str]],
    scorer: Callable[..., ErrorCounts],
    language: str,
    unit: str,
) -> ErrorCounts:
    """Sum ErrorCounts over items, scoring (reference, hypothesis) pairs with `scorer` on the way."""
    total = ErrorCounts(0, 0, 0, 0, 0, unit)
    for item in items:
        total = total + (item if isinstance(item, ErrorCounts) else scorer(item[0], item[1], language))
    if total.reference_words == 0:
        raise ValueError("no (reference, hypothesis) pairs to score; pass at least one pair")
    return total


def corpus_wer(pairs: Iterable[ErrorCounts | tuple[str, str]], language: str = "en") -> float:
    """Corpus WER: all word errors over all reference words (not the mean of per-pair rates).

    Items are (reference, hypothesis) pairs in `language`, or word ``ErrorCounts`` already computed.
    """
    return _total(pairs, word_errors, language, "word").rate


def corpus_cer(pairs: Iterable[ErrorCounts | tuple[str, str]], language: str = "en") -> float:
    """Corpus CER: all character errors over all reference characters."""
    return _total(pairs, char_errors, language, "char").rate


@dataclass
class ClipScore:
    """One evaluated clip: transcript, error counts and timing. ``words`` counts characters for CER."""

    id: str
    language: str
    duration_s: float
    reference: str
    hypothesis: str
    metric: str  # "wer", or "cer" for CER_LANGUAGES
    errors: int
    words: int  # reference length in the metric's unit (words, or characters for "cer")
    error_rate: float
    process_time_s: float
    rtf: float

    def to_dict(self) -> dict[str, Any]:
        """Plain fields, for JSON and DataFrames."""
        return asdict(self)


@dataclass
class Evaluation:
    """Per-clip scores and corpus rates (errors summed over reference units, WER and CER kept apart)."""

    model: str
    rows: list[ClipScore]
    corpus_wer: float | None  # over the "wer" rows; None when there are none
    corpus_cer: float | None  # over the "cer" rows (zh, ja, ko, ...); None when there are none
    audio_s: float
    process_time_s: float

    @property
    def rtf(self) -> float:
        """Total compute seconds over total audio seconds."""
        return self.process_time_s / self.audio_s

    def table(self) -> pd.DataFrame:
        """One row per clip, in the order evaluated."""
        import pandas as pd

        return pd.DataFrame(
            [row.to_dict() for row in self.rows], columns=list(ClipScore.__dataclass_fields__)
        )

    def by_language(self) -> pd.DataFrame:
        """Per language: clips, errors, reference units, summed error rate (the honest multilingual table)."""
        table = self.table()
        grouped = table.groupby(["language", "metric"], sort=True).agg(
            clips=("id", "count"),
            errors=("errors", "sum"),
            words=("words", "sum"),
            audio_s=("duration_s", "sum"),
            process_time_s=("process_time_s", "sum"),
        )
        grouped["error_rate"] = grouped["errors"] / grouped["words"]
        grouped["rtf"] = grouped["process_time_s"] / grouped["audio_s"]
        return grouped.reset_index()

    def to_dict(self) -> dict[str, Any]:
        """Plain fields, for JSON and DataFrames."""
        return asdict(self)


def _resolve_clip(clip: Any) -> Any:
    """A corpus clip id becomes its ``data.Clip``; clip objects pass through."""
    if isinstance(clip, str):
        from .data import get_clip

        return get_clip(clip)
    return clip


def evaluate(model: Any, clips: Iterable[Any], verbose: bool = True, **options: Any) -> Evaluation:
    """Transcribe corpus clips and score them: per-clip table plus corpus WER (and CER for zh/ja/ko).

    `clips` are ``course_utils.data.Clip`` objects or clip ids. Multilingual models are told each clip's
    language (unless `options` set ``language``); English-only models accept English clips only. All clips
    are checked before any decoding. Shows a progress bar unless ``verbose=False``.
    """
    clips = [_resolve_clip(clip) for clip in clips]
    if not clips:
        raise ValueError(
            "no clips to evaluate; pass e.g. course_utils.data.list_clips('en', with_transcript=True)"
        )
    untranscribed = [clip.id for clip in clips if not str(clip.transcript or "").strip()]
    if untranscribed:
        raise ValueError(
            f"clips without a reference transcript cannot be scored: {', '.join(untranscribed[:5])}; "
            "select clips with list_clips(with_transcript=True)"
        )
    multilingual = getattr(model, "is_multilingual", True)
    if not multilingual and "language" not in options:
        foreign = [f"{clip.id} ({clip.language})" for clip in clips if language_code(clip.language) != "en"]
        if foreign:
            raise ValueError(
                f"{_model_name(model)} is English-only but {len(foreign)} clip(s) are not English: "
                f"{', '.join(foreign[:5])}; use a multilingual model such as 'base' or pass only English "
                "clips (list_clips(language='en'))"
            )
    rows: list[ClipScore] = []
    for clip in tqdm(clips, desc=f"evaluate {_model_name(model)}", leave=False, disable=not show_progress(verbose)):
        code = language_code(clip.language)
        clip_options = dict(options)
        if multilingual:
            clip_options.setdefault("language", code)
        result = transcribe_and_measure(model, clip.audio(), **clip_options)
        counts = error_counts(clip.transcript, result.text, code)
        rows.append(
            ClipScore(
                id=clip.id,
                language=code,
                duration_s=result.audio_duration_s,
                reference=clip.transcript,
                hypothesis=result.text,
                metric="cer" if counts.unit == "char" else "wer",
                errors=counts.errors,
                words=counts.reference_words,
                error_rate=counts.rate,
                process_time_s=result.process_time_s,
                rtf=result.rtf,
            )
        )

    def corpus(metric: str) -> float | None:
        selected = [row for row in rows if row.metric == metric]
        return sum(r.errors for r in selected) / sum(r.words for r in selected) if selected else None

    return Evaluation(
        model=_model_name(model),
        rows=rows,
        corpus_wer=corpus("wer"),
        corpus_cer=corpus("cer"),
        audio_s=sum(r.duration_s for r in rows),
        process_time_s=sum(r.process_time_s for r in rows),
    )


@dataclass
class ModelComparison:
    """One model's size, load time, speed and accuracy on the same clips: a row of the lesson's comparison."""

    model: str
    parameters_m: float
    multilingual: bool
    load_s: float
    rtf: float  # total processing time / total audio time over the clips
    wer: float | None  # corpus WER (fraction) over the clips
    evaluation: Evaluation = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain fields without the per-clip evaluation, for JSON and DataFrames."""
        row = asdict(self)
        row.pop("evaluation")
        return row


def compare_models(names: Iterable[str], clips: Iterable[Any], device: str | None = None,
                   verbose: bool = True, **options: Any) -> list[ModelComparison]:
    """Load each model (timed) and evaluate it on the same clips; models that cannot load are reported, not hidden.

    A name that cannot be loaded here raises ``ModelNotAvailableError`` listing what was tried, so pass only
    names from ``course_utils.loadable_models()`` when offline.
    """
    clips = [_resolve_clip(clip) for clip in clips]
    rows = []
    for name in names:
        _synchronize(device or default_device())
        start = perf_counter()
        model = load_model(name, device=device)
        _synchronize(_device_of(model))
        load_s = perf_counter() - start
        evaluation = evaluate(model, clips, verbose=verbose, **options)
        info = describe_model(model)
        rows.append(ModelComparison(name, info.parameters_m, info.multilingual, load_s, evaluation.rtf,
                                    evaluation.corpus_wer, evaluation))
        del model
    return rows


def _text_and_seconds(result: Any) -> tuple[str, float]:
    """(transcript, processing seconds) of any of the package's results, or of a (text, seconds) pair."""
    if isinstance(result, tuple):
        return str(result[0]), float(result[1])
    seconds = getattr(result, "process_time_s", None)
    if seconds is None:
        raise TypeError(f"cannot read a processing time from {type(result).__name__}; pass (text, seconds)")
    return str(result.text), float(seconds)


def method_table(
    reference: str, results: dict[str, Any], language: str = "en", baseline: str | None = None
) -> pd.DataFrame:
    """Score several transcriptions of the same audio: seconds, speed-up against `baseline`, WER; a DataFrame.

    `results` maps a method's label to a ``TranscriptionResult``, a ``LongformResult`` or a (text, seconds)
    pair. The first entry is the baseline unless `baseline` names another.
    """
    import pandas as pd

    if not results:
        raise ValueError("no results to compare; pass {label: result}")
    rows = []
    for label, result in results.items():
        text, seconds = _text_and_seconds(result)
        counts = error_counts(reference, text, language)
        rows.append({"method": label, "seconds": seconds, "wer": counts.rate, "errors": counts.errors,
                     "reference_words": counts.reference_words})
    base = next((r for r in rows if r["method"] == (baseline or rows[0]["method"])), None)
    if base is None:
        raise KeyError(f"baseline {baseline!r} is not one of {list(results)}")
    for row in rows:
        row["speed-up"] = base["seconds"] / row["seconds"] if row["seconds"] > 0 else float("inf")
    return pd.DataFrame(rows)


# --- throughput ---------------------------------------------------------------------------------------------


@dataclass
class Throughput:
    """How much audio a model gets through per unit of compute on a set of files."""

    audio_minutes: float
    compute_minutes: float
    audio_minutes_per_compute_minute: float
    files_per_second: float
    total_s: float
    n_files: int
    mode: str  # "sequential" (model.transcribe per file) or "batched" (longform.transcribe_batch)
    batch_size: int  # 1 for sequential
    texts: list[str] = field(default_factory=list, repr=False)  # one per file, to score with wer()

    def to_dict(self) -> dict[str, Any]:
        """Plain fields, for JSON and DataFrames."""
        return asdict(self)


THROUGHPUT_MODES = ("sequential", "batched")


def measure_throughput(
    model: Any,
    audios: Sequence[Any],
    mode: str = "sequential",
    batch_size: int = 8,
    verbose: bool = True,
    language: str | None = None,
    warmup: bool = True,
) -> Throughput:
    """Transcribe many files and report audio minutes per compute minute and files per second.

    ``mode="sequential"``: one ``model.transcribe`` per file (what students write), ``transcribe_options``
    defaults. ``mode="batched"``: ``course_utils.longform.transcribe_batch``, which packs ≤ 30 s mel windows
    into batches of `batch_size` (one ``whisper.decode`` per batch). `audios` are arrays or paths, all
    decoded before the clock starts. With `warmup`, the first file is transcribed once untimed.
    """
    if mode not in THROUGHPUT_MODES:
        raise ValueError(f"mode must be one of {THROUGHPUT_MODES}, got {mode!r}")
    batch_size = _check_count(batch_size, "batch_size", 1)
    if isinstance(audios, (str, np.ndarray)) or not len(audios):
        raise ValueError("audios must be a non-empty list of arrays or paths (one per file)")
    arrays = [_as_audio(audio) for audio in audios]
    device = _device_of(model)
    if mode == "sequential":
        batch_size = 1
        opts = transcribe_options(model, language=language)

        def transcribe_all(items: list[np.ndarray], show: bool) -> list[str]:
            bar = tqdm(items, desc="sequential", leave=False, disable=not show_progress(show))
            return [str(model.transcribe(audio, **opts)["text"]).strip() for audio in bar]
    else:
        try:
            from .longform import transcribe_batch
        except ImportError as error:
            raise ImportError(
                f"batched throughput needs course_utils.longform.transcribe_batch ({error}); "
                "update course_utils or use mode='sequential'"
            ) from error
        if language is not None:
            transcribe_options(model, language=language)  # same English-only check as sequential mode

        def transcribe_all(items: list[np.ndarray], show: bool) -> list[str]:
            texts = transcribe_batch(model, items, batch_size=batch_size, language=language, verbose=show)
            return [str(text).strip() for text in texts]

    if warmup:
        transcribe_all(arrays[:1], False)
    _synchronize(device)
    start = perf_counter()
    texts = transcribe_all(arrays, verbose)
    _synchronize(device)
    total_s = perf_counter() - start
    if len(texts) != len(arrays):
        raise RuntimeError(f"{mode} transcription returned {len(texts)} texts for {len(arrays)} files")
    audio_minutes = sum(map(_duration_s, arrays)) / 60
    compute_minutes = total_s / 60
    return Throughput(
        audio_minutes=audio_minutes,
        compute_minutes=compute_minutes,
        audio_minutes_per_compute_minute=audio_minutes / compute_minutes if total_s > 0 else math.inf,
        files_per_second=len(arrays) / total_s if total_s > 0 else math.inf,
        total_s=total_s,
        n_files=len(arrays),
        mode=mode,
        batch_size=batch_size,
        texts=texts,
    )
