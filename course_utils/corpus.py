"""The speech corpus: folders of clips with reference transcripts, the default corpus and the JFK sample.

A corpus is a folder with ``manifest.csv`` (``id,file,language,duration_s,sample_rate,transcript,...``) next
to its audio; ``Corpus(folder)`` reads one. The module-level functions (``list_clips``, ``get_clip``, ...) use
the default corpus: ``$COURSE_SPEECH_DIR`` when set, else ``../shared/data/speech`` (the full corpus for tests
and benchmarks), else the lesson data shipped inside the package (what a student on Colab has).
"""

from __future__ import annotations

import csv
import difflib
import os
import shutil
import urllib.request
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .audio import SAMPLE_RATE, load_audio
from .settings import CACHE_ENV, CORPUS_ENV, cache_dir, corpus_setting  # noqa: F401 (CACHE_ENV re-exported)

MANIFEST = "manifest.csv"
MANIFEST_FIELDS = ("id", "file", "language", "duration_s", "sample_rate", "transcript", "source_repo",
                   "source_path", "license")  # fmt: skip
LESSON_DATA = Path(__file__).resolve().parent / "lesson_data"  # the clips shipped in the package
_REPO_ROOT = Path(__file__).resolve().parent.parent
_DEFAULT_RELATIVE = Path("..") / "shared" / "data" / "speech"

JFK_URL = "https://github.com/openai/whisper/raw/main/tests/jfk.flac"
JFK_TRANSCRIPT = (  # the corpus's wording, so both ways of getting the clip give the same reference
    "And so, my fellow Americans, ask not what your country can do for you, "
    "ask what you can do for your country."
)
_JFK_IDS = ("jfk", "jfk-16k")


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


@lru_cache(maxsize=8)
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
                    f"{','.join(MANIFEST_FIELDS)}"
                ) from None
    return tuple(sorted(clips, key=lambda clip: clip.id))


class Corpus:
    """A folder in the corpus format (manifest.csv + audio); the manifest is re-read when it changes."""

    def __init__(self, folder: str | Path, name: str = "") -> None:
        self.folder = Path(folder).expanduser().resolve()
        self.name = name or str(self.folder)

    def __repr__(self) -> str:
        return f"Corpus({str(self.folder)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Corpus) and other.folder == self.folder

    def __hash__(self) -> int:
        return hash(self.folder)

    @property
    def available(self) -> bool:
        """True when the folder holds a manifest.csv."""
        return (self.folder / MANIFEST).is_file()

    @property
    def is_lesson_data(self) -> bool:
        """True for the small corpus shipped inside the package (not the full shared corpus)."""
        return self.folder == LESSON_DATA.resolve()

    def all_clips(self) -> tuple[Clip, ...]:
        """Every clip, sorted by id; a FileNotFoundError when the folder has no manifest."""
        manifest = self.folder / MANIFEST
        try:
            mtime_ns = manifest.stat().st_mtime_ns
        except FileNotFoundError:
            problem = "does not exist" if not self.folder.exists() else f"has no {MANIFEST}"
            raise FileNotFoundError(f"speech corpus not found: {self.folder} {problem}") from None
        return _read_manifest(self.folder, mtime_ns)

    def ids(self) -> list[str]:
        """The clip ids, sorted."""
        return [clip.id for clip in self.all_clips()]

    def __contains__(self, clip_id: object) -> bool:
        return any(clip.id == clip_id for clip in self.all_clips())

    def clips(
        self, language: str | None = None, with_transcript: bool | None = None, source: str | None = None
    ) -> list[Clip]:
        """Clips sorted by id, filtered by language code, by having a transcript, and by source.

        `source` matches an id family ('librispeech', 'ljspeech', 'fleurs', 'picovoice', ...: ids start with
        it and a dash) or a source repository ('openai/whisper'), case-insensitively.
        """
        clips = self.all_clips()
        if language is not None:
            known = sorted({clip.language for clip in clips})
            if language not in known:
                raise ValueError(f"no clips in language {language!r}; the corpus has {', '.join(known)}")
            clips = tuple(clip for clip in clips if clip.language == language)
        if with_transcript is not None:
            clips = tuple(clip for clip in clips if clip.has_transcript == with_transcript)
        if source is not None:
            wanted = source.lower()
            clips = tuple(c for c in clips if c.id.lower().startswith(wanted + "-") or c.source.lower() == wanted)
        return list(clips)

    def get(self, clip_id: str) -> Clip:
        """The clip with this id; a KeyError suggests the closest ids for typos."""
        clips = {clip.id: clip for clip in self.all_clips()}
        if clip_id in clips:
            return clips[clip_id]
        close = difflib.get_close_matches(clip_id, list(clips), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else "see list_clips() for the ids"
        raise KeyError(f"no clip {clip_id!r} in the speech corpus at {self.folder}; {hint}")

    def load(self, clip_id: str) -> tuple[np.ndarray, str]:
        """(16 kHz mono float32 audio, reference transcript) of one clip."""
        clip = self.get(clip_id)
        return clip.audio(), clip.transcript

    def languages(self) -> dict[str, int]:
        """Number of clips per language code, sorted by code."""
        return dict(sorted(Counter(clip.language for clip in self.all_clips()).items()))


# --- the default corpus -------------------------------------------------------------------------------------


def _default_candidates() -> list[Path]:
    """Where the full corpus is looked for without the env var: next to the repo, then next to the cwd."""
    return [_REPO_ROOT / _DEFAULT_RELATIVE, Path.cwd() / _DEFAULT_RELATIVE]


def lesson_corpus() -> Corpus:
    """The clips shipped inside the package: what the lesson and the exercises need, nothing held out."""
    return Corpus(LESSON_DATA, name="lesson data")


def default_corpus() -> Corpus:
    """``$COURSE_SPEECH_DIR``, else ../shared/data/speech, else the packaged lesson data (looked up each call)."""
    configured = corpus_setting()
    if configured is not None:
        corpus = Corpus(configured)
        if corpus.available:
            return corpus
        problem = "does not exist" if not configured.exists() else f"has no {MANIFEST}"
        raise FileNotFoundError(
            f"speech corpus not found: {CORPUS_ENV}={configured} {problem}; point {CORPUS_ENV} at the folder "
            f"that holds {MANIFEST} (e.g. ../shared/data/speech), or unset it to use the default"
        )
    candidates = _default_candidates()
    for path in candidates:
        if (path / MANIFEST).is_file():
            return Corpus(path)
    packaged = lesson_corpus()
    if packaged.available:
        return packaged
    tried = ", ".join(str(p) for p in [*candidates, LESSON_DATA])
    raise FileNotFoundError(
        f"speech corpus not found: {CORPUS_ENV} is not set and no {MANIFEST} at the default {tried}; "
        f"set {CORPUS_ENV} to the folder that holds {MANIFEST}"
    )


def _corpus(corpus: Corpus | None) -> Corpus:
    """The given corpus, or the default one."""
    return default_corpus() if corpus is None else corpus


def corpus_dir() -> Path:
    """The default corpus folder (with manifest.csv): see default_corpus()."""
    return default_corpus().folder


def corpus_available() -> bool:
    """True when a default corpus is there (the full one or the packaged lesson data)."""
    try:
        default_corpus()
    except FileNotFoundError:
        return False
    return True


def full_corpus_available() -> bool:
    """True when the default corpus is the full one (tests and benchmarks), not the packaged lesson data."""
    try:
        return not default_corpus().is_lesson_data
    except FileNotFoundError:
        return False


def list_clips(
    language: str | None = None, with_transcript: bool | None = None, source: str | None = None
) -> list[Clip]:
    """Clips of the default corpus sorted by id, filtered by language, by having a transcript, and by source.

    `source` matches an id family ('librispeech', 'ljspeech', 'fleurs', 'picovoice', ...: ids start with it
    and a dash) or a source repository ('openai/whisper'), case-insensitively.
    """
    return default_corpus().clips(language=language, with_transcript=with_transcript, source=source)


def get_clip(clip_id: str) -> Clip:
    """The clip with this id in the default corpus; a KeyError suggests the closest ids for typos."""
    return default_corpus().get(clip_id)


def load_clip(clip_id: str) -> tuple[np.ndarray, str]:
    """(16 kHz mono float32 audio, reference transcript) of one clip: the usual first line of an exercise."""
    return default_corpus().load(clip_id)


def languages() -> dict[str, int]:
    """Number of clips per language code in the default corpus, sorted by code."""
    return default_corpus().languages()


def jfk() -> Clip:
    """The JFK sample Whisper's own tests use: from the corpus, else from the cache, else downloaded once."""
    if corpus_available():
        clips = {clip.id: clip for clip in default_corpus().all_clips()}
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
