"""data.py: the corpus manifest, clip loading, long-form assembly, the JFK sample and the error paths."""

import urllib.error
import urllib.request

import numpy as np
import pytest

from course_utils import data
from course_utils.audio import SAMPLE_RATE


@pytest.fixture
def no_corpus(tmp_path, monkeypatch):
    """Point COURSE_SPEECH_DIR at an empty folder and make every download fail, as on an offline machine."""
    empty = tmp_path / "empty_corpus"
    empty.mkdir()
    monkeypatch.setenv(data.CORPUS_ENV, str(empty))
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path / "cache"))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable (blocked by test)")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    return empty


# --- without the corpus -----------------------------------------------------------------------------------


def test_corpus_dir_error_names_env_var_and_value(tmp_path, monkeypatch):
    nowhere = tmp_path / "does" / "not" / "exist"
    monkeypatch.setenv(data.CORPUS_ENV, str(nowhere))
    with pytest.raises(FileNotFoundError, match=rf"COURSE_SPEECH_DIR={nowhere} does not exist"):
        data.corpus_dir()
    assert data.corpus_available() is False


def test_corpus_dir_error_for_folder_without_manifest(no_corpus):
    with pytest.raises(
        FileNotFoundError, match=r"has no manifest\.csv; point COURSE_SPEECH_DIR at the folder"
    ):
        data.list_clips()


def test_corpus_dir_default_error_lists_paths_tried(tmp_path, monkeypatch):
    monkeypatch.delenv(data.CORPUS_ENV, raising=False)
    monkeypatch.setattr(data, "_REPO_ROOT", tmp_path / "repo")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="COURSE_SPEECH_DIR is not set") as error:
        data.corpus_dir()
    assert str(tmp_path / "repo" / ".." / "shared" / "data" / "speech") in str(error.value)


def test_corpus_dir_from_env_var(tmp_path, monkeypatch):
    (tmp_path / "manifest.csv").write_text(
        "id,file,language,duration_s,sample_rate,transcript,source_repo,source_path,license\n"
        "b,b.wav,en,1.0,16000,Hello,me/repo,b.wav,MIT\n"
        "a,a.wav,de,2.0,16000,,me/repo,a.wav,MIT\n"
    )
    monkeypatch.setenv(data.CORPUS_ENV, str(tmp_path))
    assert data.corpus_dir() == tmp_path.resolve()
    assert [c.id for c in data.list_clips()] == ["a", "b"]
    assert data.languages() == {"de": 1, "en": 1}
    assert [c.id for c in data.list_clips(with_transcript=False)] == ["a"]
    assert data.get_clip("b").path == tmp_path.resolve() / "b.wav"


def test_jfk_offline_without_corpus_gives_clear_error(no_corpus):
    with pytest.raises(FileNotFoundError, match="JFK sample not available") as error:
        data.jfk()
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
    clip = data.jfk()
    assert clip.path == tmp_path / "cache" / "jfk.flac" and clip.path.read_bytes() == b"fLaC fake bytes"
    assert clip.transcript.startswith("And so, my fellow Americans") and clip.language == "en"
    assert calls == [(data.JFK_URL, 10.0)]
    data.jfk()
    assert len(calls) == 1


# --- with the corpus --------------------------------------------------------------------------------------


@pytest.mark.corpus
def test_manifest_loads_with_ten_languages():
    clips = data.list_clips()
    assert len(clips) >= 80
    assert [c.id for c in clips] == sorted(c.id for c in clips)
    assert all(c.path.is_file() for c in clips), "every manifest row must point at an existing file"
    langs = data.languages()
    assert len(langs) == 10 and sum(langs.values()) == len(clips)
    assert {"en", "de", "es", "fr", "pt", "zh"} <= set(langs)


@pytest.mark.corpus
def test_filters():
    german = data.list_clips(language="de")
    assert german and all(c.language == "de" for c in german)
    assert len(german) == data.languages()["de"]
    scored = data.list_clips(language="en", with_transcript=True)
    assert scored and all(c.transcript.strip() for c in scored)
    assert all(not c.has_transcript for c in data.list_clips(with_transcript=False))
    libri = data.list_clips(source="librispeech")
    assert libri and all(c.id.startswith("librispeech-") for c in libri)
    assert [c.id for c in data.list_clips(source="openai/whisper")] == ["jfk"]
    with pytest.raises(ValueError, match=r"no clips in language 'xx'; the corpus has de, en"):
        data.list_clips(language="xx")


@pytest.mark.corpus
def test_get_clip_unknown_id_suggests_close_matches():
    with pytest.raises(KeyError, match=r"no clip 'jfk16k'.*did you mean jfk-16k"):
        data.get_clip("jfk16k")
    with pytest.raises(KeyError, match=r"see list_clips\(\)"):
        data.get_clip("zzzzzzzzzzzz")


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
    audio, transcript = data.load_clip(clip_id)
    clip = data.get_clip(clip_id)
    assert audio.dtype == np.float32 and audio.ndim == 1 and audio.flags["C_CONTIGUOUS"], why
    assert abs(len(audio) / SAMPLE_RATE - clip.duration_s) < 0.1, why
    assert np.sqrt(np.mean(audio**2)) > 0.005, why
    assert transcript == clip.transcript and transcript.strip()


@pytest.mark.corpus
def test_long_form_joins_with_gaps_and_boundaries():
    ids = ["librispeech-1089-134686-0001", "librispeech-1089-134691-0000"]
    parts = [data.get_clip(i).audio() for i in ids]
    lf = data.long_form(ids, gap_s=1.0)
    assert lf.clip_ids == ids
    assert len(lf.audio) == len(parts[0]) + SAMPLE_RATE + len(parts[1])
    (s0, e0), (s1, e1) = lf.boundaries_s
    assert s0 == 0 and e0 == pytest.approx(len(parts[0]) / SAMPLE_RATE)
    assert s1 == pytest.approx(e0 + 1.0) and e1 == pytest.approx(lf.duration_s)
    assert not lf.audio[int(e0 * SAMPLE_RATE) + 10 : int(s1 * SAMPLE_RATE) - 10].any()  # the gap is silent
    np.testing.assert_array_equal(lf.audio[int(s1 * SAMPLE_RATE) :], parts[1])
    refs = [data.get_clip(i).transcript for i in ids]
    assert lf.reference == " ".join(refs)


@pytest.mark.corpus
def test_long_form_by_language_with_limits():
    lf = data.long_form("de", max_duration_s=40)
    assert lf.duration_s <= 40 and lf.clip_ids == sorted(lf.clip_ids)
    assert all(i.startswith(("fleurs-de", "picovoice-leopard-de")) for i in lf.clip_ids)
    assert len(lf.boundaries_s) == len(lf.clip_ids) >= 2
    with pytest.raises(ValueError, match=r"joins to only .* less than min_duration_s=100000"):
        data.long_form("de", min_duration_s=100000)
    with pytest.raises(ValueError, match="already longer than max_duration_s=1"):
        data.long_form("de", max_duration_s=1)
    with pytest.raises(ValueError, match="gap_s must be >= 0"):
        data.long_form("de", gap_s=-1)


@pytest.mark.corpus
def test_english_long_form_is_four_minutes_librispeech_then_lj_passage():
    lf = data.english_long_form()
    assert lf.duration_s >= 240 and len(lf.audio) / SAMPLE_RATE == pytest.approx(lf.duration_s)
    lj = [f"ljspeech-LJ001-{i:04d}" for i in range(1, 28)]
    assert lf.clip_ids[-27:] == lj
    assert lf.clip_ids[:-27] and all(i.startswith("librispeech-") for i in lf.clip_ids[:-27])
    assert lf.reference.startswith(data.get_clip(lf.clip_ids[0]).transcript)
    assert lf.reference.endswith(data.get_clip("ljspeech-LJ001-0027").transcript)
    with pytest.raises(ValueError, match="less than min_duration_s"):
        data.english_long_form(min_duration_s=10_000)


@pytest.mark.corpus
def test_jfk_from_corpus():
    clip = data.jfk()
    assert clip.id in ("jfk", "jfk-16k") and clip.path.is_file()
    assert "ask not what your country can do for you" in clip.transcript
    audio = clip.audio()
    assert abs(len(audio) / SAMPLE_RATE - 11.0) < 0.1


@pytest.mark.corpus
def test_lj_passage_is_one_reader_in_order_and_respects_the_limit():
    full = data.lj_passage()
    assert full.clip_ids == sorted(full.clip_ids) and len(full.clip_ids) == 27
    assert 150 < full.duration_s < 260
    short = data.lj_passage(max_duration_s=60)
    assert short.duration_s <= 60 and short.clip_ids == full.clip_ids[: len(short.clip_ids)]
    assert full.reference.startswith(short.reference)
