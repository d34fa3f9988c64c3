"""Scoring transcripts: Whisper's text normalisers, WER/CER with jiwer, and the words lost at chunk boundaries.

One WER function for the lesson, solutions, bench, grader and tests:

- Text is normalised before scoring: Whisper's ``EnglishTextNormalizer`` for English (case, punctuation,
  spelled-out numbers, contractions, British spellings), ``BasicTextNormalizer`` for every other language.
- ``wer`` counts word errors; ``cer`` counts character errors (whitespace runs count as one space, except in
  the languages of ``CER_LANGUAGES``, where whitespace is dropped). Languages written without spaces between
  words (Chinese, Japanese, Thai, ...) and Korean (whose spacing is inconsistent) have no meaningful WER:
  ``wer`` refuses them and ``error_rate`` picks CER for them and WER for everything else.
- Corpus rates sum errors over all reference words (``corpus_wer``), never average per-clip rates: a 2-word
  clip with one error must not weigh as much as a 100-word clip.
- ``boundary_losses`` aligns a naive-chunked transcript with the reference and says which reference words
  were lost around each cut (``plots.plot_boundary_loss`` draws it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import jiwer

from . import display as show
from .decoding import language_code
from .whisper_text import LANGUAGES, BasicTextNormalizer, EnglishTextNormalizer  # whisper's files, without torch

__all__ = [
    "CER_LANGUAGES", "normalize_text", "ErrorCounts", "word_errors", "char_errors", "error_counts", "wer", "cer",
    "error_rate", "corpus_wer", "corpus_cer", "BoundaryLoss", "boundary_losses", "dropped_utterances",
]

# Scored with CER: scripts without spaces between words (zh, yue, ja, th, lo, my) and Korean, by convention.
CER_LANGUAGES = frozenset({"zh", "yue", "ja", "ko", "th", "lo", "my"})


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

    def __repr__(self) -> str:
        metric, unit = ("WER", "words") if self.unit == "word" else ("CER", "characters")
        rate = show.percent(self.rate) if self.reference_words else "n/a"
        return (f"ErrorCounts({metric} {rate}: {self.substitutions} substituted, {self.deletions} deleted, "
                f"{self.insertions} inserted, of {self.reference_words} reference {unit})")


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


# --- words lost at naive chunk boundaries ------------------------------------------------------------------


@dataclass
class BoundaryLoss:
    """What happened to the reference words around one chunk boundary (word indices into the normalised text)."""

    boundary: int  # 1 = between chunk 1 and chunk 2
    time_s: float | None  # where the cut is in the audio, when the chunks say
    position: int  # reference word index the cut falls before
    window: tuple[int, int]  # [start, stop) of the reference words shown around it
    reference: list[str]  # all normalised reference words
    chunked: list[str]  # per reference word: "ok", "lost" (deleted) or "garbled" (substituted)
    overlapped: list[str] | None  # the same for the overlapping transcript, when given

    @property
    def lost(self) -> list[str]:
        """The reference words the chunked transcript dropped near this boundary."""
        return [self.reference[i] for i in range(*self.window) if self.chunked[i] == "lost"]

    @property
    def recovered(self) -> list[str]:
        """Of those, the words the overlapping transcript has."""
        if self.overlapped is None:
            return []
        return [self.reference[i] for i in range(*self.window)
                if self.chunked[i] == "lost" and self.overlapped[i] == "ok"]

    def __repr__(self) -> str:
        where = f" at {self.time_s:.1f} s" if self.time_s is not None else ""
        lost = self.lost
        words = f" ({show.shorten(', '.join(lost), 40)})" if lost else ""
        kept = f", {len(self.recovered)} kept with overlap" if self.overlapped is not None and lost else ""
        return f"BoundaryLoss(cut {self.boundary}{where}: {len(lost)} words lost{words}{kept})"


def _word_status(reference: str, hypothesis: str) -> list[str]:
    """Per reference word: 'ok', 'lost' or 'garbled', from jiwer's alignment of normalised texts."""
    ref_words = reference.split()
    if not hypothesis.split():
        return ["lost"] * len(ref_words)
    status = ["ok"] * len(ref_words)
    for chunk in jiwer.process_words(reference, hypothesis).alignments[0]:
        mark = {"delete": "lost", "substitute": "garbled"}.get(chunk.type)
        if mark:
            for i in range(chunk.ref_start_idx, chunk.ref_end_idx):
                status[i] = mark
    return status


def _reference_position(reference: str, hypothesis: str, hyp_index: int) -> int:
    """The reference word index aligned with hypothesis word `hyp_index` (after any deletions before it)."""
    n_ref = len(reference.split())
    if not hypothesis.split():
        return 0
    for chunk in jiwer.process_words(reference, hypothesis).alignments[0]:
        if chunk.type == "delete" or not chunk.hyp_start_idx <= hyp_index < chunk.hyp_end_idx:
            continue
        if chunk.type == "insert":
            return chunk.ref_start_idx
        return chunk.ref_start_idx + (hyp_index - chunk.hyp_start_idx)
    return n_ref


def _chunk_texts(chunked: Any, what: str) -> tuple[list[str], list[float | None]]:
    """(texts, end times) of the chunks of a LongformResult, a list of ChunkRecords/dicts or of strings."""
    items = getattr(chunked, "chunks", chunked)
    if isinstance(items, str):
        raise TypeError(f"{what}: `chunked` must hold the chunks (a LongformResult or a list of chunk texts), "
                        "not one joined string: the boundaries are where the chunks meet")
    items = list(items) if items is not None else []
    texts, ends = [], []
    for item in items:
        if isinstance(item, str):
            texts.append(item)
            ends.append(None)
        else:
            texts.append(str(_get(item, "text") or ""))
            end = _get(item, "end_s")
            ends.append(float(end) if end is not None else None)
    if len(texts) < 2:
        raise ValueError(f"{what}: need at least 2 chunks to have a boundary, got {len(texts)}; "
                         "use audio longer than one chunk (e.g. 60 s with chunk_s=30)")
    return texts, ends


def boundary_losses(
    reference: str, chunked: Any, overlapped: Any = None, language: str = "en", context_words: int = 6
) -> list[BoundaryLoss]:
    """For each boundary between naive chunks: the reference words around it and which ones were lost.

    Texts are normalised as for WER (``normalize_text``) and aligned with ``jiwer.process_words``.
    A boundary sits where chunk k's words end in the joined transcript; deletions within `context_words`
    of it (and any run of deletions touching that window) count as lost there. `overlapped` is the
    transcript of the overlapping method (a string or anything with ``.text``), to show what it kept.
    """
    what = "boundary_losses"
    if not isinstance(reference, str) or not reference.strip():
        raise ValueError(f"{what}: the reference transcript is empty; pass the LongForm's .reference")
    if context_words < 1:
        raise ValueError(f"{what}: context_words must be >= 1, got {context_words}")
    texts, ends = _chunk_texts(chunked, what)
    ref = normalize_text(reference, language)
    if not ref:
        raise ValueError(f"{what}: the reference is empty after normalisation ({reference!r})")
    pieces = [normalize_text(text, language) for text in texts]
    hypothesis = " ".join(p for p in pieces if p)
    chunk_status = _word_status(ref, hypothesis)
    over_status = None
    if overlapped is not None:
        over_text = overlapped if isinstance(overlapped, str) else str(getattr(overlapped, "text", ""))
        over_status = _word_status(ref, normalize_text(over_text, language))
    words = ref.split()
    losses, hyp_index = [], 0
    for k in range(1, len(pieces)):
        hyp_index += len(pieces[k - 1].split())
        position = _reference_position(ref, hypothesis, hyp_index)
        start, stop = max(0, position - context_words), min(len(words), position + context_words)
        while start > 0 and chunk_status[start] == "lost" and chunk_status[start - 1] == "lost":
            start -= 1  # a run of dropped words that reaches into the window is shown whole
        while stop < len(words) and chunk_status[stop - 1] == "lost" and chunk_status[stop] == "lost":
            stop += 1
        losses.append(BoundaryLoss(k, ends[k - 1], position, (start, stop), words, chunk_status, over_status))
    return losses


def _get(item: Any, name: str) -> Any:
    """A field of a chunk given as a dict or an object (``ChunkRecord``); None when absent."""
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)


# --- whole utterances lost in a long recording ------------------------------------------------------------

DROPPED_SHARE = 0.8  # a reference utterance counts as dropped when at least this share of its words is deleted


def dropped_utterances(
    references: Sequence[str], hypothesis: str, language: str = "en", share: float = DROPPED_SHARE
) -> list[int]:
    """Indices of the utterances (e.g. ``LongForm.references``) the transcript dropped: ≥ `share` of words deleted.

    The utterances are normalised one by one and joined; jiwer aligns the joined reference with the
    normalised transcript, and each deleted reference word is charged to the utterance it belongs to.
    """
    owner: list[int] = []
    words: list[str] = []
    for i, reference in enumerate(references):
        normalised = normalize_text(reference, language).split()
        words += normalised
        owner += [i] * len(normalised)
    status = _word_status(" ".join(words), normalize_text(hypothesis, language))
    deleted = [0] * len(references)
    for i, mark in zip(owner, status, strict=True):
        deleted[i] += mark == "lost"
    sizes = [owner.count(i) for i in range(len(references))]
    return [i for i, (lost, size) in enumerate(zip(deleted, sizes, strict=True)) if size and lost >= share * size]
