"""The parent's own answers on the hidden inputs, computed once per hidden set and cached by content hash.

Submissions are compared with these: Ex. 1 with the reference language detection, Ex. 2 with
``longform.transcribe_overlapping`` and the naive ``longform.transcribe_chunked`` (WER from ``scoring.wer``),
Ex. 3 with one ``model.transcribe`` per file (the WER a real transcription reaches). No timing is kept: a
reference timed on a busy machine would cost honest students points (Ex. 3 is checked against the clock around
the student's own call instead). Only numbers are cached, never the hidden transcripts. The models run in
the grader's helper process (``offload``), so the parent never imports torch or Whisper.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .hidden import Answers, StagedInputs, staged_audio
from .offload import run_offloaded

CACHE_VERSION = 2


@dataclass
class References:
    """What the reference implementations score on one hidden set (numbers only)."""

    key: str  # staged-input fingerprint + answers + models + device: a cache entry is valid only for the same key
    lid_predictions: list[str]
    lid_accuracy: float
    overlap_wer: float
    naive_wer: float
    reference_words: int  # words in the normalised Ex. 2 reference (sets the WER margin)
    throughput_wer: float  # WER of one model.transcribe per Ex. 3 file against their transcripts
    throughput_words: int  # words in the normalised Ex. 3 transcripts
    audio_minutes: float  # exact length of the Ex. 3 files

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def detect_language(model: Any, audio: np.ndarray) -> tuple[str, float]:
    """Reference for Ex. 1: Whisper's language head on the first 30 s; (ISO code, probability)."""
    import whisper

    mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(audio), model.dims.n_mels).to(model.device)
    _, probabilities = model.detect_language(mel)
    code = max(probabilities, key=probabilities.get)
    return code, float(probabilities[code])


def reference_key(staged: StagedInputs, answers: Answers, model: str, lid_model: str, device: str) -> str:
    return f"v{CACHE_VERSION}:{staged.fingerprint()}:{answers.fingerprint()}:{model}:{lid_model}:{device}"


def compute_references(staged: StagedInputs, answers: Answers, model_name: str, lid_model_name: str, device: str
                       ) -> References:  # fmt: skip
    """Run the reference implementations on exactly the audio the children get (a few seconds to a minute)."""
    # models and decoding pull in torch and whisper: imported here so the child's supervisor starts light
    from ..decoding import transcribe_options  # local import: torch/whisper, see above
    from ..longform import transcribe_chunked, transcribe_overlapping  # local import: torch/whisper, see above
    from ..models import load_model  # local import: torch/whisper, see above
    from ..scoring import normalize_text, wer  # local import: torch/whisper, see above

    lid_model = load_model(lid_model_name, device)
    predictions = [detect_language(lid_model, staged_audio(staged, name))[0] for name in staged.lid]
    accuracy = float(np.mean([p == t for p, t in zip(predictions, answers.languages, strict=True)]))
    del lid_model
    model = load_model(model_name, device)
    recording = staged_audio(staged, staged.longform)
    overlapped = transcribe_overlapping(model, recording, staged.chunk_s, staged.overlap_s, verbose=False).text
    naive = transcribe_chunked(model, recording, staged.chunk_s, verbose=False).text
    files = [staged_audio(staged, name) for name in staged.throughput]
    transcripts = [model.transcribe(audio, **transcribe_options(model))["text"] for audio in files]
    truth = " ".join(answers.throughput)
    return References(
        key=reference_key(staged, answers, model_name, lid_model_name, device),
        lid_predictions=predictions,
        lid_accuracy=accuracy,
        overlap_wer=wer(answers.longform, overlapped),
        naive_wer=wer(answers.longform, naive),
        reference_words=len(normalize_text(answers.longform).split()),
        throughput_wer=wer(truth, " ".join(transcripts)),
        throughput_words=len(normalize_text(truth).split()),
        audio_minutes=sum(len(audio) for audio in files) / 16000 / 60,
    )


def references_task(staged: dict, answers: dict, model: str, lid_model: str, device: str) -> dict[str, Any]:
    """``compute_references`` on plain JSON data: what the grader's helper process runs (``offload``)."""
    return compute_references(StagedInputs.from_json(staged), Answers(**answers), model, lid_model, device).to_dict()


def cached_references(cache: Path | None, staged: StagedInputs, answers: Answers, model: str, lid_model: str,
                      device: str) -> References:  # fmt: skip
    """References from `cache` when its key matches these inputs, answers and models, else computed (in a helper
    process: the parent never loads a model) and saved."""
    key = reference_key(staged, answers, model, lid_model, device)
    if cache is not None and cache.is_file():
        try:
            stored = References(**json.loads(cache.read_text(encoding="utf-8")))
            if stored.key == key:
                return stored
        except (TypeError, ValueError):
            pass  # an old or broken cache is simply recomputed
    arguments = {"staged": staged.to_json(), "answers": asdict(answers), "model": model, "lid_model": lid_model,
                 "device": device}  # fmt: skip
    references = References(**run_offloaded("references", arguments))  # models load there, not in the parent
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        temporary = cache.with_name(cache.name + ".tmp")
        temporary.write_text(json.dumps(references.to_dict(), indent=1), encoding="utf-8")
        temporary.replace(cache)
    return references
