"""The lesson's teaching claims hold in its executed quick run, and the material that makes them true is sound.

The claims are word counts (deterministic on CPU with greedy decoding), read from the output of the cell
tagged ``claims`` in the run that test_notebooks also inspects (the ``lesson_run`` fixture in conftest, the
QUICK run). The default run's section-8 material is checked directly, without the notebook
(``test_default_hard_clips_show_the_bigger_model_winning``). Timing claims are never asserted: the lesson prints
them with its own contention check.
"""

from __future__ import annotations

import nbformat
import numpy as np
import pytest

from course_utils.corpus import lesson_corpus
from course_utils.demos import (
    HARD_ENGLISH_IDS,
    LESSON_CLIP_IDS,
    NOISE_SNR_DB,
    add_noise,
    continuous_speech,
    hard_english,
    pink_noise,
    wordless_inputs,
)
from course_utils.evaluation import compare_models
from course_utils.findings import (
    CLAIMS_MIME,
    Claims,
    claim_problems,
    claims_of,
    long_audio_findings,
    model_findings,
    model_gap_problem,
)
from course_utils.grading import HELD_OUT_IDS
from course_utils.longform import transcribe_chunked, transcribe_overlapping
from course_utils.models import load_model

GOOD_CLAIMS = {"hallucinated_inputs": 2, "cuts": 2, "cuts_in_speech": 2, "recovered_words": ["the", "art"],
               "repaired_words": ["the", "art"], "naive_wer": 0.08, "overlap_wer": 0.03, "hard_clips": 6,
               "hard_wer": [["tiny.en", 0.2], ["base", 0.1]], "noisy_wer": [["tiny.en", 0.3], ["base", 0.2]]}


def executed_claims(run) -> dict:
    """The claims dict shown by the executed notebook's cell tagged 'claims'."""
    executed = nbformat.read(run.notebook, as_version=4)
    tagged = [c for c in executed.cells if "claims" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "the lesson needs exactly one cell tagged 'claims'"
    claims = claims_of(tagged[0].get("outputs", []))
    assert claims is not None, f"the 'claims' cell shows no {CLAIMS_MIME} output"
    return claims


# --- the executed lesson -------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.corpus
def test_naive_cuts_lose_words_that_the_overlap_keeps(lesson_run):
    claims = executed_claims(lesson_run)
    assert claims["cuts"] >= 1 and claims["cuts_in_speech"] == claims["cuts"], claims
    assert len(claims["repaired_words"]) >= 2, claims  # dropped or misheard at the cuts, right with overlap
    assert claims["overlap_wer"] < claims["naive_wer"], claims


@pytest.mark.slow
@pytest.mark.corpus
def test_the_bigger_model_wins_on_the_hard_clips(lesson_run):
    claims = executed_claims(lesson_run)
    wers = claims["hard_wer"]  # [model, WER] pairs in COMPARE_MODELS order
    assert [name for name, _ in wers] == ["tiny.en", "base"]
    assert model_gap_problem(wers) is None, claims
    assert model_gap_problem(claims["noisy_wer"], "the noisy copies") is None, claims


@pytest.mark.slow
def test_default_long_audio_loses_words_at_the_cuts_that_the_overlap_gets_right():
    """The default run's section-7 material (120 s, CHUNK_S 15), from the packaged data, without the notebook."""
    long = continuous_speech(max_duration_s=120, chunk_s=15)
    model = load_model("tiny.en", device="cpu")
    chunked = transcribe_chunked(model, long.audio, chunk_s=15, check_coverage=False, verbose=False)
    overlapped = transcribe_overlapping(model, long.audio, chunk_s=15, overlap_s=5, check_coverage=False,
                                        verbose=False)
    numbers = long_audio_findings(long, chunked, overlapped).numbers
    assert numbers["cuts"] == 7 and numbers["cuts_in_speech"] == 7, long.cut_table()
    assert len(numbers["repaired_words"]) >= 2, numbers
    assert numbers["overlap_wer"] < numbers["naive_wer"], numbers


@pytest.mark.slow
def test_default_hard_clips_show_the_bigger_model_winning():
    """The default run's section-8 material (4 clips), from the packaged data, without running the notebook."""
    comparison = compare_models(["tiny.en", "base"], hard_english(n_clips=4), device="cpu", verbose=False)
    rows = model_findings(comparison).numbers["models"]
    assert model_gap_problem([[r["model"], r["wer"]] for r in rows]) is None, rows
    assert model_gap_problem([[r["model"], r["noisy"]] for r in rows], "the noisy copies") is None, rows


@pytest.mark.slow
@pytest.mark.corpus
def test_a_wordless_input_comes_back_with_text(lesson_run):
    assert executed_claims(lesson_run)["hallucinated_inputs"] >= 1


@pytest.mark.slow
@pytest.mark.corpus
def test_every_claim_of_the_run_holds(lesson_run):
    assert claim_problems(executed_claims(lesson_run)) == []


# --- the checks themselves can fail ------------------------------------------------------------------------


def test_claim_problems_accepts_good_claims():
    assert claim_problems(GOOD_CLAIMS) == []


@pytest.mark.parametrize("change, phrase", [
    ({"hallucinated_inputs": 0}, "hallucination"),
    ({"cuts_in_speech": 1}, "inside speech"),
    ({"repaired_words": ["the"]}, "misheard only 1"),
    ({"overlap_wer": 0.08}, "not below"),
    ({"hard_wer": [["tiny.en", 0.1], ["base", 0.1]]}, "does not beat"),
    ({"hard_wer": [["tiny.en", 0.12], ["base", 0.1]]}, "by 5%"),
    ({"noisy_wer": [["tiny.en", 0.3], ["base", 0.29]]}, "noisy copies"),
    ({"hard_wer": [["base", 0.1]]}, "need two models"),
])
def test_claim_problems_reports_each_broken_claim(change, phrase):
    problems = claim_problems({**GOOD_CLAIMS, **change})
    assert len(problems) == 1 and phrase in problems[0], problems


def test_claims_travel_as_json_in_the_cell_output():
    bundle = Claims(GOOD_CLAIMS)._repr_mimebundle_()
    assert "text/markdown" in bundle and "1.0 %" not in bundle["text/markdown"]
    output = nbformat.v4.new_output("display_data", data=bundle)
    assert claims_of([output]) == GOOD_CLAIMS
    assert claims_of([nbformat.v4.new_output("stream", text="x")]) is None


# --- the material ----------------------------------------------------------------------------------------------


def test_lesson_clips_are_not_held_out_and_are_shipped_with_the_package():
    assert not set(LESSON_CLIP_IDS) & set(HELD_OUT_IDS)
    assert set(HARD_ENGLISH_IDS) <= set(LESSON_CLIP_IDS)
    assert set(LESSON_CLIP_IDS) <= set(lesson_corpus().ids())


def test_noise_is_seeded_and_at_the_stated_snr():
    rng = np.random.default_rng(1)
    speech = (0.1 * rng.standard_normal(16000)).astype(np.float32)
    noisy = add_noise(speech, snr_db=5.0, seed=3)
    noise = noisy - speech
    snr = 10 * np.log10(np.mean(speech.astype(np.float64) ** 2) / np.mean(noise.astype(np.float64) ** 2))
    assert snr == pytest.approx(5.0, abs=0.01)
    assert np.array_equal(noisy, add_noise(speech, snr_db=5.0, seed=3))
    assert not np.array_equal(pink_noise(1000, 0), pink_noise(1000, 1))


def test_wordless_inputs_are_seeded_sound_without_silence():
    first, again = wordless_inputs(2.0, seed=0), wordless_inputs(2.0, seed=0)
    for name, audio in first.items():
        assert audio.dtype == np.float32 and len(audio) == 32000
        assert np.array_equal(audio, again[name])
        assert 0.1 < np.abs(audio).max() <= 1.0


def test_hard_english_follows_each_clip_with_its_noisy_copies():
    clips = hard_english(n_clips=2)
    snr = f"{NOISE_SNR_DB:g}"
    assert [c.id for c in clips] == ["fleurs-en-000", f"fleurs-en-000 + noise {snr} dB #0",
                                     f"fleurs-en-000 + noise {snr} dB #1", "fleurs-en-001",
                                     f"fleurs-en-001 + noise {snr} dB #0", f"fleurs-en-001 + noise {snr} dB #1"]
    assert clips[0].transcript == clips[1].transcript == clips[2].transcript
    assert clips[0].duration_s == clips[1].duration_s
    assert not np.array_equal(clips[1].audio(), clips[2].audio())  # independent noise draws
    assert np.array_equal(clips[1].audio(), hard_english(n_clips=1)[1].audio())  # the same on every run
    with pytest.raises(ValueError, match="must differ"):
        hard_english(n_clips=1, seeds=(0, 0))


def test_continuous_speech_puts_every_cut_inside_speech():
    long = continuous_speech(max_duration_s=90)
    assert len(long.cuts) == 2 and long.all_cuts_in_speech, long.cut_table()
    assert long.duration_s <= 90 and len(long.clip_ids) >= 8
    gaps = [b[0] - a[1] for a, b in zip(long.boundaries_s[:-1], long.boundaries_s[1:], strict=True)]
    assert min(gaps) >= 0.1 and np.median(gaps) < 0.2  # continuous: short breaths, not half-second pauses
