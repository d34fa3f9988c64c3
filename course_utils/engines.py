"""The same Whisper weights through different engines and precisions: openai-whisper (PyTorch) and faster-whisper.

faster-whisper (CTranslate2) runs the directory a model was converted from (``model.ct2_dir``), so speed-ups
compare engines, not different weights. On a GPU the options are FP32 vs FP16; on a CPU, threads and int8.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from . import display as show
from .decoding import transcribe_options
from .quantize import quantize
from .scoring import error_rate
from .timing import timed_call


@dataclass
class EngineRun:
    """One engine/precision on one recording: median seconds, RTF, speed-up over the first row, WER."""

    label: str
    engine: str  # "openai-whisper" or "faster-whisper"
    precision: str  # "fp32", "fp16", "int8", "int8_float16"
    threads: int
    compute_s: float  # median seconds of the timed runs
    rtf: float
    speedup: float  # the first row's compute_s / this row's
    wer: float | None
    text: str

    def to_dict(self) -> dict[str, Any]:
        """Plain fields, for JSON and DataFrames."""
        return asdict(self)

    def __repr__(self) -> str:
        return (f"EngineRun({self.label}: {show.seconds(self.compute_s)}, RTF {show.rtf(self.rtf)}, "
                f"{self.speedup:.2f}× the first row, WER {show.percent(self.wer)})")

    def _repr_html_(self) -> str:
        return show.html_table(self.label, ["engine", "precision", "threads", "time", "RTF", "speed-up", "WER"],
                               [[self.engine, self.precision, self.threads, show.seconds(self.compute_s),
                                 show.rtf(self.rtf), f"{self.speedup:.2f}×", show.percent(self.wer)]])


def faster_whisper_model(model: Any, compute_type: str = "float32", device: str | None = None,
                         threads: int | None = None) -> Any:
    """A faster-whisper ``WhisperModel`` on the same weights as `model` (its CTranslate2 directory or its name)."""
    from faster_whisper import WhisperModel

    device = "cuda" if str(device or _device(model)).startswith("cuda") else "cpu"
    source = getattr(model, "ct2_dir", None) or getattr(model, "course_name", None)
    if source is None:
        raise ValueError(
            "this model carries neither a CTranslate2 directory nor an official name, so faster-whisper cannot "
            "run the same weights; load it with course_utils.load_model(name)"
        )
    return WhisperModel(str(source), device=device, compute_type=compute_type,
                        cpu_threads=threads or torch.get_num_threads())


def faster_whisper_transcriber(
    fw_model: Any, language: str | None = None, batch_size: int | None = None
) -> Callable[[np.ndarray], str]:
    """audio → text with faster-whisper, greedy like the lesson (``BatchedInferencePipeline`` when batched)."""
    options = {"beam_size": 1, "temperature": 0.0, "language": language}
    if batch_size:
        from faster_whisper import BatchedInferencePipeline

        pipeline = BatchedInferencePipeline(model=fw_model)
        return lambda audio: " ".join(s.text.strip() for s in pipeline.transcribe(audio, batch_size=batch_size,
                                                                                   **options)[0])
    return lambda audio: " ".join(s.text.strip() for s in fw_model.transcribe(audio, **options)[0])


def _device(model: Any) -> str:
    return str(next(model.parameters()).device)


def compare_inference_options(model: Any, audio: np.ndarray, reference: str | None = None, repeats: int = 1,
                              language: str | None = None, faster_whisper: bool | None = None,
                              int8: bool = False) -> list[EngineRun]:
    """Time the model's engine/precision options on one recording (warm-up excluded, CUDA synchronised).

    GPU: openai-whisper FP32 and FP16, faster-whisper FP16 and int8. CPU: openai-whisper with all threads
    and with one, faster-whisper FP32 and int8. The first row is the baseline of every speed-up.
    ``faster_whisper=None`` adds its rows when it is installed and says "not installed" (a warning) otherwise.
    ``int8=True`` (CPU) adds openai-whisper with its own weights in int8 (``course_utils.quantize``).
    """
    if faster_whisper is None:
        faster_whisper = importlib.util.find_spec("faster_whisper") is not None
        if not faster_whisper:
            warnings.warn("faster-whisper is not installed: its rows are left out (pip install faster-whisper)",
                          stacklevel=2)
    device = _device(model)
    language = language or (None if model.is_multilingual else "en")
    threads = torch.get_num_threads()
    runs: list[tuple[str, str, str, int, Any]] = []

    def whisper_run(fp16: bool, n_threads: int, runner: Any = model):
        options = transcribe_options(model, fp16=fp16, language=language)

        def run(samples: np.ndarray) -> str:
            previous = torch.get_num_threads()
            torch.set_num_threads(n_threads)
            try:
                return runner.transcribe(samples, **options)["text"].strip()
            finally:
                torch.set_num_threads(previous)

        return run

    if device.startswith("cuda"):
        runs += [("openai-whisper FP32", "openai-whisper", "fp32", threads, whisper_run(False, threads)),
                 ("openai-whisper FP16", "openai-whisper", "fp16", threads, whisper_run(True, threads))]
        fw_types = [("float16", "fp16"), ("int8_float16", "int8_float16")]
    else:
        runs += [(f"openai-whisper FP32, {threads} threads", "openai-whisper", "fp32", threads,
                  whisper_run(False, threads))]
        if threads > 1:
            runs.append(("openai-whisper FP32, 1 thread", "openai-whisper", "fp32", 1, whisper_run(False, 1)))
        if int8:
            runs.append((f"openai-whisper INT8, {threads} threads", "openai-whisper", "int8", threads,
                         whisper_run(False, threads, quantize(model))))
        fw_types = [("float32", "fp32"), ("int8", "int8")]
    if int8 and device.startswith("cuda"):
        warnings.warn("int8 for openai-whisper runs on CPU only (course_utils.quantize): its row is left out",
                      stacklevel=2)
    if faster_whisper:
        for compute_type, precision in fw_types:
            transcriber = faster_whisper_transcriber(faster_whisper_model(model, compute_type), language)
            runs.append((f"faster-whisper {precision.upper()}", "faster-whisper", precision, threads, transcriber))

    rows: list[EngineRun] = []
    for label, engine, precision, n_threads, run in runs:
        timing, text = timed_call(run, audio, warmup=1, repeats=repeats, device=device)
        wer = error_rate(reference, text, language or "en") if reference else None
        speedup = rows[0].compute_s / timing.compute_s if rows else 1.0
        rows.append(EngineRun(label, engine, precision, n_threads, timing.compute_s, timing.rtf, speedup, wer, text))
    return rows


__all__ = ["EngineRun", "compare_inference_options", "faster_whisper_model", "faster_whisper_transcriber"]
