"""Evaluating models on corpus clips: per-clip scores, corpus WER/CER, model comparisons and throughput.

This module sits above loading (``models``), timing (``timing``) and scoring (``scoring``): it transcribes
clips, times and scores them, and returns small dataclasses with ``to_dict()``; it prints nothing but
progress bars. ``measure_throughput`` compares one ``model.transcribe`` per file with the batched decoding of
``longform.transcribe_batch``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from time import perf_counter
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from . import display as show
from .corpus import get_clip
from .decoding import default_device, language_code, transcribe_options
from .decoding import device_of as _device_of
from .decoding import model_name as _model_name
from .encoder_ctx import transcribe_batch_short
from .longform import transcribe_batch
from .model_facts import describe_model
from .models import load_model
from .scoring import error_counts
from .settings import show_progress
from .timing import _as_audio, _check_count, _duration_s, _synchronize, transcribe_and_measure

__all__ = [
    "ClipScore", "Evaluation", "evaluate", "ModelComparison", "compare_models", "method_table", "Throughput",
    "THROUGHPUT_MODES", "measure_throughput",
]


@dataclass
class ClipScore:
    """One evaluated clip: transcript, error counts and timing. ``words`` counts characters for CER."""

    id: str
    language: str
    audio_s: float
    reference: str
    hypothesis: str
    metric: str  # "wer", or "cer" for CER_LANGUAGES
    errors: int
    words: int  # reference length in the metric's unit (words, or characters for "cer")
    error_rate: float
    compute_s: float
    rtf: float

    def to_dict(self) -> dict[str, Any]:
        """Plain fields, for JSON and DataFrames."""
        return asdict(self)

    def __repr__(self) -> str:
        unit = "words" if self.metric == "wer" else "characters"
        return (f"ClipScore({self.id}, {self.language}, {show.seconds(self.audio_s)}: {self.metric.upper()} "
                f"{show.percent(self.error_rate)} ({self.errors}/{self.words} {unit}), RTF {show.rtf(self.rtf)})")


@dataclass
class Evaluation:
    """Per-clip scores and corpus rates (errors summed over reference units, WER and CER kept apart)."""

    model: str
    rows: list[ClipScore]
    corpus_wer: float | None  # over the "wer" rows; None when there are none
    corpus_cer: float | None  # over the "cer" rows (zh, ja, ko, ...); None when there are none
    audio_s: float
    compute_s: float

    @property
    def rtf(self) -> float:
        """Total compute seconds over total audio seconds."""
        return self.compute_s / self.audio_s

    def table(self) -> pd.DataFrame:
        """One row per clip, in the order evaluated."""
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
            audio_s=("audio_s", "sum"),
            compute_s=("compute_s", "sum"),
        )
        grouped["error_rate"] = grouped["errors"] / grouped["words"]
        grouped["rtf"] = grouped["compute_s"] / grouped["audio_s"]
        return grouped.reset_index()

    def to_dict(self) -> dict[str, Any]:
        """Plain fields, for JSON and DataFrames."""
        return asdict(self)

    def _summary(self) -> str:
        """'tiny.en on 8 clips (85.3 s of audio): WER 5.2 %, RTF 0.041'."""
        rates = [f"{name} {show.percent(rate)}" for name, rate in (("WER", self.corpus_wer), ("CER", self.corpus_cer))
                 if rate is not None]
        return (f"{self.model} on {len(self.rows)} clips ({show.seconds(self.audio_s)} of audio): "
                f"{', '.join(rates + [f'RTF {show.rtf(self.rtf)}'])}")

    def __repr__(self) -> str:
        return f"Evaluation({self._summary()})"

    def _repr_html_(self) -> str:
        rows = [[r.id, r.language, show.seconds(r.audio_s), f"{r.metric.upper()} {show.percent(r.error_rate)}",
                 f"{r.errors}/{r.words}", show.rtf(r.rtf), show.shorten(r.hypothesis, 50)] for r in self.rows]
        return show.html_table(self._summary(), ["clip", "language", "audio", "error rate", "errors", "RTF",
                                                 "transcript"], rows)


def _resolve_clip(clip: Any) -> Any:
    """A corpus clip id becomes its ``corpus.Clip``; clip objects pass through."""
    if isinstance(clip, str):
        return get_clip(clip)
    return clip


def evaluate(model: Any, clips: Iterable[Any], verbose: bool = True, **options: Any) -> Evaluation:
    """Transcribe corpus clips and score them: per-clip table plus corpus WER (and CER for zh/ja/ko).

    `clips` are ``course_utils.corpus.Clip`` objects or clip ids. Multilingual models are told each clip's
    language (unless `options` set ``language``); English-only models accept English clips only. All clips
    are checked before any decoding. Shows a progress bar unless ``verbose=False``.
    """
    clips = [_resolve_clip(clip) for clip in clips]
    if not clips:
        raise ValueError(
            "no clips to evaluate; pass e.g. course_utils.corpus.list_clips('en', with_transcript=True)"
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
                audio_s=result.audio_s,
                reference=clip.transcript,
                hypothesis=result.text,
                metric="cer" if counts.unit == "char" else "wer",
                errors=counts.errors,
                words=counts.reference_words,
                error_rate=counts.rate,
                compute_s=result.compute_s,
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
        audio_s=sum(r.audio_s for r in rows),
        compute_s=sum(r.compute_s for r in rows),
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

    def __repr__(self) -> str:
        return (f"ModelComparison({self.model}: {self.parameters_m:.1f} M parameters, loaded in "
                f"{show.seconds(self.load_s)}, RTF {show.rtf(self.rtf)}, WER {show.percent(self.wer)})")

    def _repr_html_(self) -> str:
        return show.html_table(f"{self.model}", ["parameters", "load", "RTF", "WER"],
                               [[f"{self.parameters_m:.1f} M", show.seconds(self.load_s), show.rtf(self.rtf),
                                 show.percent(self.wer)]])


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
    seconds = getattr(result, "compute_s", None)
    if seconds is None:
        raise TypeError(f"cannot read a processing time from {type(result).__name__}; pass (text, seconds)")
    return str(result.text), float(seconds)


def method_table(
    reference: str, results: dict[str, Any], language: str = "en", baseline: str | None = None
) -> pd.DataFrame:
    """Score several transcriptions of the same audio: compute_s, speed-up against `baseline`, WER; a DataFrame.

    `results` maps a method's label to a ``TranscriptionResult``, a ``LongformResult`` or a (text, seconds)
    pair. The first entry is the baseline unless `baseline` names another.
    """
    if not results:
        raise ValueError("no results to compare; pass {label: result}")
    rows = []
    for label, result in results.items():
        text, seconds = _text_and_seconds(result)
        counts = error_counts(reference, text, language)
        rows.append({"method": label, "compute_s": seconds, "wer": counts.rate, "errors": counts.errors,
                     "reference_words": counts.reference_words})
    base = next((r for r in rows if r["method"] == (baseline or rows[0]["method"])), None)
    if base is None:
        raise KeyError(f"baseline {baseline!r} is not one of {list(results)}")
    for row in rows:
        row["speed-up"] = base["compute_s"] / row["compute_s"] if row["compute_s"] > 0 else float("inf")
    return pd.DataFrame(rows)


# --- throughput ---------------------------------------------------------------------------------------------


@dataclass
class Throughput:
    """How much audio a model gets through per unit of compute on a set of files."""

    audio_s: float  # all files together
    compute_s: float  # wall seconds to transcribe them all (warm-up excluded)
    audio_minutes_per_compute_minute: float
    files_per_second: float
    n_files: int
    mode: str  # "sequential" (model.transcribe per file) or "batched" (longform.transcribe_batch)
    batch_size: int  # 1 for sequential
    texts: list[str] = field(default_factory=list, repr=False)  # one per file, to score with wer()

    @property
    def audio_minutes(self) -> float:
        """Minutes of audio transcribed."""
        return self.audio_s / 60

    @property
    def compute_minutes(self) -> float:
        """Minutes of compute it took."""
        return self.compute_s / 60

    def to_dict(self) -> dict[str, Any]:
        """Plain fields plus the minutes, for JSON and DataFrames."""
        return {**asdict(self), "audio_minutes": self.audio_minutes, "compute_minutes": self.compute_minutes}

    def __repr__(self) -> str:
        how = self.mode if self.batch_size == 1 else f"{self.mode}, batch {self.batch_size}"
        return (f"Throughput({how}: {self.n_files} files, {self.audio_minutes:.1f} audio min in "
                f"{show.seconds(self.compute_s)} = {self.audio_minutes_per_compute_minute:.1f} audio min per "
                f"compute min, {self.files_per_second:.2f} files/s)")


THROUGHPUT_MODES = ("sequential", "batched")


def measure_throughput(
    model: Any,
    audios: Sequence[Any],
    mode: str = "sequential",
    batch_size: int = 8,
    verbose: bool = True,
    language: str | None = None,
    warmup: bool = True,
    short_encoder: bool = False,
) -> Throughput:
    """Transcribe many files and report audio minutes per compute minute and files per second.

    ``mode="sequential"``: one ``model.transcribe`` per file (what students write), ``transcribe_options``
    defaults. ``mode="batched"``: ``course_utils.longform.transcribe_batch``, which packs ≤ 30 s mel windows
    into batches of `batch_size` (one ``whisper.decode`` per batch). `audios` are arrays or paths, all
    decoded before the clock starts. With `warmup`, the first file is transcribed once untimed.
    `short_encoder` (batched mode): each batch's encoder window is cut to its longest file plus a margin
    (``encoder_ctx.transcribe_batch_short``, whisper.cpp's audio_ctx); pass a ``quantize``d model for int8.
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
        if language is not None:
            transcribe_options(model, language=language)  # same English-only check as sequential mode

        def transcribe_all(items: list[np.ndarray], show: bool) -> list[str]:
            batch = transcribe_batch_short if short_encoder else transcribe_batch
            texts = batch(model, items, batch_size=batch_size, language=language, verbose=show)
            return [str(text).strip() for text in texts]

    if warmup:
        transcribe_all(arrays[:1], False)
    _synchronize(device)
    start = perf_counter()
    texts = transcribe_all(arrays, verbose)
    _synchronize(device)
    compute_s = perf_counter() - start
    if len(texts) != len(arrays):
        raise RuntimeError(f"{mode} transcription returned {len(texts)} texts for {len(arrays)} files")
    audio_s = sum(map(_duration_s, arrays))
    return Throughput(
        audio_s=audio_s,
        compute_s=compute_s,
        audio_minutes_per_compute_minute=audio_s / compute_s if compute_s > 0 else math.inf,
        files_per_second=len(arrays) / compute_s if compute_s > 0 else math.inf,
        n_files=len(arrays),
        mode=mode,
        batch_size=batch_size,
        texts=texts,
    )
