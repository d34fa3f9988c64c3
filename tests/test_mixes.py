"""mixes.py: long recordings joined from corpus clips, their references and boundaries."""

import numpy as np
import pytest

from course_utils import corpus, mixes
from course_utils.audio import SAMPLE_RATE


@pytest.mark.corpus
def test_long_form_joins_with_gaps_and_boundaries():
    ids = ["librispeech-1089-134686-0001", "librispeech-1089-134691-0000"]
    parts = [corpus.get_clip(i).audio() for i in ids]
    lf = mixes.long_form(ids, gap_s=1.0)
    assert lf.clip_ids == ids
    assert len(lf.audio) == len(parts[0]) + SAMPLE_RATE + len(parts[1])
    (s0, e0), (s1, e1) = lf.boundaries_s
    assert s0 == 0 and e0 == pytest.approx(len(parts[0]) / SAMPLE_RATE)
    assert s1 == pytest.approx(e0 + 1.0) and e1 == pytest.approx(lf.duration_s)
    assert not lf.audio[int(e0 * SAMPLE_RATE) + 10 : int(s1 * SAMPLE_RATE) - 10].any()  # the gap is silent
    np.testing.assert_array_equal(lf.audio[int(s1 * SAMPLE_RATE) :], parts[1])
    refs = [corpus.get_clip(i).transcript for i in ids]
    assert lf.reference == " ".join(refs)


@pytest.mark.corpus
def test_long_form_by_language_with_limits():
    lf = mixes.long_form("de", max_duration_s=40)
    assert lf.duration_s <= 40 and lf.clip_ids == sorted(lf.clip_ids)
    assert all(i.startswith(("fleurs-de", "picovoice-leopard-de")) for i in lf.clip_ids)
    assert len(lf.boundaries_s) == len(lf.clip_ids) >= 2
    with pytest.raises(ValueError, match=r"joins to only .* less than min_duration_s=100000"):
        mixes.long_form("de", min_duration_s=100000)
    with pytest.raises(ValueError, match="already longer than max_duration_s=1"):
        mixes.long_form("de", max_duration_s=1)
    with pytest.raises(ValueError, match="gap_s must be >= 0"):
        mixes.long_form("de", gap_s=-1)


@pytest.mark.corpus
def test_english_long_form_is_four_minutes_librispeech_then_lj_passage():
    lf = mixes.english_long_form()
    assert lf.duration_s >= 240 and len(lf.audio) / SAMPLE_RATE == pytest.approx(lf.duration_s)
    lj = [f"ljspeech-LJ001-{i:04d}" for i in range(1, 28)]
    assert lf.clip_ids[-27:] == lj
    assert lf.clip_ids[:-27] and all(i.startswith("librispeech-") for i in lf.clip_ids[:-27])
    assert lf.reference.startswith(corpus.get_clip(lf.clip_ids[0]).transcript)
    assert lf.reference.endswith(corpus.get_clip("ljspeech-LJ001-0027").transcript)
    with pytest.raises(ValueError, match="less than min_duration_s"):
        mixes.english_long_form(min_duration_s=10_000)


@pytest.mark.corpus
def test_lj_passage_is_one_reader_in_order_and_respects_the_limit():
    full = mixes.lj_passage()
    assert full.clip_ids == sorted(full.clip_ids) and len(full.clip_ids) == 27
    assert 150 < full.duration_s < 260
    short = mixes.lj_passage(max_duration_s=60)
    assert short.duration_s <= 60 and short.clip_ids == full.clip_ids[: len(short.clip_ids)]
    assert full.reference.startswith(short.reference)


def test_long_form_from_a_given_corpus_without_the_environment(tmp_path, monkeypatch):
    import soundfile as sf

    monkeypatch.setenv(corpus.CORPUS_ENV, str(tmp_path / "nowhere"))  # the default corpus is broken on purpose
    folder = tmp_path / "mine"
    folder.mkdir()
    rows = []
    for i, seconds in enumerate((1.0, 2.0)):
        sf.write(folder / f"c{i}.wav", np.full(int(seconds * SAMPLE_RATE), 0.1 * (i + 1), np.float32), SAMPLE_RATE)
        rows.append(f"c{i},c{i}.wav,en,{seconds},16000,word {i},me/repo,c{i}.wav,MIT\n")
    (folder / "manifest.csv").write_text(
        "id,file,language,duration_s,sample_rate,transcript,source_repo,source_path,license\n" + "".join(rows)
    )
    lf = mixes.long_form(["c1", "c0"], gap_s=0.5, corpus=corpus.Corpus(folder))
    assert lf.clip_ids == ["c1", "c0"] and lf.reference == "word 1 word 0"
    assert lf.duration_s == pytest.approx(3.5) and lf.boundaries_s[1] == pytest.approx((2.5, 3.5))
    assert mixes.long_form("en", corpus=corpus.Corpus(folder)).clip_ids == ["c0", "c1"]
    with pytest.raises(FileNotFoundError, match="nowhere"):
        mixes.long_form(["c0"])  # without corpus= the (broken) default is used
