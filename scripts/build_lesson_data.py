"""Build course_utils/lesson_data/: the clips the lesson and the exercises need, shipped inside the package.

Usage: ``python scripts/build_lesson_data.py [--source ../shared/data/speech]``. Only clips with a clear licence
are taken (JFK and LJ Speech: public domain; LibriSpeech and FLEURS: CC BY 4.0), never a clip the grader holds
out. FLAC and WAV sources are decoded through ``course_utils.load_audio`` (16 kHz mono, what Whisper sees) and
written as 16-bit FLAC; FLEURS clips are already 16 kHz Opus and are copied byte for byte.
"""

from __future__ import annotations

import argparse
import csv
import shutil
from pathlib import Path

import soundfile as sf

from course_utils.audio import SAMPLE_RATE, load_audio
from course_utils.corpus import LESSON_DATA, MANIFEST, MANIFEST_FIELDS, Corpus
from course_utils.grading import HELD_OUT_IDS

ROOT = Path(__file__).resolve().parent.parent
FAMILIES = ("jfk", "librispeech-", "ljspeech-", "fleurs-")  # the sources with a clear licence
EXCLUDE = ("jfk-16k",)  # the same speech as 'jfk' (one copy is enough)
LICENCE_FILE = "ATTRIBUTION.md"


def lesson_ids(corpus: Corpus) -> list[str]:
    """Every clip of a licensed family that is not held out for grading."""
    held_out = set(HELD_OUT_IDS)
    return [
        clip.id for clip in corpus.clips()
        if clip.id.startswith(FAMILIES) and clip.id not in EXCLUDE and clip.id not in held_out
    ]  # fmt: skip


def build(source: Path, dest: Path) -> list[dict[str, str]]:
    """Write the lesson clips and their manifest into `dest` (emptied first, ATTRIBUTION.md kept)."""
    corpus = Corpus(source)
    with open(corpus.folder / MANIFEST, newline="", encoding="utf-8") as f:
        rows = {row["id"]: row for row in csv.DictReader(f)}
    for old in dest.glob("*/*"):
        old.unlink()
    out_rows = []
    for clip_id in lesson_ids(corpus):
        row, clip = dict(rows[clip_id]), corpus.get(clip_id)
        if clip.path.suffix == ".ogg":
            target = dest / clip.language / clip.path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(clip.path, target)
        else:
            target = dest / clip.language / (clip.id + ".flac")
            target.parent.mkdir(parents=True, exist_ok=True)
            audio = load_audio(clip.path)
            sf.write(target, audio, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
            row["duration_s"] = f"{len(audio) / SAMPLE_RATE:.3f}"
        row["file"] = target.relative_to(dest).as_posix()
        row["sample_rate"] = str(SAMPLE_RATE)
        out_rows.append({key: row[key] for key in MANIFEST_FIELDS})
    with open(dest / MANIFEST, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=MANIFEST_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(out_rows)
    return out_rows


def main() -> None:
    """Command line: rebuild the packaged lesson data from the full corpus."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=ROOT / ".." / "shared" / "data" / "speech")
    parser.add_argument("--dest", type=Path, default=LESSON_DATA)
    args = parser.parse_args()
    rows = build(args.source, args.dest)
    size = sum(p.stat().st_size for p in args.dest.rglob("*") if p.is_file())
    seconds = sum(float(row["duration_s"]) for row in rows)
    print(f"{len(rows)} clips, {seconds:.0f} s of speech, {size / 1e6:.2f} MB in {args.dest}")


if __name__ == "__main__":
    main()
