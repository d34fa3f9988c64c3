"""Helpers for the lesson "ASR with Whisper", laid out along the data's path.

audio → mel → model → text → metrics → plots: ``audio``/``corpus``/``mixes`` give 16 kHz speech, ``models``
loads Whisper (offline too), ``decoding`` holds the decode settings, ``longform`` transcribes long audio,
``timing``/``scoring``/``evaluation`` measure, ``plots``/``widgets`` show. Map: docs/architecture.md.
Every name a lesson, solution or test uses is re-exported here: ``import course_utils as cu``.
"""

from .audio import SAMPLE_RATE, duration_s, load_audio, synth_tone
from .corpus import (
    Clip,
    corpus_available,
    corpus_dir,
    get_clip,
    jfk,
    languages,
    list_clips,
    load_clip,
)
from .decoding import default_device, language_code, transcribe_options
from .demos import (
    LESSON_CLIP_IDS,
    NOISE_SNR_DB,
    ContinuousSpeech,
    continuous_speech,
    hard_english,
    wordless_inputs,
)
from .engines import EngineRun, compare_inference_options
from .evaluation import (
    ClipScore,
    Evaluation,
    ModelComparison,
    Throughput,
    compare_models,
    evaluate,
    measure_throughput,
    method_table,
)
from .findings import (
    engine_findings,
    hallucination_findings,
    hallucination_table,
    lesson_claims,
    long_audio_findings,
    model_findings,
    production_table,
    takeaways,
)
from .longform import (
    LongformResult,
    merge_overlapping,
    transcribe_batch,
    transcribe_chunked,
    transcribe_long,
    transcribe_overlapping,
    transcribe_vad,
)
from .mixes import LongForm, english_long_form, lj_passage, long_form, mixed_long_form
from .model_facts import describe_model, model_size_table, runtime_info
from .models import (
    ModelNotAvailableError,
    available_models,
    comparison_models,
    ct2_model_dir,
    load_model,
    loadable_models,
)
from .plots import (
    plot_boundary_loss,
    plot_chunk_timeline,
    plot_confusion_matrix,
    plot_method_comparison,
    plot_model_comparison,
    plot_precision_comparison,
    plot_rtf_vs_duration,
    plot_throughput,
    plot_waveform_and_mel,
    plot_word_timeline,
)
from .quantize import quantize
from .scoring import ErrorCounts, cer, corpus_cer, corpus_wer, error_rate, normalize_text, wer
from .timing import (
    CpuUse,
    SweepPoint,
    Timing,
    TranscriptionResult,
    cpu_contention,
    measure_rtf,
    rtf_sweep,
    sweep_table,
    timed_call,
    transcribe_and_measure,
    watch_cpu,
)
from .tts import speech_languages, synth_speech
from .widgets import audio_player, transcription_explorer

__version__ = "0.1.0"

__all__ = [
    "LESSON_CLIP_IDS", "NOISE_SNR_DB", "ContinuousSpeech", "continuous_speech", "hard_english", "wordless_inputs",
    "CpuUse", "watch_cpu", "cpu_contention", "engine_findings", "hallucination_findings", "hallucination_table",
    "lesson_claims",
    "long_audio_findings", "model_findings", "production_table", "takeaways",
    "SAMPLE_RATE", "duration_s", "load_audio", "speech_languages", "synth_speech", "synth_tone",
    "Clip", "LongForm", "corpus_available", "corpus_dir", "english_long_form", "get_clip", "jfk", "languages",
    "list_clips", "lj_passage", "load_clip", "long_form",
    "ModelNotAvailableError", "available_models", "ct2_model_dir", "default_device", "describe_model",
    "load_model", "loadable_models",
    "ClipScore", "ErrorCounts", "Evaluation", "SweepPoint", "Throughput", "Timing", "TranscriptionResult", "cer",
    "corpus_cer", "corpus_wer", "error_rate", "evaluate", "measure_rtf", "measure_throughput", "normalize_text",
    "rtf_sweep", "sweep_table", "transcribe_and_measure", "transcribe_options", "wer", "language_code",
    "plot_boundary_loss", "plot_chunk_timeline", "plot_confusion_matrix", "plot_method_comparison",
    "plot_model_comparison", "plot_precision_comparison", "plot_rtf_vs_duration", "plot_throughput",
    "plot_waveform_and_mel", "plot_word_timeline", "audio_player", "transcription_explorer",
    "EngineRun", "compare_inference_options", "LongformResult", "merge_overlapping", "transcribe_batch",
    "transcribe_chunked", "transcribe_overlapping", "transcribe_vad", "transcribe_long", "mixed_long_form",
    "ModelComparison", "compare_models",
    "method_table", "timed_call", "model_size_table", "runtime_info", "comparison_models",
    "quantize",
]
