"""The timed-word merge of overlapping windows (pure functions, no model): matches, limits and time cuts."""

from __future__ import annotations

import pytest

from course_utils.longform.merge import (
    MATCH_TOLERANCE_S,
    OVERLAP_PAD_S,
    TimedWord,
    matched_pairs,
    merge_overlapping,
    merge_timed,
    normalise_word,
    time_cut,
    timed_words,
)


def spoken(text: str, start_s: float, per_word_s: float = 0.4) -> list[TimedWord]:
    """Words said one every `per_word_s` seconds from `start_s` (keys normalised as the merge does)."""
    return [TimedWord(normalise_word(w), start_s + i * per_word_s, (i,)) for i, w in enumerate(text.split())]


def text_of(words: list[TimedWord]) -> str:
    """The merged keys as one string."""
    return " ".join(w.key for w in words)


SENTENCE = "the quick brown fox jumps over the lazy dog and runs far away into the dark wood"


def test_identical_overlap_is_kept_once() -> None:
    """Both windows heard words 20–26 s with slightly different times: each word appears once."""
    all_words = spoken(SENTENCE, 20.0)
    left = [w for w in all_words if w.time_s < 26.0]
    right = [TimedWord(w.key, w.time_s + 0.3, w.tokens) for w in all_words if w.time_s >= 21.0]
    merged, source = merge_timed([left, right], [(0.0, 26.0), (21.0, 40.0)])
    assert text_of(merged) == SENTENCE
    assert source == sorted(source)  # left's words first, then right's
    assert 0 < source.count(0) < len(left) and 0 < source.count(1) < len(right)  # overlap kept once


def test_a_phrase_said_twice_is_not_taken_for_the_overlap() -> None:
    """Left window skipped its last 5 s; the right window repeats a phrase of left's end 4 s later: keep both."""
    left = spoken("after nightfall he could wait no longer", 19.0, 0.8)  # ends at 23.8 s, window to 30 s
    right = spoken("for a full hour he paced but he could wait no longer", 25.0, 0.45)
    merged, _ = merge_timed([left, right], [(0.0, 30.0), (25.0, 55.0)])
    assert text_of(merged) == text_of(left) + " " + text_of(right)  # nothing lost, nothing matched by chance
    # the sequence merge without times aligns the repeated phrase and loses "for a full hour he paced but"
    assert len(merge_overlapping([[w.key for w in left], [w.key for w in right]])) < len(merged)


@pytest.mark.parametrize("gap, matched", [(MATCH_TOLERANCE_S - 0.05, True), (MATCH_TOLERANCE_S + 0.05, False)])
def test_match_tolerance_is_the_limit(gap: float, matched: bool) -> None:
    """Equal words match only up to MATCH_TOLERANCE_S apart (2 s): a broken limit changes this result."""
    left, right = spoken("one two three", 10.0), spoken("one two three", 10.0 + gap)
    assert bool(matched_pairs(left, right)) is matched
    assert matched_pairs(left, right, tolerance_s=gap + 0.01) == [(0, 0), (1, 1), (2, 2)]


def test_matches_need_equal_normalised_words_in_order() -> None:
    """Case and punctuation do not matter; the pairs are the longest common subsequence in order."""
    left = [TimedWord(normalise_word(w), t) for w, t in [(" Longer.", 1.0), ("God,", 1.5), ("as", 2.0)]]
    right = [TimedWord(normalise_word(w), t) for w, t in [("longer", 1.2), ("x", 1.4), ("god", 1.6), ("as", 2.1)]]
    assert matched_pairs(left, right) == [(0, 0), (1, 2), (2, 3)]
    assert matched_pairs([TimedWord("", 1.0)], [TimedWord("", 1.0)]) == []  # punctuation-only never matches


def test_one_match_is_not_enough_but_two_are() -> None:
    """MIN_MATCHES (2): one equal word 1.6 s apart is chance, so the cut goes by time and nothing is lost."""
    left = spoken("alpha beta the gamma", 24.0)  # 24.0 … 25.2
    right = [TimedWord("delta", 25.6), TimedWord("the", 26.4), TimedWord("epsilon", 26.8)]
    spans = [(0.0, 26.0), (25.0, 50.0)]
    assert text_of(merge_timed([left, right], spans)[0]) == "alpha beta the gamma delta the epsilon"
    assert text_of(merge_timed([left, right], spans, min_matches=1)[0]) == "alpha beta the epsilon"
    right_two = [TimedWord("the", 25.0), TimedWord("gamma", 25.3), TimedWord("delta", 25.6)]
    assert text_of(merge_timed([left, right_two], spans)[0]) == "alpha beta the gamma delta"


def test_words_outside_the_padded_overlap_are_always_kept() -> None:
    """Only words within OVERLAP_PAD_S of the overlap take part; older left words are never cut away."""
    left = spoken("a b c d e f", 10.0, 1.0)  # 10 … 15 s
    right = spoken("a b c d e f", 10.0 + OVERLAP_PAD_S + 6.0, 1.0)  # same words, much later, no time match
    merged, _ = merge_timed([left, right], [(0.0, 16.0), (15.0, 40.0)], tolerance_s=100.0)
    assert text_of(merged) == "a b c d e f a b c d e f"  # outside the padded overlap nothing is matched
    wide, _ = merge_timed([left, right], [(0.0, 16.0), (15.0, 40.0)], tolerance_s=100.0, pad_s=10.0)
    assert text_of(wide) == "a b c d e f"  # with a wider pad the same words are taken for the overlap


def test_time_cut_keeps_the_window_that_heard_the_overlap() -> None:
    """Without matches the cut keeps the most words: the other window's skipped stretch is filled."""
    left_skipped = spoken("x y", 22.0)  # left stopped at 22.4 s of a window to 30 s
    right = spoken("p q r s t u v w", 25.0, 0.6)
    assert time_cut(left_skipped, right, 27.5) == (2, 0)  # all of left, all of right
    left = spoken("p q r s t u v w", 25.0, 0.6)
    right_skipped = spoken("k l", 29.5)  # right skipped its first 4.5 s
    assert time_cut(left, right_skipped, 27.5) == (8, 0)
    # both heard different words for the same stretch: cut near the middle of the overlap, not at an edge
    n_left, n_drop = time_cut(spoken("a b c d e f", 25.0, 1.0), spoken("g h i j k l", 25.1, 1.0), 27.5)
    assert n_left == 3 and n_drop in (2, 3)


def test_merge_three_windows_and_empty_ones() -> None:
    """Silent windows add nothing; sources say which window each word came from."""
    first, third = spoken("one two three four", 0.0), spoken("three four five six", 0.8)
    spans = [(0.0, 2.0), (1.0, 3.0), (0.5, 4.0)]
    merged, source = merge_timed([first, [], third], spans)
    assert text_of(merged) == "one two three four five six"
    assert len(source) == len(merged) and set(source) <= {0, 2}
    assert merge_timed([[], []], [(0.0, 1.0), (0.5, 2.0)]) == ([], [])
    with pytest.raises(ValueError, match="word lists"):
        merge_timed([first], [])


def test_timed_words_share_the_segment_by_length() -> None:
    """Word times are the centres of their character shares of the segment, in order, inside it."""
    words = timed_words(10.0, 12.0, [" He", " said", " no."], [[1], [2, 3], [4]])
    assert [w.key for w in words] == ["he", "said", "no"] and words[1].tokens == (2, 3)
    assert 10.0 < words[0].time_s < words[1].time_s < words[2].time_s < 12.0
    assert words[0].time_s == pytest.approx(10.0 + 2.0 * 1.0 / 9)  # "He" is 2 of 9 characters


def test_sequence_merge_limits_are_exact() -> None:
    """merge_overlapping's max_shift and min_ratio: the alignment 7 deep with 2 of 4 equal is their boundary."""
    left, right = [1, 2, 3, 4, 5, 6, 7, 8], [2, 3, 9, 9]
    assert merge_overlapping([left, right], max_shift=7) == [1, 2, 3, 9, 9]
    assert merge_overlapping([left, right], max_shift=6) == left + right
    assert merge_overlapping([left, right], min_ratio=0.5) == [1, 2, 3, 9, 9]
    assert merge_overlapping([left, right], min_ratio=0.51) == left + right


def test_resume_at_decodes_a_skipped_tail_again() -> None:
    """The seek loop's rule: unfinished → after the complete segments; complete but ≥ 2 s short → from its end."""
    from course_utils.longform.engine import MIN_TAIL_S, Segment, resume_at

    done = [Segment(0.0, 12.0, [1]), Segment(12.0, 20.7, [2])]
    assert resume_at(done, 30.0, [], 30.0) == 20.7  # Whisper stopped after a sentence, 9.3 s unheard
    assert resume_at(done, 20.7, [3], 30.0) == 20.7  # unfinished last segment
    near_end = [Segment(0.0, 30.0 - MIN_TAIL_S + 0.01, [1])]
    assert resume_at(near_end, 30.0, [], 30.0) == 30.0  # a pause shorter than MIN_TAIL_S: done
    assert resume_at([Segment(0.0, 30.0 - MIN_TAIL_S, [1])], 30.0, [], 30.0) == 30.0 - MIN_TAIL_S
    assert resume_at([], 30.0, [], 30.0) == 30.0  # no text at all: done (silence is handled before)
