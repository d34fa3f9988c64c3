"""The lesson data shipped in the package: complete for the notebooks, small, licensed, never a held-out clip."""

import fnmatch
import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from course_utils import corpus, demos, mixes
from course_utils.grading import HELD_OUT_IDS
from course_utils.scoring import normalize_text

ROOT = Path(__file__).resolve().parent.parent
LESSON = corpus.lesson_corpus()
MAX_MB = 8.0
LICENCES = ("CC-BY-4.0 (LibriSpeech corpus)", "CC-BY-4.0 (Google FLEURS)", "public domain (LJ Speech dataset)",
            "public domain (1961 US presidential inaugural address)")  # fmt: skip


def test_every_row_points_at_16k_mono_audio_and_the_folder_is_small():
    clips = LESSON.clips()
    assert len(clips) >= 40
    for clip in clips:
        info = sf.info(clip.path)
        assert (info.samplerate, info.channels) == (16000, 1), clip.id
        assert abs(info.frames / info.samplerate - clip.duration_s) < 0.05, clip.id
        assert clip.sample_rate == 16000 and clip.path.suffix in (".flac", ".ogg"), clip.id
    files = [p for p in corpus.LESSON_DATA.rglob("*") if p.is_file()]
    listed = {clip.path for clip in clips} | {corpus.LESSON_DATA / name for name in ("manifest.csv", "ATTRIBUTION.md")}
    assert {p.resolve() for p in files} == {p.resolve() for p in listed}, "files in lesson_data/ not in manifest.csv"
    assert sum(p.stat().st_size for p in files) / 1e6 < MAX_MB


def test_no_held_out_clip_ships():
    assert not set(LESSON.ids()) & set(HELD_OUT_IDS)
    assert not {Path(clip.path).stem for clip in LESSON.clips()} & set(HELD_OUT_IDS)


def test_only_clearly_licensed_sources_with_attribution():
    attribution = (corpus.LESSON_DATA / "ATTRIBUTION.md").read_text(encoding="utf-8")
    for clip in LESSON.clips():
        assert clip.license.startswith(LICENCES), (clip.id, clip.license)
        family = re.sub(r"-.*", "", clip.id)
        assert f"`{family}" in attribution, f"{family} clips have no attribution in ATTRIBUTION.md"
    assert "CC BY 4.0" in attribution and "Panayotov" in attribution and "Conneau" in attribution


def test_the_lesson_and_the_exercises_find_what_they_need():
    ids = set(LESSON.ids())
    assert "jfk" in ids and set(mixes.LJ_PASSAGE_IDS) <= ids
    assert set(demos.LESSON_CLIP_IDS) <= ids, "course_utils.demos reads clips the package does not ship"
    passage = mixes.lj_passage(max_duration_s=60, corpus=LESSON)
    assert passage.duration_s > 45 and passage.reference
    assert len(LESSON.clips("en", with_transcript=True, source="librispeech")) >= 3  # model comparison
    english = [c for c in LESSON.clips("en") if 5 <= c.duration_s <= 30]
    assert len(english) >= 10  # Ex. 3's throughput files
    assert len({c.language for c in LESSON.clips()}) >= 5  # Ex. 1's language ID
    for notebook in ("notebooks/19_asr_with_whisper.ipynb", "notebooks/19_exercises.ipynb"):
        code = "\n".join("".join(c["source"]) for c in json.loads((ROOT / notebook).read_text())["cells"])
        for clip_id in re.findall(r"[\"']((?:fleurs|librispeech|ljspeech)-[\w-]+)[\"']", code):
            assert clip_id in ids, f"{notebook} uses {clip_id}, which the package does not ship"


def test_pyproject_ships_every_lesson_file():
    section = (ROOT / "pyproject.toml").read_text().split("[tool.setuptools.package-data]", 1)[1]
    patterns = json.loads(re.search(r"^course_utils = (\[.*?\])", section, re.M | re.S).group(1))
    for path in corpus.LESSON_DATA.rglob("*"):
        if path.is_file():
            relative = path.relative_to(corpus.LESSON_DATA.parent).as_posix()
            assert any(fnmatch.fnmatch(relative, p) for p in patterns), f"{relative} is not package data"


@pytest.mark.corpus
def test_no_held_out_recording_ships_under_another_name():
    full = corpus.default_corpus()
    held_out = {normalize_text(full.get(i).transcript) for i in HELD_OUT_IDS if full.get(i).has_transcript}
    shipped = {normalize_text(clip.transcript) for clip in LESSON.clips()}
    assert not held_out & shipped


@pytest.mark.corpus
def test_packaged_clips_are_the_corpus_clips_whisper_sees():
    """Same ids, same transcripts, and the same 16 kHz samples (up to 16-bit rounding) as the full corpus."""
    full = corpus.default_corpus()
    for clip in LESSON.clips():
        original = full.get(clip.id)
        assert clip.transcript == original.transcript and clip.language == original.language
    for clip_id in ("jfk", "ljspeech-LJ001-0002", "librispeech-1221-135766-0002", "fleurs-de-000"):
        packaged, original = LESSON.get(clip_id).audio(), full.get(clip_id).audio()
        assert len(packaged) == len(original)
        assert np.max(np.abs(packaged - original)) < 2e-4, clip_id


@pytest.mark.corpus
def test_build_script_reproduces_the_manifest(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_lesson_data", ROOT / "scripts" / "build_lesson_data.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.lesson_ids(corpus.default_corpus()) == LESSON.ids(), "rerun scripts/build_lesson_data.py"
