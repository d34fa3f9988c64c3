"""The speech corpus: clips with reference transcripts, the JFK sample and long recordings built from clips.

The corpus is a folder with ``manifest.csv`` (``id,file,language,duration_s,sample_rate,transcript,...``)
outside the repository; ``COURSE_SPEECH_DIR`` points at it. Nothing here copies audio into the repository.
"""

from __future__ import annotations

import csv
import difflib
import os
import shutil
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from .audio import SAMPLE_RATE, load_audio
from .settings import CACHE_ENV, CORPUS_ENV, cache_dir  # noqa: F401 (CACHE_ENV re-exported)

MANIFEST = "manifest.csv"
_REPO_ROOT = Path(__file__).resolve().parent.parent
_DEFAULT_RELATIVE = Path("..") / "shared" / "data" / "speech"

JFK_URL = "https://github.com/openai/whisper/raw/main/tests/jfk.flac"
JFK_TRANSCRIPT = (  # the corpus's wording, so both ways of getting the clip give the same reference
    "And so, my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)
_JFK_IDS = ("jfk", "jfk-16k")

_LJ_PASSAGE = tuple(f"ljspeech-LJ001-{i:04d}" for i in range(1, 28))  # 27 consecutive sentences, in order


@dataclass
class Clip:
    """One corpus recording with its reference transcript ('' means: language label only, no WER)."""

    id: str
    path: Path
    language: str
    duration_s: float
    transcript: str
    source: str  # the repository the file was taken from, e.g. 'openai/whisper'
    license: str
    sample_rate: int = 0  # the file's own rate, as the manifest records it

    @property
    def has_transcript(self) -> bool:
        """True when the clip can be scored with WER/CER."""
        return bool(self.transcript.strip())

    def audio(self, sr: int = SAMPLE_RATE) -> np.ndarray:
        """Decode the clip to mono float32 at `sr` (16 kHz by default) through the one audio loader."""
        return load_audio(self.path, sr=sr)


@dataclass
class LongForm:
    """Clips joined into one long recording, with the joined reference and where each clip sits in it."""

    audio: np.ndarray  # mono float32 at SAMPLE_RATE
    reference: str  # clip transcripts joined by spaces, not normalised
    clip_ids: list[str]
    boundaries_s: list[tuple[float, float]] = field(default_factory=list)  # (start, end) per clip
    duration_s: float = 0.0


def _default_candidates() -> list[Path]:
    """Where the corpus is looked for without the env var: next to the repo, then next to the cwd."""
    return [_REPO_ROOT / _DEFAULT_RELATIVE, Path.cwd() / _DEFAULT_RELATIVE]


def corpus_dir() -> Path:
    """The corpus folder (with manifest.csv), from COURSE_SPEECH_DIR or the default ../shared/data/speech."""
    configured = os.environ.get(CORPUS_ENV)
    if configured:
        path = Path(configured).expanduser()
        if (path / MANIFEST).is_file():
            return path.resolve()
        problem = "does not exist" if not path.exists() else f"has no {MANIFEST}"
        raise FileNotFoundError(
            f"speech corpus not found: {CORPUS_ENV}={configured} {problem}; point {CORPUS_ENV} at the folder "
            f"that holds {MANIFEST} (e.g. ../shared/data/speech), or unset it to use the default"
        )
    candidates = _default_candidates()
    for path in candidates:
        if (path / MANIFEST).is_file():
            return path.resolve()
    tried = ", ".join(str(p) for p in candidates)
    raise FileNotFoundError(
        f"speech corpus not found: {CORPUS_ENV} is not set and no {MANIFEST} at the default {tried}; "
        f"set {CORPUS_ENV} to the folder that holds {MANIFEST}"
    )


def corpus_available() -> bool:
    """True when corpus_dir() would succeed, for skipping tests and lesson cells that need real speech."""
    try:
        corpus_dir()
    except FileNotFoundError:
        return False
    return True


@lru_cache(maxsize=4)
def _read_manifest(folder: Path, mtime_ns: int) -> tuple[Clip, ...]:
    """Parse manifest.csv once per (folder, modification time) into Clips sorted by id."""
    clips = []
    with open(folder / MANIFEST, newline="", encoding="utf-8") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            try:
                clips.append(
                    Clip(
                        id=row["id"],
                        path=folder / row["file"],
                        language=row["language"],
                        duration_s=float(row["duration_s"]),
                        transcript=row["transcript"] or "",
                        source=row["source_repo"],
                        license=row["license"],
                        sample_rate=int(row["sample_rate"]),
                    )
                )
            except (KeyError, TypeError, ValueError) as error:
                raise ValueError(
                    f"{folder / MANIFEST} line {line} is malformed ({error!r}); expected the columns "
                    "id,file,language,duration_s,sample_rate,transcript,source_repo,source_path,license"
                ) from None
    return tuple(sorted(clips, key=lambda clip: clip.id))


def _all_clips() -> tuple[Clip, ...]:
    """Every clip of the current corpus; re-read when the manifest changes."""
    folder = corpus_dir()
    return _read_manifest(folder, (folder / MANIFEST).stat().st_mtime_ns)


def list_clips(
    language: str | None = None, with_transcript: bool | None = None, source: str | None = None
) -> list[Clip]:
    """Clips sorted by id, filtered by language code, by having a transcript, and by source.

    `source` matches an id family ('librispeech', 'ljspeech', 'fleurs', 'picovoice', ...: ids start with it
    and a dash) or a source repository ('openai/whisper'), case-insensitively.
    """
    clips = _all_clips()
    if language is not None:
        known = sorted({clip.language for clip in clips})
        if language not in known:
            raise ValueError(f"no clips in language {language!r}; the corpus has {', '.join(known)}")
        clips = [clip for clip in clips if clip.language == language]
    if with_transcript is not None:
        clips = [clip for clip in clips if clip.has_transcript == with_transcript]
    if source is not None:
        wanted = source.lower()
        clips = [c for c in clips if c.id.lower().startswith(wanted + "-") or c.source.lower() == wanted]
    return list(clips)


def get_clip(clip_id: str) -> Clip:
    """The clip with this id; a KeyError suggests the closest ids for typos."""
    clips = {clip.id: clip for clip in _all_clips()}
    if clip_id in clips:
        return clips[clip_id]
    close = difflib.get_close_matches(clip_id, list(clips), n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}?" if close else "see list_clips() for the ids"
    raise KeyError(f"no clip {clip_id!r} in the speech corpus at {corpus_dir()}; {hint}")


def load_clip(clip_id: str) -> tuple[np.ndarray, str]:
    """(16 kHz mono float32 audio, reference transcript) of one clip: the usual first line of an exercise."""
    clip = get_clip(clip_id)
    return clip.audio(), clip.transcript


def languages() -> dict[str, int]:
    """Number of clips per language code, sorted by code."""
    return dict(sorted(Counter(clip.language for clip in _all_clips()).items()))


def long_form(
    ids_or_language: str | list[str],
    gap_s: float = 0.5,
    min_duration_s: float | None = None,
    max_duration_s: float | None = None,
) -> LongForm:
    """Join clips with `gap_s` of silence into one long recording with a reference, for long-form decoding.

    Pass clip ids (kept in the given order) or a language code (all its clips that have a transcript, in id
    order). Clips are added while the total stays within `max_duration_s`; a ValueError is raised when the
    result is shorter than `min_duration_s`.
    """
    if gap_s < 0:
        raise ValueError(f"gap_s must be >= 0 seconds of silence between clips, got {gap_s}")
    if isinstance(ids_or_language, str):
        clips = list_clips(language=ids_or_language, with_transcript=True)
        what = f"language {ids_or_language!r}"
    else:
        clips = [get_clip(clip_id) for clip_id in ids_or_language]
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


def english_long_form(min_duration_s: float = 240) -> LongForm:
    """The benchmark's English long recording: LibriSpeech clips, then the 27-sentence LJ Speech passage."""
    librispeech = [clip.id for clip in list_clips(language="en", with_transcript=True, source="librispeech")]
    known = {clip.id for clip in _all_clips()}
    missing = [clip_id for clip_id in _LJ_PASSAGE if clip_id not in known]
    if missing or not librispeech:
        raise ValueError(
            f"the corpus at {corpus_dir()} lacks clips for the English long form "
            f"({'no LibriSpeech clips' if not librispeech else 'missing ' + ', '.join(missing[:3])}); "
            "use the shared corpus or build one with long_form(ids)"
        )
    return long_form(librispeech + list(_LJ_PASSAGE), min_duration_s=min_duration_s)


def lj_passage(max_duration_s: float | None = None, gap_s: float = 0.5) -> LongForm:
    """The 27 consecutive LJ Speech sentences (one reader, one coherent ~3-minute text), optionally cut short."""
    return long_form(list(_LJ_PASSAGE), gap_s=gap_s, max_duration_s=max_duration_s)


def jfk() -> Clip:
    """The JFK sample Whisper's own tests use: from the corpus, else from the cache, else downloaded once."""
    if corpus_available():
        clips = {clip.id: clip for clip in _all_clips()}
        for clip_id in _JFK_IDS:
            if clip_id in clips:
                return clips[clip_id]
    path = cache_dir() / "jfk.flac"
    if not path.is_file():
        try:
            _download(JFK_URL, path)
        except OSError as error:  # URLError and timeouts are OSErrors
            raise FileNotFoundError(
                f"JFK sample not available: no speech corpus ({CORPUS_ENV} unset or wrong, default "
                f"../shared/data/speech) and downloading {JFK_URL} failed ({error}); set {CORPUS_ENV} to the "
                f"corpus folder, or go online once (the file is then cached as {path})"
            ) from None
    return Clip(
        id="jfk",
        path=path,
        language="en",
        duration_s=11.0,
        transcript=JFK_TRANSCRIPT,
        source="openai/whisper",
        license="public domain (1961 US presidential inaugural address); repo MIT",
        sample_rate=44100,
    )


def _download(url: str, path: Path, timeout_s: float = 10.0) -> None:
    """Fetch `url` to `path` via a temp file and a rename, so a cut download never looks complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response, open(tmp, "wb") as out:
            shutil.copyfileobj(response, out)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
