"""corpus.py: the manifest, Corpus objects, the default corpus, clip loading, the JFK sample and the error paths."""

import urllib.error
import urllib.request

import numpy as np
import pytest

from course_utils import corpus
from course_utils.audio import SAMPLE_RATE


@pytest.fixture
def no_corpus(tmp_path, monkeypatch):
    """Point COURSE_SPEECH_DIR at an empty folder and make every download fail, as on an offline machine."""
    empty = tmp_path / "empty_corpus"
    empty.mkdir()
    monkeypatch.setenv(corpus.CORPUS_ENV, str(empty))
    monkeypatch.setenv(corpus.CACHE_ENV, str(tmp_path / "cache"))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable (blocked by test)")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    return empty


# --- without the corpus -----------------------------------------------------------------------------------


def test_corpus_dir_error_names_env_var_and_value(tmp_path, monkeypatch):
    nowhere = tmp_path / "does" / "not" / "exist"
    monkeypatch.setenv(corpus.CORPUS_ENV, str(nowhere))
    with pytest.raises(FileNotFoundError, match=rf"COURSE_SPEECH_DIR={nowhere} does not exist"):
        corpus.corpus_dir()
    assert corpus.corpus_available() is False


def test_corpus_dir_error_for_folder_without_manifest(no_corpus):
    with pytest.raises(
        FileNotFoundError, match=r"has no manifest\.csv; point COURSE_SPEECH_DIR at the folder"
    ):
        corpus.list_clips()


def test_corpus_dir_default_error_lists_paths_tried(tmp_path, monkeypatch):
    monkeypatch.delenv(corpus.CORPUS_ENV, raising=False)
    monkeypatch.setattr(corpus, "_REPO_ROOT", tmp_path / "repo")
    monkeypatch.setattr(corpus, "LESSON_DATA", tmp_path / "no_lesson_data")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="COURSE_SPEECH_DIR is not set") as error:
        corpus.corpus_dir()
    assert str(tmp_path / "repo" / ".." / "shared" / "data" / "speech") in str(error.value)


def test_corpus_dir_from_env_var(tmp_path, monkeypatch):
    (tmp_path / "manifest.csv").write_text(
        "id,file,language,duration_s,sample_rate,transcript,source_repo,source_path,license\n"
        "b,b.wav,en,1.0,16000,Hello,me/repo,b.wav,MIT\n"
        "a,a.wav,de,2.0,16000,,me/repo,a.wav,MIT\n"
    )
    monkeypatch.setenv(corpus.CORPUS_ENV, str(tmp_path))
    assert corpus.corpus_dir() == tmp_path.resolve()
    assert [c.id for c in corpus.list_clips()] == ["a", "b"]
    assert corpus.languages() == {"de": 1, "en": 1}
    assert [c.id for c in corpus.list_clips(with_transcript=False)] == ["a"]
    assert corpus.get_clip("b").path == tmp_path.resolve() / "b.wav"


def test_jfk_offline_without_corpus_gives_clear_error(no_corpus):
    with pytest.raises(FileNotFoundError, match="JFK sample not available") as error:
        corpus.jfk()
    message = str(error.value)
    assert "COURSE_SPEECH_DIR" in message and "go online" in message and "network is unreachable" in message
    assert not list((no_corpus.parent / "cache").glob("*")), "a failed download must not leave a file behind"


def test_jfk_download_is_cached(no_corpus, tmp_path, monkeypatch):
    """With the network (faked here), jfk() downloads once into COURSE_UTILS_CACHE and reuses the file."""
    import io

    calls = []

    def fake_urlopen(url, timeout):
        calls.append((url, timeout))
        return io.BytesIO(b"fLaC fake bytes")

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    clip = corpus.jfk()
    assert clip.path == tmp_path / "cache" / "jfk.flac" and clip.path.read_bytes() == b"fLaC fake bytes"
    assert clip.transcript.startswith("And so, my fellow Americans") and clip.language == "en"
    assert calls == [(corpus.JFK_URL, 10.0)]
    corpus.jfk()
    assert len(calls) == 1


# --- with the corpus --------------------------------------------------------------------------------------


@pytest.mark.corpus
def test_manifest_loads_with_ten_languages():
    clips = corpus.list_clips()
    assert len(clips) >= 80
    assert [c.id for c in clips] == sorted(c.id for c in clips)
    assert all(c.path.is_file() for c in clips), "every manifest row must point at an existing file"
    langs = corpus.languages()
    assert len(langs) == 10 and sum(langs.values()) == len(clips)
    assert {"en", "de", "es", "fr", "pt", "zh"} <= set(langs)


@pytest.mark.corpus
def test_filters():
    german = corpus.list_clips(language="de")
    assert german and all(c.language == "de" for c in german)
    assert len(german) == corpus.languages()["de"]
    scored = corpus.list_clips(language="en", with_transcript=True)
    assert scored and all(c.transcript.strip() for c in scored)
    assert all(not c.has_transcript for c in corpus.list_clips(with_transcript=False))
    libri = corpus.list_clips(source="librispeech")
    assert libri and all(c.id.startswith("librispeech-") for c in libri)
    assert [c.id for c in corpus.list_clips(source="openai/whisper")] == ["jfk"]
    with pytest.raises(ValueError, match=r"no clips in language 'xx'; the corpus has de, en"):
        corpus.list_clips(language="xx")


@pytest.mark.corpus
def test_get_clip_unknown_id_suggests_close_matches():
    with pytest.raises(KeyError, match=r"no clip 'jfk16k'.*did you mean jfk-16k"):
        corpus.get_clip("jfk16k")
    with pytest.raises(KeyError, match=r"see list_clips\(\)"):
        corpus.get_clip("zzzzzzzzzzzz")


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("clip_id", "why"),
    [
        ("jfk", "44.1 kHz stereo FLAC"),
        ("osr-us-000-0034-8k", "8 kHz WAV"),
        ("fleurs-de-000", "Ogg Opus"),
        ("ljspeech-LJ001-0002", "22.05 kHz FLAC"),
    ],
)
def test_load_clip_gives_16k_mono_float32(clip_id, why):
    audio, transcript = corpus.load_clip(clip_id)
    clip = corpus.get_clip(clip_id)
    assert audio.dtype == np.float32 and audio.ndim == 1 and audio.flags["C_CONTIGUOUS"], why
    assert abs(len(audio) / SAMPLE_RATE - clip.duration_s) < 0.1, why
    assert np.sqrt(np.mean(audio**2)) > 0.005, why
    assert transcript == clip.transcript and transcript.strip()


@pytest.mark.corpus
def test_jfk_from_corpus():
    clip = corpus.jfk()
    assert clip.id in ("jfk", "jfk-16k") and clip.path.is_file()
    assert "ask not what your country can do for you" in clip.transcript
    audio = clip.audio()
    assert abs(len(audio) / SAMPLE_RATE - 11.0) < 0.1




# --- Corpus objects and the default corpus ------------------------------------------------------------------

HEADER = "id,file,language,duration_s,sample_rate,transcript,source_repo,source_path,license\n"


def _tiny_corpus(folder, rows: str):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.csv").write_text(HEADER + rows)
    return corpus.Corpus(folder)


def test_corpus_objects_side_by_side_leave_the_environment_alone(tmp_path, monkeypatch):
    import os

    monkeypatch.delenv(corpus.CORPUS_ENV, raising=False)
    one = _tiny_corpus(tmp_path / "one", "x,x.wav,en,1.0,16000,Hi,me/repo,x.wav,MIT\n")
    two = _tiny_corpus(tmp_path / "two", "y,y.wav,fr,1.0,16000,,me/repo,y.wav,MIT\n")
    before = dict(os.environ)
    assert one.ids() == ["x"] and two.ids() == ["y"]
    assert one.languages() == {"en": 1} and two.clips(language="fr")[0].path == two.folder / "y.wav"
    assert "x" in one and "x" not in two and one.available and not corpus.Corpus(tmp_path / "none").available
    assert one.load.__doc__ and one.get("x").transcript == "Hi"
    assert dict(os.environ) == before
    with pytest.raises(FileNotFoundError, match="does not exist"):
        corpus.Corpus(tmp_path / "none").clips()
    with pytest.raises(KeyError, match=r"no clip 'z' .* at .*one"):
        one.get("z")


def test_manifest_is_read_again_when_it_changes(tmp_path):
    import os

    one = _tiny_corpus(tmp_path / "one", "x,x.wav,en,1.0,16000,Hi,me/repo,x.wav,MIT\n")
    assert one.ids() == ["x"]
    manifest = one.folder / "manifest.csv"
    manifest.write_text(HEADER + "x,x.wav,en,1.0,16000,Hi,me/repo,x.wav,MIT\nw,w.wav,de,1.0,16000,,r,w.wav,MIT\n")
    stat = manifest.stat()
    os.utime(manifest, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert one.ids() == ["w", "x"]


def test_malformed_manifest_names_the_line(tmp_path):
    bad = _tiny_corpus(tmp_path / "bad", "x,x.wav,en,one second,16000,Hi,me/repo,x.wav,MIT\n")
    with pytest.raises(ValueError, match=r"manifest\.csv line 2 is malformed"):
        bad.clips()


def test_default_corpus_falls_back_to_the_packaged_lesson_data(tmp_path, monkeypatch):
    monkeypatch.delenv(corpus.CORPUS_ENV, raising=False)
    monkeypatch.setattr(corpus, "_REPO_ROOT", tmp_path / "repo")
    monkeypatch.chdir(tmp_path)
    lesson = tmp_path / "lesson_data"
    _tiny_corpus(lesson, "jfk,jfk.flac,en,11.0,16000,And so,openai/whisper,tests/jfk.flac,public domain\n")
    monkeypatch.setattr(corpus, "LESSON_DATA", lesson)
    default = corpus.default_corpus()
    assert default.is_lesson_data and default == corpus.lesson_corpus()
    assert corpus.corpus_available() and not corpus.full_corpus_available()
    assert [c.id for c in corpus.list_clips()] == ["jfk"] and corpus.jfk().path == lesson.resolve() / "jfk.flac"
    shared = tmp_path / "shared" / "data" / "speech"
    _tiny_corpus(shared, "a,a.wav,en,1.0,16000,Hi,me/repo,a.wav,MIT\n")
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    assert corpus.default_corpus().folder == shared.resolve()  # ../shared next to the cwd wins over the package
    assert corpus.full_corpus_available()
