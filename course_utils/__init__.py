"""Helpers for the lesson "ASR with Whisper", laid out along the data's path.

audio → mel → model → text → metrics → plots: ``audio``/``corpus``/``mixes`` give 16 kHz speech, ``models``
loads Whisper (offline too), ``decoding`` holds the decode settings, ``longform`` transcribes long audio,
``timing``/``scoring``/``evaluation`` measure, ``plots``/``widgets`` show. Map: docs/architecture.md.
Every name a lesson, solution or test uses is re-exported here: ``import course_utils as cu``.

The re-exports are lazy (PEP 562): ``cu.load_model`` imports ``course_utils.models`` on first use, so code that
needs only a light module (the grader's parent, ``course_utils.settings``) never pays for torch and Whisper.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__version__ = "0.1.0"

# submodule → the public names it provides (each is imported on first access as ``course_utils.<name>``)
_EXPORTS: dict[str, tuple[str, ...]] = {
    "audio": ("SAMPLE_RATE", "duration_s", "load_audio", "synth_tone"),
    "corpus": ("Clip", "corpus_available", "corpus_dir", "get_clip", "jfk", "languages", "list_clips", "load_clip"),
    "decoding": ("default_device", "language_code", "transcribe_options"),
    "demos": ("LESSON_CLIP_IDS", "NOISE_SNR_DB", "ContinuousSpeech", "continuous_speech", "hard_english",
              "wordless_inputs"),
    "engines": ("EngineRun", "compare_inference_options"),
    "evaluation": ("ClipScore", "Evaluation", "ModelComparison", "Throughput", "compare_models", "evaluate",
                   "measure_throughput", "method_table"),
    "findings": ("engine_findings", "hallucination_findings", "hallucination_table", "lesson_claims",
                 "long_audio_findings", "model_findings", "production_table", "takeaways"),
    "longform": ("LongformResult", "merge_overlapping", "transcribe_batch", "transcribe_chunked", "transcribe_fast",
                 "transcribe_long", "transcribe_overlapping", "transcribe_vad"),
    "mixes": ("LongForm", "english_long_form", "lj_passage", "long_form", "mixed_long_form"),
    "model_facts": ("describe_model", "model_size_table", "runtime_info"),
    "models": ("ModelNotAvailableError", "available_models", "comparison_models", "ct2_model_dir", "load_model",
               "loadable_models"),
    "plots": ("plot_boundary_loss", "plot_chunk_timeline", "plot_confusion_matrix", "plot_method_comparison",
              "plot_model_comparison", "plot_precision_comparison", "plot_rtf_vs_duration", "plot_throughput",
              "plot_waveform_and_mel", "plot_word_timeline"),
    "quantize": ("quantize",),
    "scoring": ("ErrorCounts", "cer", "corpus_cer", "corpus_wer", "error_rate", "normalize_text", "wer"),
    "timing": ("CpuUse", "SweepPoint", "Timing", "TranscriptionResult", "cpu_contention", "measure_rtf",
               "rtf_sweep", "sweep_table", "timed_call", "transcribe_and_measure", "watch_cpu"),
    "tts": ("speech_languages", "synth_speech"),
    "widgets": ("audio_player", "transcription_explorer"),
}  # fmt: skip
_SOURCE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [name for names in _EXPORTS.values() for name in names]


class _Package(types.ModuleType):
    """This package's module object: an exported name wins over a submodule of the same name (``quantize``)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SOURCE and isinstance(value, types.ModuleType):
            return  # the import system binding course_utils.quantize (the module): cu.quantize stays the function
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    """A re-exported name (or a submodule such as ``cu.plots``), imported on first access and then kept."""
    module = _SOURCE.get(name)
    if module is None:
        if name.startswith("_"):
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"{__name__}.{name}":
                raise  # the submodule exists but one of its own imports is missing: say that
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """Module attributes plus every lazily re-exported name (for tab completion)."""
    return sorted({*globals(), *__all__})
