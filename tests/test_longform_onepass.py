"""Issue 10: transcribe_fast, VAD windows decoded once without timestamps and checked (``longform.onepass``)."""

from __future__ import annotations

import dataclasses

from course_utils.longform import onepass, transcribe_fast
from course_utils.scoring import wer


def test_too_few_tokens_for_the_speech_need_timestamps() -> None:
    """The rate rule: below MIN_TOKENS_PER_S text tokens per second of VAD speech the window is decoded again."""
    speech_s = 20.0
    enough = int(onepass.MIN_TOKENS_PER_S * speech_s)
    assert onepass.needs_timestamps(list(range(enough)), "a sentence of many different words", speech_s) == ""
    reason = onepass.needs_timestamps(list(range(enough - 1)), "a sentence", speech_s)
    assert reason.startswith(f"{enough - 1} tokens for 20.0 s")
    assert onepass.needs_timestamps([], "", 0.0) == ""  # no speech, no text: nothing to distrust


def test_a_repetition_loop_needs_timestamps() -> None:
    """Whisper's own compression-ratio threshold catches a window stuck on one phrase."""
    loop = "and then we went home " * 30
    assert onepass.needs_timestamps(list(range(200)), loop, 10.0).startswith("repetitive text")




def test_fast_decodes_each_window_once_when_the_checks_pass(model, two_speakers) -> None:  # noqa: ANN001
    """One pass, one segment over the window, the text of both speakers, nothing uncovered."""
    audio, reference = two_speakers
    result = transcribe_fast(model, audio, verbose=False)
    assert result.method == "fast" and [c.passes for c in result.chunks] == [1]
    assert wer(reference, result.text) < 0.15, result.text
    assert result.uncovered == []


def test_fast_decodes_a_window_that_lost_its_speech_again(model, two_speakers, monkeypatch) -> None:  # noqa: ANN001
    """Whisper stops after two tokens in the one pass: the rate check sends the window through the seek loop."""
    audio, reference = two_speakers
    real = onepass.decode_windows

    def cut_short(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        once = real(*args, **kwargs)
        once.tokens[0] = once.tokens[0][:2]
        return dataclasses.replace(once, texts=["Xyzzy plugh"] + once.texts[1:])

    monkeypatch.setattr(onepass, "decode_windows", cut_short)
    result = transcribe_fast(model, audio, verbose=False)
    assert result.chunks[0].passes >= 2
    assert wer(reference, result.text) < 0.15, result.text
    assert "Xyzzy" not in result.text  # the cut one-pass text was replaced, not kept beside the new one


def test_a_window_sent_back_is_not_encoded_again(model, two_speakers, monkeypatch) -> None:  # noqa: ANN001
    """The seek loop's first pass over a failing window uses the one pass's encoder output (same mel window)."""
    from course_utils.longform import engine

    audio, reference = two_speakers
    monkeypatch.setattr(onepass, "needs_timestamps", lambda tokens, text, speech_s: "forced for the test")
    encoded: list[int] = []
    real_encode = engine.encode

    def counting(model, batch):  # noqa: ANN001, ANN202
        encoded.append(len(batch))
        return real_encode(model, batch)

    monkeypatch.setattr(engine, "encode", counting)
    result = transcribe_fast(model, audio, verbose=False)
    passes = [c.passes for c in result.chunks]
    assert all(p >= 2 for p in passes), passes
    # one encode per window in the one pass, then only the seek loop's later passes (from pass 3 on)
    assert sum(encoded) == len(passes) + sum(p - 2 for p in passes), (encoded, passes)
    assert wer(reference, result.text) < 0.15, result.text
