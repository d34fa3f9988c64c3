"""Result objects read as short summaries and small tables, never as raw dataclass dumps with 17-digit floats."""

from __future__ import annotations

import re

import pytest

from course_utils import display
from course_utils.engines import EngineRun
from course_utils.evaluation import ClipScore, Evaluation, ModelComparison, Throughput
from course_utils.scoring import BoundaryLoss, ErrorCounts, word_errors
from course_utils.timing import SweepPoint, Timing, TranscriptionResult

LONG_FLOAT = re.compile(r"\d\.\d{5,}")


def _clip(id_: str = "jfk-16k", errors: int = 1) -> ClipScore:
    return ClipScore(id_, "en", 11.0, "ref", "And so my fellow Americans", "wer", errors, 22, errors / 22,
                     0.37995573300003116, 0.034541430272730105)


def _evaluation() -> Evaluation:
    rows = [_clip(), _clip("librispeech-1", 0)]
    return Evaluation("tiny.en", rows, 1 / 44, None, 22.0, 0.7599114660000623)


EXAMPLES = {
    "Timing": (Timing.from_runs([0.37995573300003116, 0.41, 0.38], audio_s=11.0),
               ["median 0.38 s of 3 runs", "RTF 0.035", "29× faster than real time"]),
    "TranscriptionResult": (TranscriptionResult("And so my fellow Americans, ask not " * 4, "en", 11.0,
                                                0.37995573300003116, 0.034541430272730105, True),
                            ["'And so my fellow Americans", "…'", "11.0 s of audio in 0.38 s", "RTF 0.035"]),
    "SweepPoint": (SweepPoint("tone", 2.0, 0.6123456789, 0.30617283945, 40, 12, "la la"),
                   ["tone 2 s", "0.61 s", "RTF 0.31", "40 tokens"]),
    "ErrorCounts": (word_errors("the cat sat on the mat", "the cat sat on a mat today"),
                    ["WER 33.3 %", "1 substituted", "0 deleted", "1 inserted", "6 reference words"]),
    "BoundaryLoss": (BoundaryLoss(2, 29.98765, 7, (3, 10), "a b c d e f g h i j".split(),
                                  ["ok"] * 6 + ["lost", "lost"] + ["ok"] * 2, ["ok"] * 10),
                     ["cut 2 at 30.0 s", "2 words lost (g, h)", "2 kept with overlap"]),
    "ClipScore": (_clip(), ["jfk-16k, en, 11.0 s", "WER 4.5 % (1/22 words)", "RTF 0.035"]),
    "Evaluation": (_evaluation(), ["tiny.en on 2 clips (22.0 s of audio)", "WER 2.3 %", "RTF 0.035"]),
    "ModelComparison": (ModelComparison("base", 71.825, True, 1.23456, 0.08123456, 0.052, _evaluation()),
                        ["base: 71.8 M parameters", "loaded in 1.23 s", "RTF 0.081", "WER 5.2 %"]),
    "Throughput": (Throughput(318.0, 42.4123, 7.4978, 0.4715, 20, "batched", 8),
                   ["batched, batch 8", "20 files", "5.3 audio min", "42.4 s", "7.5 audio min per compute min"]),
    "EngineRun": (EngineRun("faster-whisper INT8", "faster-whisper", "int8", 2, 1.234567, 0.1122334, 2.123456,
                            None, "text"),
                  ["faster-whisper INT8: 1.23 s", "RTF 0.11", "2.12× the first row", "WER n/a"]),
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_repr_is_one_rounded_line(name: str) -> None:
    """Each result prints as ClassName(summary) on one line, with the numbers rounded and the key facts in it."""
    result, expected = EXAMPLES[name]
    text = repr(result)
    assert text.startswith(f"{name}(") and text.endswith(")") and "\n" not in text
    assert not LONG_FLOAT.search(text), text
    for part in expected:
        assert part in text, f"{part!r} not in {text!r}"
    assert str(result) == text


@pytest.mark.parametrize("name", ["Evaluation", "ModelComparison", "EngineRun"])
def test_table_like_results_render_as_small_html_tables(name: str) -> None:
    """Jupyter shows table-like results as an HTML table with rounded, escaped cells."""
    result, _ = EXAMPLES[name]
    page = result._repr_html_()
    assert page.count("<table>") == 1 and "<th" in page and "<td" in page
    assert not LONG_FLOAT.search(page), page


def test_evaluation_html_has_a_row_per_clip_and_escapes_text() -> None:
    evaluation = _evaluation()
    evaluation.rows[0].hypothesis = "<b>bold</b> & co"
    page = evaluation._repr_html_()
    assert page.count("<tr>") == 1 + len(evaluation.rows)
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in page and "<b>bold</b>" not in page


def test_error_counts_for_characters_and_without_reference() -> None:
    assert repr(ErrorCounts(1, 0, 0, 9, 10, "char")).startswith("ErrorCounts(CER 10.0 %")
    assert "n/a" in repr(ErrorCounts(0, 0, 0, 0, 0))


@pytest.mark.parametrize(("value", "expected"), [(1.66, "1.66"), (0.15, "0.15"), (0.0344, "0.034"),
                                                 (0.00671, "0.0067"), (float("nan"), "n/a")])
def test_rtf_keeps_the_digits_that_matter(value: float, expected: str) -> None:
    assert display.rtf(value) == expected


def test_seconds_percent_and_speed() -> None:
    assert [display.seconds(v) for v in (0.379955, 12.345, 255.4)] == ["0.38 s", "12.3 s", "255 s"]
    assert display.percent(0.0523) == "5.2 %" and display.percent(None) == "n/a"
    assert display.speed(0.0345) == "29× faster than real time"
    assert display.speed(0.5) == "2.0× faster than real time"
    assert display.speed(1.4) == "1.4× slower than real time"
