"""Hidden grading inputs: the held-out corpus slice, folders in the corpus format, and what the child sees.

A hidden set is a folder like the speech corpus (``manifest.csv`` + audio) with an optional ``grading.json``
that says which clips feed which exercise. The default is ``HELD_OUT_IDS``, a slice of the shared corpus that
the lesson and the solutions never use. Submissions never see the folder: the parent stages neutral copies of
the audio (``lid_000.wav``, ...) and keeps transcripts and language labels to itself.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from ..audio import SAMPLE_RATE, load_audio
from ..corpus import MANIFEST, Clip, Corpus, corpus_dir
from ..mixes import long_form

SELECTION_FILE = "grading.json"

# Held out for grading: the lesson, the solutions and their plots must not use these clips (tested).
HELD_OUT_LID = (
    "fleurs-de-005", "fleurs-de-006", "fleurs-es-005", "fleurs-es-006", "fleurs-fr-005", "fleurs-fr-006",
    "fleurs-pt-005", "fleurs-pt-006", "fleurs-en-006", "cmu-arctic-a0024",
)  # fmt: skip
HELD_OUT_LONGFORM = ("osr-us-000-0034-8k", "cmu-arctic-a0024", "fleurs-en-006")  # 51 s of clean read English
HELD_OUT_THROUGHPUT = ("fleurs-en-004", "fleurs-en-005", "fleurs-en-007")  # disjoint from the others (tested)
HELD_OUT_IDS: tuple[str, ...] = tuple(sorted({*HELD_OUT_LID, *HELD_OUT_LONGFORM, *HELD_OUT_THROUGHPUT}))


@dataclass
class Selection:
    """Which hidden clips feed which exercise, and the Ex. 2/3 call parameters (``grading.json``)."""

    lid: list[str]
    longform: list[str]
    throughput: list[str]
    chunk_s: float = 10.0  # short windows: more cuts, so merging well shows in the WER (tiny.en, 51 s)
    overlap_s: float = 2.0
    batch_size: int = 4

    def to_dict(self) -> dict:
        return asdict(self)


DEFAULT_SELECTION = Selection(list(HELD_OUT_LID), list(HELD_OUT_LONGFORM), list(HELD_OUT_THROUGHPUT))


@dataclass
class HiddenSet:
    """A hidden folder read into clips per exercise; transcripts and labels stay in the parent."""

    folder: Path
    selection: Selection
    clips: dict[str, Clip] = field(repr=False)

    @property
    def lid(self) -> list[Clip]:
        return [self.clips[i] for i in self.selection.lid]

    @property
    def throughput(self) -> list[Clip]:
        return [self.clips[i] for i in self.selection.throughput]

    @property
    def longform_reference(self) -> str:
        """The joined transcripts of the Ex. 2 clips, in order (what the long recording says)."""
        return " ".join(self.clips[i].transcript.strip() for i in self.selection.longform)


def read_hidden_set(folder: str | Path) -> HiddenSet:
    """Read a hidden folder (corpus format); without ``grading.json`` the first half of the English clips with
    transcripts form the Ex. 2 recording, up to four of the rest feed Ex. 3 and all others language ID."""
    folder = Path(folder).resolve()
    if not (folder / MANIFEST).is_file():
        raise FileNotFoundError(
            f"hidden inputs folder {folder} has no {MANIFEST}; pass a folder in the corpus format "
            "(manifest.csv + audio) or leave --hidden out to use the held-out corpus slice"
        )
    clips = {clip.id: clip for clip in Corpus(folder).clips()}
    selection_file = folder / SELECTION_FILE
    if selection_file.is_file():
        try:
            selection = Selection(**json.loads(selection_file.read_text(encoding="utf-8")))
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"{selection_file} is not a valid selection ({error}); expected keys "
                f"{', '.join(Selection.__dataclass_fields__)}"
            ) from None
    else:
        english = [c.id for c in clips.values() if c.language == "en" and c.has_transcript]
        if len(english) < 2:
            raise ValueError(f"hidden set {folder} without {SELECTION_FILE} needs two English clips with transcripts")
        split = max(1, len(english) // 2)
        selection = Selection([c for c in clips if c not in english[split:]], english[:split], english[split:][:4])
    missing = sorted({*selection.lid, *selection.longform, *selection.throughput} - set(clips))
    if missing:
        raise ValueError(f"{selection_file} names clips that {folder / MANIFEST} lacks: {', '.join(missing)}")
    untranscribed = [i for i in [*selection.longform, *selection.throughput] if not clips[i].has_transcript]
    seen_before = {_sha256(clips[i].path) for i in [*selection.lid, *selection.longform]}
    if any(i in {*selection.lid, *selection.longform} or _sha256(clips[i].path) in seen_before
           for i in selection.throughput):  # fmt: skip
        raise ValueError(f"{selection_file}: the Ex. 3 clips must differ from the Ex. 1 and Ex. 2 clips (a notebook "
                         "could transcribe them early and report an instant measure_throughput)")
    if not selection.lid or not selection.longform or not selection.throughput or untranscribed:
        raise ValueError(
            f"hidden set {folder} needs clips for all three exercises and transcripts for the Ex. 2 and 3 clips "
            f"(without transcript: {', '.join(untranscribed) or 'none'})"
        )
    if not 0 <= selection.overlap_s < selection.chunk_s:
        raise ValueError(f"need 0 <= overlap_s < chunk_s, got {selection.overlap_s} and {selection.chunk_s}")
    return HiddenSet(folder, selection, clips)


def export_clips(ids: list[str] | tuple[str, ...], dest: Path, selection: Selection | None = None) -> Path:
    """Copy corpus clips (manifest rows + audio) into `dest` in the corpus format, e.g. a hidden set."""
    source = corpus_dir()
    wanted = set(ids)
    dest.mkdir(parents=True, exist_ok=True)
    with open(source / MANIFEST, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = [row for row in reader if row["id"] in wanted]
        fields = reader.fieldnames or []
    missing = wanted - {row["id"] for row in rows}
    if missing:
        raise ValueError(f"the corpus at {source} lacks clips {', '.join(sorted(missing))}")
    for row in rows:
        (dest / row["file"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / row["file"], dest / row["file"])
    with open(dest / MANIFEST, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    if selection is not None:
        (dest / SELECTION_FILE).write_text(json.dumps(selection.to_dict(), indent=1), encoding="utf-8")
    return dest


def hidden_hashes(hidden: HiddenSet) -> list[str]:
    """SHA-256 of every hidden clip's file: what a public corpus must not contain (hashes reveal nothing)."""
    return sorted({_sha256(clip.path) for clip in hidden.clips.values()})


def export_public_corpus(dest: Path, exclude_ids: list[str], exclude_hashes: list[str]) -> Path | None:
    """The default corpus minus the held-out slice and every hidden clip (by id and by audio bytes): what a
    submission's notebook may read. Runs where the child runs (this machine or a Dask worker)."""
    try:
        source = corpus_dir()
    except FileNotFoundError:
        return None
    if not (source / MANIFEST).is_file():
        return None
    hidden, secret = {*exclude_ids, *HELD_OUT_IDS}, set(exclude_hashes)
    with open(source / MANIFEST, newline="", encoding="utf-8") as f:
        public = [row["id"] for row in csv.DictReader(f)
                  if row["id"] not in hidden and _sha256(source / row["file"]) not in secret]  # fmt: skip
    return export_clips(public, dest)


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass
class Answers:
    """What the hidden clips say: kept by the parent, never sent to a child or a worker in any form."""

    languages: list[str]  # true labels of the Ex. 1 clips
    longform: str  # the Ex. 2 recording's transcript
    throughput: list[str]  # the Ex. 3 files' transcripts

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self)).encode()).hexdigest()


def answers_of(hidden: HiddenSet) -> Answers:
    return Answers([c.language for c in hidden.lid], hidden.longform_reference,
                   [c.transcript.strip() for c in hidden.throughput])  # fmt: skip


@dataclass
class StagedInputs:
    """Neutral copies of the hidden audio as 16 kHz PCM WAV, no ids, no transcripts, no labels.

    `folder` holds the Ex. 1 and Ex. 2 audio that every child may read; `private` the Ex. 3 files, copied into
    a child's own folder only when its ``measure_throughput`` is called (nothing can be done with them
    earlier, so the trusted clock around the call sees all of the work).
    """

    folder: Path
    private: Path
    lid: list[str]
    longform: str
    throughput: list[str]
    chunk_s: float = 30.0
    overlap_s: float = 5.0
    batch_size: int = 4

    def path(self, name: str) -> Path:
        return (self.private if name in self.throughput else self.folder) / name

    def fingerprint(self) -> str:
        """Hash of every staged file's bytes and the call parameters."""
        digest = hashlib.sha256()
        for name in [*self.lid, self.longform, *self.throughput]:
            digest.update(name.encode() + self.path(name).read_bytes())
        digest.update(json.dumps([self.chunk_s, self.overlap_s, self.batch_size]).encode())
        return digest.hexdigest()

    def to_json(self) -> dict:
        """Where the files lie and the call parameters, as plain JSON data (for the grader's helper process)."""
        return {key: str(value) if isinstance(value, Path) else value for key, value in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict) -> StagedInputs:
        """The StagedInputs that ``to_json`` described."""
        return cls(**{**data, "folder": Path(data["folder"]), "private": Path(data["private"])})

    def to_payload(self) -> dict:
        """Files and parameters as plain data, to rebuild the same inputs on a Dask worker."""
        files = {name: self.path(name).read_bytes() for name in [*self.lid, self.longform, *self.throughput]}
        return {"files": files, "lid": self.lid, "longform": self.longform, "throughput": self.throughput,
                "chunk_s": self.chunk_s, "overlap_s": self.overlap_s, "batch_size": self.batch_size}  # fmt: skip

    @classmethod
    def from_payload(cls, payload: dict, folder: Path, private: Path) -> StagedInputs:
        staged = cls(folder, private, payload["lid"], payload["longform"], payload["throughput"],
                     payload["chunk_s"], payload["overlap_s"], payload["batch_size"])  # fmt: skip
        folder.mkdir(parents=True, exist_ok=True)
        private.mkdir(parents=True, exist_ok=True)
        os.chmod(private, 0o700)
        for name, data in payload["files"].items():
            staged.path(name).write_bytes(data)
        return staged


def stage_inputs(hidden: HiddenSet, dest: Path, private: Path) -> StagedInputs:
    """Write the audio the child gets (`dest`: Ex. 1 and 2; `private`, 0700: Ex. 3) and return where it lies."""
    dest.mkdir(parents=True, exist_ok=True)
    private.mkdir(parents=True, exist_ok=True)
    os.chmod(private, 0o700)

    def write(folder: Path, name: str, audio: np.ndarray) -> str:
        sf.write(folder / name, audio, SAMPLE_RATE, subtype="PCM_16")
        return name

    lid = [write(dest, f"lid_{i:03d}.wav", clip.audio()) for i, clip in enumerate(hidden.lid)]
    throughput = [write(private, f"throughput_{i:03d}.wav", clip.audio()) for i, clip in enumerate(hidden.throughput)]
    recording = long_form(list(hidden.selection.longform), gap_s=0.5, corpus=Corpus(hidden.folder))
    selection = hidden.selection
    return StagedInputs(dest, private, lid, write(dest, "longform.wav", recording.audio), throughput,
                        selection.chunk_s, selection.overlap_s, selection.batch_size)  # fmt: skip


def staged_audio(staged: StagedInputs, name: str) -> np.ndarray:
    """A staged file as the child will decode it (the parent scores against exactly the same samples)."""
    return load_audio(staged.path(name))
