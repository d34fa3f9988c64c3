"""The explorer builds, its logic works without a frontend (tiny.en on a short clip), headless gives a note."""

import types

import ipywidgets
import numpy as np
import pytest
from IPython.display import Audio, Markdown

import course_utils
from course_utils import widgets

SHORT_CLIP = "librispeech-1089-134686-0001"  # 3.3 s: "STUFF IT INTO YOU HIS BELLY COUNSELLED HIM"


@pytest.fixture(scope="module")
def tiny_en():
    """One tiny.en load for the module (about 3 s on CPU)."""
    return course_utils.load_model("tiny.en", device="cpu")


@pytest.fixture
def no_frontend_env(monkeypatch):
    """Neither COURSE_HEADLESS nor CI set: detection falls back to 'is there a kernel?'."""
    monkeypatch.delenv(widgets.HEADLESS_ENV, raising=False)
    monkeypatch.delenv("CI", raising=False)


# --- headless -----------------------------------------------------------------------------------------------


def test_headless_runs_get_a_static_note_instead_of_a_widget(monkeypatch, no_frontend_env):
    monkeypatch.setenv(widgets.HEADLESS_ENV, "1")
    note = widgets.transcription_explorer()
    assert isinstance(note, Markdown)
    assert "JupyterLab or Colab" in note.data


def test_headless_detection(monkeypatch, no_frontend_env):
    assert widgets.is_headless()  # pytest runs without a Jupyter kernel
    monkeypatch.setenv("CI", "true")
    assert widgets.is_headless()
    monkeypatch.setenv(widgets.HEADLESS_ENV, "0")  # explicit wins over CI
    assert not widgets.is_headless()


# --- the widget ---------------------------------------------------------------------------------------------


def test_explorer_builds_with_its_controls():
    explorer = widgets.transcription_explorer(models=["base", "tiny.en"], clips=["tone-2s", "jfk"],
                                              headless=False, model_cache={})
    assert isinstance(explorer, ipywidgets.VBox)
    assert explorer.model.value == "tiny.en" and explorer.clip.value == "jfk"
    assert explorer.chunk.value == 30 and explorer.overlap.value == 5
    assert explorer.button.description == "Transcribe"
    explorer.chunk.value = 5
    assert explorer.overlap.max == 4 and explorer.overlap.value == 4  # overlap stays shorter than the chunk
    with pytest.raises(ValueError, match="models is empty"):
        widgets.transcription_explorer(models=[], headless=False)
    with pytest.raises(ValueError, match="clips is empty"):
        widgets.transcription_explorer(models=["tiny.en"], clips=[], headless=False)


def test_a_failing_click_shows_the_error_in_the_cell():
    explorer = widgets.transcription_explorer(models=["tiny.en"], clips=["tone-2s"], headless=False,
                                              model_cache={"tiny.en": object()})
    explorer.clip.options = [("missing", "no-such-clip")]
    assert explorer.run() is None
    (shown,) = explorer.output.outputs
    assert "Error" in shown["data"]["text/html"]
    assert not explorer.button.disabled


def test_default_clips_include_jfk_long_form_and_tone():
    ids = [clip_id for _, clip_id in widgets.clip_choices()]
    assert widgets.TONE_ID in ids and widgets.JFK_ID in ids
    assert widgets.LONG_ID in ids and SHORT_CLIP in ids


def test_explorer_offers_only_the_packaged_clips_never_a_held_out_one():
    from course_utils.grading import HELD_OUT_IDS

    ids = {clip_id for _, clip_id in widgets.clip_choices()}
    assert not ids & set(HELD_OUT_IDS)
    assert ids - {widgets.LONG_ID, widgets.TONE_ID} == set(course_utils.corpus.lesson_corpus().ids())


def test_long_form_choice_comes_from_the_lesson_data():
    clip = widgets.load_explorer_clip(widgets.LONG_ID)
    assert 30 < len(clip.audio) / 16000 <= 60 and clip.reference.startswith("HE HOPED")
    assert widgets.load_explorer_clip("jfk").reference.startswith("And so, my fellow Americans")


# --- the logic behind the button ----------------------------------------------------------------------------


class _FakeModel:
    is_multilingual = False


def test_explore_chunks_audio_longer_than_the_chunk(monkeypatch):
    calls = {}

    def fake_overlapping(model, audio, chunk_s, overlap_s, verbose):
        calls.update(chunk_s=chunk_s, overlap_s=overlap_s, seconds=len(audio) / 16000)
        return types.SimpleNamespace(text="la la", language="en", chunks=[1, 2], compute_s=0.3, rtf=0.1)

    monkeypatch.setattr(widgets, "transcribe_overlapping", fake_overlapping)
    steps = []
    result = widgets.explore("fake", "tone-3s", chunk_s=2, overlap_s=0.5, models={"fake": _FakeModel()},
                             on_step=steps.append)
    assert calls == {"chunk_s": 2, "overlap_s": 0.5, "seconds": 3.0}
    assert result["text"] == "la la" and result["chunks"] == 2 and result["error_rate"] is None
    assert "hallucination" in result["note"]
    assert steps[0].startswith("loading fake")
    with pytest.raises(ValueError, match="overlap_s"):
        widgets.explore("fake", "tone-3s", chunk_s=2, overlap_s=2, models={"fake": _FakeModel()})


@pytest.mark.corpus
@pytest.mark.slow
def test_explore_and_click_transcribe_a_short_clip_with_tiny_en(tiny_en):
    cache = {"tiny.en": tiny_en}
    result = widgets.explore("tiny.en", SHORT_CLIP, models=cache)
    assert result["method"].startswith("one 30-s window")
    assert "belly" in result["text"].lower()
    assert result["metric"] == "WER" and 0 <= result["error_rate"] < 0.5
    assert result["rtf"] > 0 and result["audio_s"] == pytest.approx(3.275, abs=0.01)
    assert "STUFF IT INTO YOU" in widgets.result_html(result)

    explorer = widgets.transcription_explorer(models=["tiny.en"], clips=[SHORT_CLIP], headless=False,
                                              model_cache=cache)
    clicked = explorer.run()
    assert clicked is not None and clicked["text"] == result["text"]  # greedy decoding: same text again
    html_output, audio_output = explorer.output.outputs
    assert "belly" in html_output["data"]["text/html"].lower()
    assert "<audio" in audio_output["data"]["text/html"]


def test_audio_player_handles_silence_and_paths(tmp_path):
    player = widgets.audio_player(np.zeros(1600, dtype=np.float32))
    assert isinstance(player, Audio) and player.data[:4] == b"RIFF"
    import soundfile as sf

    path = tmp_path / "tone.wav"
    sf.write(path, np.zeros(800, dtype=np.float32) + 0.1, 8000)
    assert widgets.audio_player(path).data[:4] == b"RIFF"
