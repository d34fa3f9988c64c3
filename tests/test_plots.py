"""Every plot returns a closed Figure with the expected axes and artists; empty input is a clear ValueError."""

import io

import matplotlib

matplotlib.use("Agg")  # headless for this process only (an MPLBACKEND variable would leak into notebook kernels)
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

from course_utils import plots
from course_utils.audio import synth_tone
from course_utils.evaluation import Throughput
from course_utils.longform import ChunkRecord, LongformResult
from course_utils.scoring import boundary_losses
from course_utils.timing import SweepPoint, sweep_table


@pytest.fixture(autouse=True)
def _no_open_figures():
    """Each test starts and ends without pyplot figures: plots close what they return."""
    plt.close("all")
    yield
    assert plt.get_fignums() == [], "a plot function left a figure open (Jupyter would show it twice)"


def _bars(ax) -> list:
    """Bar rectangles of an axes (bar containers only: not legend patches or spans)."""
    return [patch for container in ax.containers for patch in container]


def _texts(ax, gid: str) -> list[str]:
    return [t.get_text() for t in ax.texts if t.get_gid() == gid]


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _sweep(fast: bool = False) -> list[SweepPoint]:
    scale = 0.01 if fast else 1.0
    return [SweepPoint(signal, d, t * scale, t * scale / d, 10, 5, "")
            for signal, d, t in [("speech", 2, 2.4), ("tone", 2, 3.0), ("speech", 10, 3.5),
                                 ("tone", 10, 6.0), ("speech", 30, 5.0), ("tone", 30, 9.0)]]


def _longform(overlap_s: float) -> LongformResult:
    step = 30 - overlap_s
    starts = [0.0, step, 2 * step]
    chunks = [ChunkRecord(i, s, min(s + 30, 70.0), f"chunk {i} text", 20, 20, 1.5 + i,
                          (1.5 + i) / (min(s + 30, 70) - s)) for i, s in enumerate(starts)]
    method = "overlapping" if overlap_s else "chunked"
    return LongformResult("text", "en", chunks, 70.0, 8.0, 8.0 / 70, method)


# --- style and plumbing -------------------------------------------------------------------------------------


def test_colors_are_fixed_per_name_and_style_does_not_leak():
    before = dict(matplotlib.rcParams)
    plots.plot_throughput([{"label": "sequential", "audio_minutes_per_compute_minute": 3.0}])
    assert dict(matplotlib.rcParams) == before
    assert plots.color_for("speech") == plots.color_for("Speech") != plots.color_for("tone")
    assert plots.color_for("faster-whisper int8") != plots.color_for("faster-whisper fp32")
    assert plots.color_for("tiny.en") != plots.color_for("tiny")
    assert plots.color_for("some new method") == plots.color_for("some new method")


# --- waveform and mel ---------------------------------------------------------------------------------------


def test_waveform_and_mel_shows_the_real_duration_of_whispers_own_mel():
    fig = plots.plot_waveform_and_mel(synth_tone(1.5), title="tone")
    assert isinstance(fig, Figure)
    wave, mel, colorbar = fig.axes
    assert mel.images[0].get_array().shape == (80, 150)  # 10 ms frames of the real 1.5 s, not 3000
    assert mel.get_xlim() == pytest.approx((0, 1.5))
    assert wave.get_xlim() == pytest.approx((0, 1.5))
    assert "3000 frames" in mel.get_title(loc="left")
    assert fig._suptitle.get_text() == "tone"
    assert _png(fig).startswith(b"\x89PNG")


def test_waveform_and_mel_resamples_and_supports_128_bins():
    fig = plots.plot_waveform_and_mel(synth_tone(1.0, sr=8000), sr=8000, n_mels=128)
    assert fig.axes[1].images[0].get_array().shape == (128, 100)


def test_waveform_and_mel_rejects_bad_input():
    with pytest.raises(ValueError, match="empty"):
        plots.plot_waveform_and_mel(np.zeros(0, dtype=np.float32))
    with pytest.raises(ValueError, match="n_mels"):
        plots.plot_waveform_and_mel(synth_tone(1.0), n_mels=64)


# --- RTF vs duration ----------------------------------------------------------------------------------------


def test_rtf_vs_duration_has_series_bars_and_real_time_lines():
    fig = plots.plot_rtf_vs_duration(_sweep())
    ax_time, ax_rtf = fig.axes
    labels = [line.get_label() for line in ax_time.lines]
    assert "speech" in labels and "tone" in labels
    assert any(line.get_gid() == plots.REALTIME_GID for line in ax_time.lines)
    assert any(line.get_gid() == plots.REALTIME_GID for line in ax_rtf.lines)
    assert len(_bars(ax_rtf)) == 6  # 3 durations × (speech, tone)
    assert [t.get_text() for t in ax_rtf.get_xticklabels()] == ["2 s", "10 s", "30 s"]


def test_rtf_vs_duration_takes_a_dataframe_and_says_when_real_time_is_off_the_scale():
    fig = plots.plot_rtf_vs_duration(sweep_table(_sweep(fast=True)))
    assert len(_bars(fig.axes[1])) == 6
    assert _texts(fig.axes[1], "realtime-note")  # RTF = 1 far above every bar: said in words


def test_rtf_vs_duration_empty_input():
    with pytest.raises(ValueError, match="nothing to plot"):
        plots.plot_rtf_vs_duration([])


# --- chunk timeline -----------------------------------------------------------------------------------------


def test_chunk_timeline_draws_every_chunk_and_hatches_overlaps():
    fig = plots.plot_chunk_timeline(_longform(overlap_s=5))
    ax_line, ax_rtf = fig.axes
    assert len([p for p in ax_line.patches if p.get_gid() == "chunk"]) == 3
    assert len([p for p in ax_line.patches if p.get_gid() == "overlap"]) == 2
    assert len(_bars(ax_rtf)) == 3
    assert any(line.get_gid() == plots.REALTIME_GID for line in ax_rtf.lines)


def test_chunk_timeline_naive_chunks_from_plain_dicts():
    rows = [c.to_dict() for c in _longform(overlap_s=0).chunks]
    fig = plots.plot_chunk_timeline(rows)
    assert not [p for p in fig.axes[0].patches if p.get_gid() == "overlap"]
    with pytest.raises(ValueError, match="nothing to plot"):
        plots.plot_chunk_timeline(LongformResult("", "en", [], 0.0, 0.0, 0.0, "chunked"))


# --- methods ------------------------------------------------------------------------------------------------


def test_method_comparison_bars_speedups_and_missing_wer():
    rows = pd.DataFrame({"method": ["whisper transcribe", "naive chunks", "overlapping"],
                         "compute_s": [10.0, 5.0, 20.0], "wer": [0.05, 0.08, np.nan]})
    fig = plots.plot_method_comparison(rows)
    ax_time, ax_wer = fig.axes
    assert len(_bars(ax_time)) == len(_bars(ax_wer)) == 3
    labels = [t.get_text() for t in ax_time.texts]
    assert labels == ["10.0 s  (baseline)", "5.0 s  (2.0× faster)", "20.0 s  (2.0× slower)"]
    assert [t.get_text() for t in ax_wer.texts] == ["5.0 %", "8.0 %", "n/a"]


def test_method_comparison_errors_name_the_problem():
    with pytest.raises(ValueError, match="nothing to plot"):
        plots.plot_method_comparison([])
    with pytest.raises(ValueError, match="'compute_s'"):
        plots.plot_method_comparison([{"method": "a", "wer": 0.1}])
    with pytest.raises(ValueError, match="baseline 'x'"):
        plots.plot_method_comparison([{"method": "a", "compute_s": 1}], baseline="x")


# --- boundary loss ------------------------------------------------------------------------------------------

REFERENCE = ("The quick brown fox jumps over the lazy dog, and then it runs far away into the dark forest "
             "where nobody can find it again.")
CHUNKS = ["The quick brown fox jumps over the", "dog and then it runs far away into the dark",
          "where nobody can fund it again"]


def test_boundary_loss_marks_exactly_the_lost_words():
    fig = plots.plot_boundary_loss(REFERENCE, CHUNKS, overlapped=REFERENCE)
    assert len(fig.axes) == 2  # two cuts, both lost a word
    lost = [word for ax in fig.axes for word in _texts(ax, "naive:lost")]
    kept = [word for ax in fig.axes for word in _texts(ax, "overlap:kept")]
    garbled = [word for ax in fig.axes for word in _texts(ax, "naive:garbled")]
    assert lost == ["lazy", "forest"]
    assert kept == ["lazy", "forest"]
    assert garbled == ["find"]  # a substitution away from the cut is shown, but not counted as lost
    assert all(any(line.get_gid() == "boundary" for line in ax.lines) for ax in fig.axes)


def test_boundary_losses_numbers_from_a_longform_result():
    result = LongformResult("", "en", [ChunkRecord(0, 0, 30, CHUNKS[0], 0, 0, 1, 0.1),
                                       ChunkRecord(1, 30, 60, CHUNKS[1], 0, 0, 1, 0.1)], 60, 2, 0.03, "chunked")
    (cut,) = boundary_losses(REFERENCE, result, overlapped=REFERENCE, context_words=3)
    assert (cut.time_s, cut.lost, cut.recovered) == (30, ["lazy"], ["lazy"])
    assert cut.reference[cut.position] == "dog"


def test_boundary_loss_needs_two_chunks_and_a_reference():
    with pytest.raises(ValueError, match="at least 2 chunks"):
        plots.plot_boundary_loss(REFERENCE, ["only one chunk"])
    with pytest.raises(TypeError, match="not one joined string"):
        plots.plot_boundary_loss(REFERENCE, "a joined transcript")
    with pytest.raises(ValueError, match="reference transcript is empty"):
        plots.plot_boundary_loss("", CHUNKS)


# --- models, precision, confusion, throughput, words ----------------------------------------------------------


def test_model_comparison_four_panels():
    rows = [{"model": "base", "parameters_m": 72.6, "rtf": 0.09, "wer": 0.045, "load_s": 1.9},
            {"model": "tiny.en", "parameters_m": 37.2, "rtf": 0.05, "wer": 0.06, "load_s": 1.1},
            {"model": "small", "parameters_m": 241.7, "rtf": 0.3, "wer": None}]
    fig = plots.plot_model_comparison(rows)
    ax_size, ax_rtf, ax_trade, ax_wer = fig.axes
    assert all(len(_bars(ax)) == 3 for ax in (ax_size, ax_rtf, ax_wer))
    assert [t.get_text() for t in ax_size.get_xticklabels()] == ["tiny.en", "base", "small"]  # sorted by size
    (points,) = [c for c in ax_trade.collections if isinstance(c, PathCollection)]
    assert len(points.get_offsets()) == 3
    assert "n/a" in [t.get_text() for t in ax_wer.texts]
    with pytest.raises(ValueError, match="'rtf'"):
        plots.plot_model_comparison([{"model": "tiny", "parameters_m": 39}])


def test_precision_comparison_speedups_with_and_without_wer():
    fig = plots.plot_precision_comparison([{"label": "fp32", "compute_s": 2.0}, {"label": "fp16", "compute_s": 1.0}])
    assert len(fig.axes) == 1 and len(_bars(fig.axes[0])) == 2
    assert [t.get_text() for t in fig.axes[0].texts] == ["2.00 s  (baseline)", "1.00 s  (2.0× faster)"]
    fig = plots.plot_precision_comparison([{"label": "openai-whisper fp32", "rtf": 0.2, "wer": 0.05},
                                           {"label": "faster-whisper int8", "rtf": 0.05, "wer": 0.06}])
    assert len(fig.axes) == 2
    with pytest.raises(ValueError, match="nothing to plot"):
        plots.plot_precision_comparison(pd.DataFrame(columns=["label", "compute_s"]))


def test_confusion_matrix_counts_and_row_accuracy():
    true = ["en"] * 3 + ["de"] * 2
    predicted = ["en", "en", "de", "de", "nl"]
    fig = plots.plot_confusion_matrix(pd.crosstab(pd.Series(true), pd.Series(predicted)))
    (ax,) = fig.axes
    assert sorted(_texts(ax, "count")) == ["1", "1", "1", "2"]
    assert _texts(ax, "accuracy") == ["50% (1/2)", "67% (2/3)"]  # rows: de, en (crosstab sorts)
    assert "60% correct (3/5)" in ax.get_title()
    with pytest.raises(ValueError, match="empty"):
        plots.plot_confusion_matrix(np.zeros((0, 0)), [])
    with pytest.raises(ValueError, match="shape"):
        plots.plot_confusion_matrix([[1, 2], [3, 4]], ["en"])


def test_throughput_from_measurements():
    rows = [Throughput(60.0, 6.0, 10.0, 2.0, 12, "sequential", 1),
            Throughput(60.0, 2.4, 25.0, 5.0, 12, "batched", 8),
            {"label": "parallel (2 processes)", "audio_minutes_per_compute_minute": 18.0}]
    fig = plots.plot_throughput(rows)
    (ax,) = fig.axes
    assert len(_bars(ax)) == 3
    assert [t.get_text() for t in ax.get_xticklabels()] == ["sequential", "batched (batch 8)",
                                                            "parallel (2 processes)"]
    assert "2.5× sequential" in ax.texts[1].get_text()
    with pytest.raises(ValueError, match="nothing to plot"):
        plots.plot_throughput([])


def test_word_timeline_from_a_whisper_result():
    result = {"segments": [{"words": [{"word": " Hello", "start": 0.1, "end": 0.5, "probability": 0.9},
                                      {"word": " world", "start": 0.6, "end": 1.0, "probability": 0.4}]}]}
    fig = plots.plot_word_timeline(result, synth_tone(1.2))
    words = [p for p in fig.axes[0].patches if p.get_gid() == "word"]
    assert len(words) == 2
    assert [t.get_text() for t in fig.axes[0].texts] == ["Hello", "world"]
    with pytest.raises(ValueError, match="word_timestamps=True"):
        plots.plot_word_timeline({"segments": [{"text": "no words"}]})


def test_mel_axis_ticks_sit_on_whispers_own_filterbank():
    """The Hz labels of the mel axis (librosa's Slaney scale) point at the bins whose filters peak there."""
    from whisper.audio import mel_filters

    for n_mels in (80, 128):
        fig = plots.plot_waveform_and_mel(synth_tone(1.0), n_mels=n_mels)
        ax = fig.axes[1]
        peaks_hz = mel_filters("cpu", n_mels).numpy().argmax(axis=1) * 16000 / 400  # FFT bins of 40 Hz
        for y, label in zip(ax.get_yticks(), ax.get_yticklabels(), strict=True):
            text = label.get_text()
            hz = float(text.split()[0]) * (1000 if "kHz" in text else 1)
            assert abs(peaks_hz[int(y)] - hz) <= max(60.0, 0.1 * hz), (n_mels, text, peaks_hz[int(y)])
