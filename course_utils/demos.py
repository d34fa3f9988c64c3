"""Recordings chosen so that each effect the lesson teaches really happens, on every run, and is checked.

- ``continuous_speech``: the LJ Speech passage with the pauses between sentences shortened, so that Whisper's
  fixed 30 s cuts fall *inside* speech; every cut is checked with Silero VAD (``CutCheck``) and, when one would
  land in a pause, the pause before it is lengthened until it does not. Cut positions are a property of the
  material, not luck.
- ``hard_english``: accented read English (FLEURS) as recorded and with pink noise at a stated SNR (several
  seeded noise copies per clip, so no single noise draw decides), where a bigger model measurably wins.
- ``wordless_inputs``: seeded sounds without a single word (noise with a syllable rhythm, synthetic music)
  on which Whisper's greedy decoding still writes text: hallucination.

Every clip comes from the lesson data shipped in the package (``lesson_corpus``), whether or not the full
corpus is present, so every run hears the same samples. No held-out grading clip is used (``LESSON_CLIP_IDS``
lists every clip this module reads; a test checks it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .audio import SAMPLE_RATE
from .corpus import Clip, lesson_corpus
from .longform.vad import speech_timestamps
from .mixes import LJ_PASSAGE_IDS, LongForm

# --- which clips ---------------------------------------------------------------------------------------------

HARD_ENGLISH_IDS = ("fleurs-en-000", "fleurs-en-001", "fleurs-en-002", "fleurs-en-003")
LESSON_CLIP_IDS: tuple[str, ...] = tuple(sorted({*LJ_PASSAGE_IDS, *HARD_ENGLISH_IDS}))



def lesson_clip(clip_id: str) -> Clip:
    """A clip from the packaged lesson data (identical samples whether or not ../shared is present)."""
    return lesson_corpus().get(clip_id)


# --- continuous speech for the long-audio section ---------------------------------------------------------

PAUSE_S = 0.12  # between sentences after trimming: a quick reader's breath, far shorter than the 0.5 s default
CUT_MARGIN_S = 0.3  # a cut must lie this far inside a VAD speech segment (VAD pads segments by 0.2 s)
MAX_EXTRA_PAUSE_S = 3.0


@dataclass
class CutCheck:
    """Where one naive cut falls: inside a VAD speech segment, and how far from its nearer edge."""

    time_s: float
    in_speech: bool
    margin_s: float  # distance to the nearer edge of the speech segment (0 when in a pause)


@dataclass
class ContinuousSpeech(LongForm):
    """A LongForm whose fixed `chunk_s` cuts were checked to fall inside speech."""

    chunk_s: float = 30.0
    cuts: list[CutCheck] = field(default_factory=list)

    @property
    def all_cuts_in_speech(self) -> bool:
        """True when every cut lies inside speech (by Silero VAD, with the margin)."""
        return bool(self.cuts) and all(cut.in_speech for cut in self.cuts)

    def cut_table(self) -> pd.DataFrame:
        """One row per naive cut: where it falls and whether Silero VAD puts it inside speech."""
        return pd.DataFrame([{"cut at (s)": cut.time_s, "inside speech": cut.in_speech,
                              "distance to the nearest pause (s)": round(cut.margin_s, 2)} for cut in self.cuts])

    def __repr__(self) -> str:
        inside = sum(cut.in_speech for cut in self.cuts)
        return (f"ContinuousSpeech({self.duration_s:.0f} s, {len(self.clip_ids)} sentences, "
                f"{len(self.reference.split())} words; {inside} of {len(self.cuts)} cuts every "
                f"{self.chunk_s:g} s inside speech)")


def trim_silence(audio: np.ndarray, threshold_db: float = -35.0, frame_s: float = 0.02, keep_s: float = 0.04
                 ) -> np.ndarray:
    """`audio` without its leading and trailing silence (frames `threshold_db` below the loudest frame)."""
    frame = round(frame_s * SAMPLE_RATE)
    n = len(audio) // frame
    if n == 0:
        return audio
    rms = np.sqrt(np.mean(audio[: n * frame].reshape(n, frame) ** 2, axis=1)) + 1e-10
    loud = np.flatnonzero(20 * np.log10(rms / rms.max()) > threshold_db)
    keep = round(keep_s * SAMPLE_RATE)
    start, end = max(0, loud[0] * frame - keep), min(len(audio), (loud[-1] + 1) * frame + keep)
    return audio[start:end]


def _speech_segments(audio: np.ndarray) -> list[tuple[float, float]]:
    """Silero VAD speech segments of `audio` in seconds."""
    return [(s / SAMPLE_RATE, e / SAMPLE_RATE) for s, e in speech_timestamps(audio)]


def _check_cut(time_s: float, segments: Sequence[tuple[float, float]]) -> CutCheck:
    """Whether `time_s` lies at least CUT_MARGIN_S inside one of `segments`."""
    for start, end in segments:
        if start <= time_s <= end:
            margin = min(time_s - start, end - time_s)
            return CutCheck(time_s, margin >= CUT_MARGIN_S, margin)
    return CutCheck(time_s, False, 0.0)


def _layout(lengths: Sequence[int], pauses: Sequence[int]) -> list[int]:
    """Start sample of each piece when piece i follows pause i (pause 0 is unused)."""
    starts, position = [], 0
    for i, length in enumerate(lengths):
        position += pauses[i] if i else 0
        starts.append(position)
        position += length
    return starts


def _local_segments(spans: Sequence[tuple[float, float]], starts: Sequence[int], lengths: Sequence[int]
                    ) -> list[list[tuple[float, float]]]:
    """Speech `spans` of a whole recording (seconds) cut into each sentence's own time, from its start."""
    local: list[list[tuple[float, float]]] = []
    for start, length in zip(starts, lengths, strict=True):
        a0, a1 = start / SAMPLE_RATE, (start + length) / SAMPLE_RATE
        local.append([(max(a, a0) - a0, min(b, a1) - a0) for a, b in spans if b > a0 and a < a1])
    return local


def _plan_pauses(time_s: float, lengths: Sequence[int], pauses: list[int],
                 segments: Sequence[Sequence[tuple[float, float]]]) -> None:
    """Grow the pause before the sentence at `time_s` in 50 ms steps until the cut lies inside speech."""
    step = round(0.05 * SAMPLE_RATE)
    for _ in range(round(MAX_EXTRA_PAUSE_S / 0.05)):
        starts = _layout(lengths, pauses)
        spans = [(s / SAMPLE_RATE + a, s / SAMPLE_RATE + b)
                 for s, segs in zip(starts, segments, strict=True) for a, b in segs]
        if _check_cut(time_s, spans).in_speech:
            return
        # the sentence the cut falls in (or the next one): starting it later moves the cut back in its words
        later = [i for i, s in enumerate(starts) if (s + lengths[i]) / SAMPLE_RATE > time_s - CUT_MARGIN_S]
        if not later:
            return
        pauses[later[0]] += step


def _join(pieces: Sequence[np.ndarray], pauses: Sequence[int], max_duration_s: float
          ) -> tuple[np.ndarray, list[int], list[int]]:
    """(audio, indices used, their starts): pieces after their pauses, as many as fit in `max_duration_s`."""
    starts = _layout([len(p) for p in pieces], pauses)
    used = [i for i, p in enumerate(pieces) if (starts[i] + len(p)) / SAMPLE_RATE <= max_duration_s]
    if not used:
        raise ValueError(f"max_duration_s={max_duration_s} is shorter than the first sentence")
    audio = np.zeros(starts[used[-1]] + len(pieces[used[-1]]), dtype=np.float32)
    for i in used:
        audio[starts[i]:starts[i] + len(pieces[i])] = pieces[i]
    return audio, used, starts


def continuous_speech(max_duration_s: float = 120, chunk_s: float = 30, pause_s: float = PAUSE_S,
                      clip_ids: Sequence[str] = LJ_PASSAGE_IDS, rounds: int = 4) -> ContinuousSpeech:
    """One reader's consecutive sentences with short pauses, laid out so every `chunk_s` cut falls in speech.

    Each sentence is trimmed of its own silence and followed by `pause_s`. Silero VAD finds the speech in the
    joined recording; where a cut at k·`chunk_s` falls in a pause or within CUT_MARGIN_S of one, the pause
    before that sentence grows in 50 ms steps until the cut lies inside speech; then the check runs again on
    the new recording (up to `rounds` times). ``cuts`` reports the final check, whatever its outcome.
    """
    if chunk_s <= 0 or max_duration_s <= chunk_s:
        raise ValueError(f"max_duration_s ({max_duration_s}) must exceed chunk_s ({chunk_s}) to have a cut")
    clips = [lesson_clip(clip_id) for clip_id in clip_ids]
    pieces = [trim_silence(clip.audio()) for clip in clips]
    lengths = [len(p) for p in pieces]
    pauses = [round(pause_s * SAMPLE_RATE)] * len(pieces)
    for _ in range(rounds):
        audio, used, starts = _join(pieces, pauses, max_duration_s)
        spans = _speech_segments(audio)
        n_cuts = int(np.ceil(len(audio) / SAMPLE_RATE / chunk_s)) - 1
        cuts = [_check_cut(k * chunk_s, spans) for k in range(1, n_cuts + 1)]
        if all(cut.in_speech for cut in cuts):
            break
        segments = _local_segments(spans, starts, lengths)
        for cut in cuts:
            if not cut.in_speech:
                _plan_pauses(cut.time_s, lengths, pauses, segments)
    return ContinuousSpeech(
        audio=audio,
        reference=" ".join(clips[i].transcript.strip() for i in used),
        clip_ids=[clips[i].id for i in used],
        boundaries_s=[(starts[i] / SAMPLE_RATE, (starts[i] + lengths[i]) / SAMPLE_RATE) for i in used],
        duration_s=len(audio) / SAMPLE_RATE,
        chunk_s=chunk_s,
        cuts=cuts,
    )


# --- harder English for the model comparison -----------------------------------------------------------------

# Speech power only 1.6× the pink noise's: a loud café. Over three noise-seed pairs the base − tiny.en WER gap on
# the 4 clips was 6.4–10.6 points at 2 dB, but fell to 3.0 at 5 dB and 2.3 at 3.5 dB for some draws.
NOISE_SNR_DB = 2.0
NOISE_SEEDS = (0, 1)  # two independent noise draws per clip: the comparison does not hang on one draw


@dataclass
class DemoClip:
    """A clip-like recording made here (e.g. a corpus clip plus noise): id, language, transcript, audio()."""

    id: str
    language: str
    transcript: str
    samples: np.ndarray = field(repr=False)

    @property
    def duration_s(self) -> float:
        """Seconds of audio."""
        return len(self.samples) / SAMPLE_RATE

    @property
    def has_transcript(self) -> bool:
        """True: every demo clip has a reference."""
        return bool(self.transcript.strip())

    def audio(self, sr: int = SAMPLE_RATE) -> np.ndarray:
        """The 16 kHz samples (the only rate these clips have)."""
        if sr != SAMPLE_RATE:
            raise ValueError(f"demo clips exist at {SAMPLE_RATE} Hz only, got sr={sr}")
        return self.samples


def pink_noise(n_samples: int, seed: int = 0) -> np.ndarray:
    """Seeded pink (1/f power) noise with unit RMS: more energy at low frequencies, like a room's hum and chatter."""
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n_samples))
    f = np.arange(len(spectrum), dtype=np.float64)
    f[0] = 1.0
    spectrum[0] = 0.0  # no DC offset
    noise = np.fft.irfft(spectrum / np.sqrt(f), n_samples)
    return (noise / (np.sqrt(np.mean(noise**2)) + 1e-12)).astype(np.float32)


def add_noise(audio: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    """`audio` plus seeded pink noise at `snr_db` (signal power over noise power, both over the whole clip)."""
    power = float(np.mean(np.square(audio, dtype=np.float64)))
    if power == 0:
        raise ValueError("cannot set an SNR for silent audio")
    noisy = audio + pink_noise(len(audio), seed) * np.sqrt(power / 10 ** (snr_db / 10))
    return noisy.astype(np.float32)


def hard_english(n_clips: int = len(HARD_ENGLISH_IDS), snr_db: float = NOISE_SNR_DB,
                 seeds: Sequence[int] = NOISE_SEEDS) -> list[DemoClip]:
    """Accented read English (FLEURS): each clip as recorded, then one copy with pink noise at `snr_db` per seed.

    The noise of copy `seed` of clip i is drawn with seed ``100 * seed + i``: independent across clips and copies,
    the same on every run.
    """
    if not 1 <= n_clips <= len(HARD_ENGLISH_IDS):
        raise ValueError(f"n_clips must be 1..{len(HARD_ENGLISH_IDS)}, got {n_clips}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"noise seeds must differ, got {list(seeds)}")
    clips: list[DemoClip] = []
    for i, clip_id in enumerate(HARD_ENGLISH_IDS[:n_clips]):
        clip = lesson_clip(clip_id)
        audio = clip.audio()
        clips.append(DemoClip(clip.id, clip.language, clip.transcript, audio))
        for seed in seeds:
            name = f"{clip.id} + noise {snr_db:g} dB" + (f" #{seed}" if len(seeds) > 1 else "")
            clips.append(DemoClip(name, clip.language, clip.transcript, add_noise(audio, snr_db, 100 * seed + i)))
    return clips


# --- wordless sounds that Whisper transcribes anyway -------------------------------------------------------


def syllable_noise(duration_s: float = 10.0, seed: int = 0, rate_hz: float = 4.0) -> np.ndarray:
    """Pink noise switched on and off about `rate_hz` times a second, the rhythm of syllables: no words at all."""
    n = round(duration_s * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    phase = np.random.default_rng(seed + 1000).uniform(0, 2 * np.pi)
    envelope = np.clip(np.sin(2 * np.pi * rate_hz * t + phase + 0.8 * np.sin(2 * np.pi * 0.7 * t)), 0, None) ** 1.5
    signal = pink_noise(n, seed) * envelope
    return (0.5 * signal / np.abs(signal).max()).astype(np.float32)


def synthetic_music(duration_s: float = 10.0, seed: int = 0, beat_s: float = 0.4) -> np.ndarray:
    """Seeded plucked notes (with harmonics and a major chord) every `beat_s`: music without a voice."""
    rng = np.random.default_rng(seed)
    n, beat = round(duration_s * SAMPLE_RATE), round(beat_s * SAMPLE_RATE)
    notes = (220.0, 247.0, 262.0, 294.0, 330.0, 349.0, 392.0, 440.0)
    out = np.zeros(n)
    for start in range(0, n, beat):
        f = float(rng.choice(notes))
        t = np.arange(min(beat, n - start)) / SAMPLE_RATE
        tone = sum(a * np.sin(2 * np.pi * f * h * t) for h, a in ((1, 0.6), (2, 0.25), (3, 0.1)))
        tone = tone + 0.2 * (np.sin(2 * np.pi * 1.25 * f * t) + np.sin(2 * np.pi * 1.5 * f * t))
        out[start:start + len(t)] += np.exp(-4 * t) * tone
    return (0.6 * out / np.abs(out).max()).astype(np.float32)


def wordless_inputs(duration_s: float = 10.0, seed: int = 0) -> dict[str, np.ndarray]:
    """Sounds that contain no words, each seeded: what Whisper should transcribe as nothing."""
    return {
        "noise with a syllable rhythm": syllable_noise(duration_s, seed),
        "synthetic music (no voice)": synthetic_music(duration_s, seed),
    }
