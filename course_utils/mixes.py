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
    references: list[str] = field(default_factory=list)  # each clip's transcript, in clip order


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
        references=[clip.transcript.strip() for clip in used],
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


# --- the long-form stress set (issue 12) --------------------------------------------------------------------

STRESS_SEEDS = (0, 1, 2, 3, 4, 5)  # the public stress set: mixed_long_form(seed) for these seeds
SHORT_CLIP_S = 5.0  # clips shorter than this are placed between longer ones
TARGET_RMS = 0.05  # every clip is first brought to this level (about -26 dBFS), then given its random gain


def _family(clip_id: str) -> str:
    """The corpus source of a clip id ('fleurs', 'librispeech', 'ljspeech', 'jfk', ...)."""
    return clip_id.split("-")[0]


def _pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` samples of unit-power pink (1/f) noise, a stand-in for room and street background."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1.0))
    noise = np.fft.irfft(spectrum, n)
    return (noise / np.sqrt(np.mean(noise**2))).astype(np.float32)


def _stress_order(clips: list[Clip], duration_s: float, rng: np.random.Generator) -> list[Clip]:
    """One clip of every source first, then random others up to `duration_s`; short clips between long ones."""
    by_family: dict[str, list[Clip]] = {}
    for clip in clips:
        by_family.setdefault(_family(clip.id), []).append(clip)
    chosen = [family[rng.integers(len(family))] for family in by_family.values()]
    rest = [clip for clip in clips if clip not in chosen]
    for i in rng.permutation(len(rest)):
        if sum(c.duration_s for c in chosen) + rest[i].duration_s <= duration_s:
            chosen.append(rest[i])
    longs = [c for c in chosen if c.duration_s >= SHORT_CLIP_S]
    shorts = [c for c in chosen if c.duration_s < SHORT_CLIP_S]
    longs = [longs[i] for i in rng.permutation(len(longs))]
    gaps = sorted(rng.choice(np.arange(1, max(len(longs), 2)), size=len(shorts), replace=len(shorts) >= len(longs)))
    order: list[Clip] = []
    for i, clip in enumerate(longs):
        order += [shorts[j] for j, gap in enumerate(gaps) if gap == i]
        order.append(clip)
    order += [shorts[j] for j, gap in enumerate(gaps) if gap >= len(longs)]
    return order


def mixed_long_form(
    seed: int = 0,
    noise_snr_db: float | None = None,
    duration_s: float = 240.0,
    gain_db: tuple[float, float] = (-12.0, 6.0),
    gap_s: tuple[float, float] = (0.2, 1.5),
    corpus: Corpus | None = None,
) -> LongForm:
    """A long English recording that nothing was tuned on: the long-form stress set (``STRESS_SEEDS``).

    English clips with transcripts from every source of the corpus (FLEURS, LibriSpeech, LJ Speech, JFK,
    CMU Arctic, Open Speech Repository, ...; one recording per transcript), at least one per source and then
    random others up to `duration_s`, in random order with the short clips (< 5 s) between longer ones, each
    brought to one level (TARGET_RMS) and then given a random gain in `gain_db` (never clipped), separated
    by random gaps of `gap_s` seconds. With `noise_snr_db`, pink background noise is added at that
    signal-to-noise ratio (speech power over noise power, speech measured inside the clips).
    ``boundaries_s`` and ``references`` give each clip's place and transcript, e.g. for
    ``scoring.dropped_utterances``. The same seed gives the same recording.
    """
    corpus = default_corpus() if corpus is None else corpus
    rng = np.random.default_rng(seed)
    seen: set[str] = set()
    clips = []
    for clip in corpus.clips(language="en", with_transcript=True):
        key = " ".join(clip.transcript.lower().split())
        if key not in seen:
            seen.add(key)
            clips.append(clip)
    if not clips:
        raise ValueError(f"the corpus at {corpus.folder} has no English clips with transcripts")
    pieces: list[np.ndarray] = []
    boundaries: list[tuple[float, float]] = []
    used: list[Clip] = []
    length = 0
    for clip in _stress_order(clips, duration_s, rng):
        audio = clip.audio()
        level = float(np.sqrt(np.mean(audio**2))) or 1.0  # corpora differ by 40 dB: level them first
        peak = float(np.max(np.abs(audio))) or 1.0
        gain = min(TARGET_RMS / level * 10 ** (rng.uniform(*gain_db) / 20), 0.99 / peak)
        if pieces:
            gap = np.zeros(round(rng.uniform(*gap_s) * SAMPLE_RATE), dtype=np.float32)
            pieces.append(gap)
            length += len(gap)
        pieces.append((audio * gain).astype(np.float32))
        boundaries.append((length / SAMPLE_RATE, (length + len(audio)) / SAMPLE_RATE))
        length += len(audio)
        used.append(clip)
    mix = np.concatenate(pieces)
    if noise_snr_db is not None:
        inside = np.concatenate([mix[round(a * SAMPLE_RATE) : round(b * SAMPLE_RATE)] for a, b in boundaries])
        speech_power = float(np.mean(inside**2))
        noise = _pink_noise(len(mix), rng) * np.sqrt(speech_power / 10 ** (noise_snr_db / 10))
        mix = mix + noise
        mix /= max(1.0, float(np.max(np.abs(mix))) / 0.99)
    return LongForm(
        audio=mix.astype(np.float32),
        reference=" ".join(clip.transcript.strip() for clip in used),
        clip_ids=[clip.id for clip in used],
        boundaries_s=boundaries,
        duration_s=len(mix) / SAMPLE_RATE,
        references=[clip.transcript.strip() for clip in used],
    )
