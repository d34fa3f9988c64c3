"""Engines and precisions on the same weights: openai-whisper threads/FP16 and faster-whisper FP32/int8."""

from __future__ import annotations

import pytest

import course_utils as cu
from course_utils import engines


@pytest.fixture(scope="module")
def tiny_en():
    return cu.load_model("tiny.en", device="cpu")


@pytest.mark.slow
@pytest.mark.corpus
def test_cpu_options_run_the_same_weights_and_agree(tiny_en):
    clip = cu.jfk()
    rows = cu.compare_inference_options(tiny_en, clip.audio(), clip.transcript)
    labels = [row.label for row in rows]
    assert labels[0].startswith("openai-whisper FP32") and "faster-whisper INT8" in labels
    assert rows[0].speedup == 1.0
    assert all(row.compute_s > 0 and row.rtf == pytest.approx(row.compute_s / 11.0, rel=0.01) for row in rows)
    fp32 = [row for row in rows if row.precision == "fp32"]
    assert len({cu.normalize_text(row.text) for row in fp32}) == 1, "same weights, same greedy text"
    assert all(row.wer is not None and row.wer < 0.1 for row in rows)


def test_faster_whisper_needs_the_weights_origin():
    class Anonymous:
        pass

    with pytest.raises(ValueError, match="CTranslate2 directory"):
        engines.faster_whisper_model(Anonymous(), device="cpu")
