"""Long recordings built from corpus clips, with the joined reference and where each clip sits.

Every function takes an optional ``corpus`` (a ``Corpus``); without it the default corpus is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .audio import SAMPLE_RATE
from .corpus import Clip, Corpus, default_corpus

LJ_PASSAGE_IDS = tuple(f"ljspeech-LJ001-{i:04d}" for i in range(1, 28))  # 27 consecutive sentences, in order


@dataclass
class LongForm:
    """Clips joined into one long recording, with the joined reference and where each clip sits in it."""

    audio: np.ndarray  # mono float32 at SAMPLE_RATE
    reference: str  # clip transcripts joined by spaces, not normalised
    clip_ids: list[str]
    boundaries_s: list[tuple[float, float]] = field(default_factory=list)  # (start, end) per clip
    duration_s: float = 0.0


def long_form(
    ids_or_language: str | list[str],
    gap_s: float = 0.5,
    min_duration_s: float | None = None,
    max_duration_s: float | None = None,
    corpus: Corpus | None = None,
) -> LongForm:
    """Join clips with `gap_s` of silence into one long recording with a reference, for long-form decoding.

    Pass clip ids (kept in the given order) or a language code (all its clips that have a transcript, in id
    order). Clips are added while the total stays within `max_duration_s`; a ValueError is raised when the
    result is shorter than `min_duration_s`.
    """
    if gap_s < 0:
        raise ValueError(f"gap_s must be >= 0 seconds of silence between clips, got {gap_s}")
    corpus = default_corpus() if corpus is None else corpus
    if isinstance(ids_or_language, str):
        clips = corpus.clips(language=ids_or_language, with_transcript=True)
        what = f"language {ids_or_language!r}"
    else:
        clips = [corpus.get(clip_id) for clip_id in ids_or_language]
        what = f"{len(clips)} clip ids"
    if not clips:
        raise ValueError(f"no clips to join for {what}; pass clip ids or a language with transcripts")
    gap = np.zeros(round(gap_s * SAMPLE_RATE), dtype=np.float32)
    pieces: list[np.ndarray] = []
    used: list[Clip] = []
    boundaries: list[tuple[float, float]] = []
    length = 0  # samples so far
    for clip in clips:
        audio = clip.audio()
        start = length + (len(gap) if pieces else 0)
        if max_duration_s is not None and (start + len(audio)) / SAMPLE_RATE > max_duration_s:
            break
        if pieces:
            pieces.append(gap)
        pieces.append(audio)
        used.append(clip)
        boundaries.append((start / SAMPLE_RATE, (start + len(audio)) / SAMPLE_RATE))
        length = start + len(audio)
    total_s = length / SAMPLE_RATE
    if not used:
        raise ValueError(
            f"the first clip ({clips[0].id}, {clips[0].duration_s:.1f} s) is already longer than "
            f"max_duration_s={max_duration_s}; raise max_duration_s or pass shorter clips"
        )
    if min_duration_s is not None and total_s < min_duration_s:
        raise ValueError(
            f"{what} joins to only {total_s:.1f} s, less than min_duration_s={min_duration_s}; "
            "add clips, raise max_duration_s or lower min_duration_s"
        )
    return LongForm(
        audio=np.concatenate(pieces),
        reference=" ".join(clip.transcript.strip() for clip in used if clip.has_transcript),
        clip_ids=[clip.id for clip in used],
        boundaries_s=boundaries,
        duration_s=total_s,
    )


def english_long_form(min_duration_s: float = 240, corpus: Corpus | None = None) -> LongForm:
    """The benchmark's English long recording: LibriSpeech clips, then the 27-sentence LJ Speech passage."""
    corpus = default_corpus() if corpus is None else corpus
    librispeech = [clip.id for clip in corpus.clips(language="en", with_transcript=True, source="librispeech")]
    known = set(corpus.ids())
    missing = [clip_id for clip_id in LJ_PASSAGE_IDS if clip_id not in known]
    if missing or not librispeech:
        raise ValueError(
            f"the corpus at {corpus.folder} lacks clips for the English long form "
            f"({'no LibriSpeech clips' if not librispeech else 'missing ' + ', '.join(missing[:3])}); "
            "use the shared corpus or build one with long_form(ids)"
        )
    return long_form(librispeech + list(LJ_PASSAGE_IDS), min_duration_s=min_duration_s, corpus=corpus)


def lj_passage(max_duration_s: float | None = None, gap_s: float = 0.5, corpus: Corpus | None = None) -> LongForm:
    """The 27 consecutive LJ Speech sentences (one reader, one coherent ~3-minute text), optionally cut short."""
    return long_form(list(LJ_PASSAGE_IDS), gap_s=gap_s, max_duration_s=max_duration_s, corpus=corpus)
