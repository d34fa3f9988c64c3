"""Tests for course_utils.scoring: Whisper's normalisers, WER/CER, corpus rates and refused languages."""

from __future__ import annotations

import pytest

from course_utils import scoring

# --- accuracy -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "hypothesis"),
    [
        ("Hello, World!", "hello world"),  # case and punctuation
        ("It costs twenty five dollars.", "It costs $25."),  # spelled-out numbers and currency
        ("It isn't here, I'm sure.", "it is not here i am sure"),  # contractions
        ("The colour of Mr. Smith's car", "the color of mister smith's car"),  # spelling, titles
    ],
)
def test_wer_normalises_english_before_scoring(reference: str, hypothesis: str) -> None:
    """Formatting differences are not recognition errors: Whisper's English normaliser removes them."""
    assert scoring.wer(reference, hypothesis) == 0.0


def test_wer_counts_real_errors() -> None:
    """After normalisation, real substitutions, deletions and insertions count against the reference."""
    counts = scoring.word_errors("The cat sat on the mat.", "the cat sat on a mat today")
    assert (counts.substitutions, counts.deletions, counts.insertions, counts.hits) == (1, 0, 1, 5)
    assert counts.reference_words == 6 and counts.errors == 2
    assert scoring.wer("The cat sat on the mat.", "the cat sat on a mat today") == pytest.approx(2 / 6)
    assert scoring.wer("one small step", "") == 1.0


def test_non_english_uses_the_basic_normaliser() -> None:
    """Other languages lose case and punctuation but keep their spelling (no English number rules)."""
    assert scoring.normalize_text("Guten Tag, Herr Müller!", "de") == "guten tag herr müller"
    assert scoring.wer("Guten Tag, Herr Müller!", "guten tag herr müller", language="German") == 0.0
    assert scoring.normalize_text("twenty five", "de") == "twenty five"


def test_corpus_wer_sums_errors_instead_of_averaging_rates() -> None:
    """One wrong word in a 1-word clip and a perfect 9-word clip: 1/10 corpus WER, not a 50 % mean."""
    pairs = [
        ("hello", "yellow"),
        ("the quick brown fox jumps over the lazy dog", "the quick brown fox jumps over the lazy dog"),
    ]
    per_clip = [scoring.wer(ref, hyp) for ref, hyp in pairs]
    assert sum(per_clip) / len(per_clip) == pytest.approx(0.5)
    assert scoring.corpus_wer(pairs) == pytest.approx(0.1)
    counts = [scoring.word_errors(ref, hyp) for ref, hyp in pairs]
    assert scoring.corpus_wer(counts) == pytest.approx(0.1)
    assert (counts[0] + counts[1]).reference_words == 10


@pytest.mark.parametrize("reference", ["", "   ", "uh [music]"])
def test_empty_reference_is_an_error_not_a_number(reference: str) -> None:
    """A reference with nothing scorable left has no WER: a ValueError explains instead of 0, inf or nan."""
    with pytest.raises(ValueError, match="empty after 'en' text normalisation"):
        scoring.wer(reference, "some words")
    with pytest.raises(ValueError, match="empty after"):
        scoring.cer(reference, "some words")


def test_cer_for_chinese_ignores_punctuation_and_spaces() -> None:
    """Chinese is scored by characters; punctuation and the spaces it leaves behind are not errors."""
    assert scoring.cer("你好，世界。", "你好 世界", language="zh") == 0.0
    assert scoring.cer("你好，世界。", "你好世", language="zh") == pytest.approx(0.25)
    assert scoring.error_rate("你好，世界。", "你好世", language="zh") == pytest.approx(0.25)
    assert scoring.error_counts("안녕하세요, 세계!", "안녕하세요 세계", "ko").unit == "char"


def test_wer_redirects_languages_scored_by_characters() -> None:
    """WER on Chinese would count a whole sentence as one word: the error points to cer()/error_rate()."""
    with pytest.raises(ValueError, match=r"Chinese \('zh'\).*cer\(\).*error_rate\(\)"):
        scoring.wer("你好世界", "你好世界", language="zh")


def test_cer_on_spaced_languages_counts_one_space_between_words() -> None:
    """In English CER, punctuation and doubled spaces vanish but word boundaries still count."""
    assert scoring.cer("Hello, world!", "hello   world") == 0.0
    assert scoring.cer("hello world", "helloworld") == pytest.approx(1 / 11)


def test_error_rate_picks_wer_for_spaced_languages() -> None:
    """error_rate is WER wherever words are separated by spaces."""
    assert scoring.error_rate("the cat sat", "the cat sat down") == pytest.approx(1 / 3)
    assert scoring.error_counts("la casa", "la cosa", "es").unit == "word"


def test_unknown_language_and_mixed_units_are_errors() -> None:
    """A typo in the language must not silently switch normaliser; WER and CER counts never add up."""
    with pytest.raises(ValueError, match="unknown language 'englsh'"):
        scoring.wer("a", "a", language="englsh")
    with pytest.raises(ValueError, match="do not mix"):
        _ = scoring.word_errors("a b", "a b") + scoring.char_errors("ab", "ab")
