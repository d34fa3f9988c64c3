"""Figures for the lesson: each function takes results (dataclasses, dicts, DataFrames) and returns a Figure.

Measuring and showing are separate: ``timing``, ``scoring``, ``evaluation`` and ``longform`` produce the
numbers, these modules only draw them, reading each field by its one name (``audio_s``, ``compute_s``,
``rtf``, ``wer`` ...). Every figure is drawn inside ``style()`` (one look for the whole lesson, a fixed colour
per signal, method and model: ``color_for``) and closed before it is returned, so Jupyter shows it exactly
once, as the cell's value. Nothing here calls ``plt.show()``; save a figure with ``fig.savefig("name.png")``.

- ``style``: rcParams, colours, the figure decorator and the row readers every figure shares.
- ``audio``: waveform and log-mel, word timestamps.  ``speed``: RTF, methods, models, precisions, throughput.
- ``longform``: chunk timeline, words lost at naive cuts.  ``langid``: language-ID confusion matrix.
"""

from .audio import plot_waveform_and_mel, plot_word_timeline
from .langid import plot_confusion_matrix
from .longform import plot_boundary_loss, plot_chunk_timeline
from .speed import (
    plot_method_comparison,
    plot_model_comparison,
    plot_precision_comparison,
    plot_rtf_vs_duration,
    plot_throughput,
)
from .style import REALTIME_GID, STYLE, color_for, style

__all__ = [
    "STYLE", "REALTIME_GID", "style", "color_for",
    "plot_waveform_and_mel", "plot_rtf_vs_duration", "plot_chunk_timeline", "plot_method_comparison",
    "plot_boundary_loss", "plot_model_comparison", "plot_precision_comparison", "plot_confusion_matrix",
    "plot_throughput", "plot_word_timeline",
]
