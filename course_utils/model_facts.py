"""What we know about a model: its measured description, the published size table and the runtime it runs on.

Loading lives in ``models``; this module describes. ``describe_model`` counts a loaded model's parameters and
layers, ``model_size_table`` sets openai/whisper's published sizes beside WER measured here, ``runtime_info``
says which device, threads and library versions a measurement ran with.
"""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd
import torch
import whisper
from whisper.model import Whisper

from .decoding import default_device
from .models import loadable_models


@dataclass
class ModelDescription:
    """The numbers that characterise a loaded Whisper model."""

    name: str
    parameters_m: float
    encoder_layers: int
    decoder_layers: int
    width: int
    heads: int
    n_mels: int
    vocab_size: int
    multilingual: bool
    num_languages: int
    device: str
    source: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PublishedFacts:
    """What openai/whisper's README states for one size (parameters, VRAM, speed relative to large)."""

    size: str
    parameters_m: int
    english_only: str
    multilingual: str
    vram_gb: int
    relative_speed: str


PUBLISHED_SIZES: tuple[PublishedFacts, ...] = (
    PublishedFacts("tiny", 39, "tiny.en", "tiny", 1, "~10x"),
    PublishedFacts("base", 74, "base.en", "base", 1, "~7x"),
    PublishedFacts("small", 244, "small.en", "small", 2, "~4x"),
    PublishedFacts("medium", 769, "medium.en", "medium", 5, "~2x"),
    PublishedFacts("large", 1550, "N/A", "large", 10, "1x"),
    PublishedFacts("turbo", 809, "N/A", "turbo", 6, "~8x"),
)


def model_size_table(measured_wer: dict[str, float] | None = None,
                     measured_on: str = "corpus speech") -> pd.DataFrame:
    """The model-size table: published sizes and speeds, WER measured here where a model could be run.

    ``measured_wer`` maps a model name (``tiny.en``, ``base``) to a WER in percent on the audio named by
    ``measured_on`` (the column says which); sizes with no measurement say so instead of quoting a number this
    machine did not produce.
    """
    measured_wer = measured_wer or {}
    loadable = set(loadable_models(check_online=False))
    rows = []
    for facts in PUBLISHED_SIZES:
        names = [n for n in (facts.english_only, facts.multilingual) if n in measured_wer]
        wer_text = ", ".join(f"{n}: {measured_wer[n]:.1f} %" for n in names) or "not measured here"
        rows.append({
            "size": facts.size, "parameters (M, published)": facts.parameters_m,
            "English-only": facts.english_only, "multilingual": facts.multilingual,
            "VRAM (published)": f"~{facts.vram_gb} GB", "relative speed (published)": facts.relative_speed,
            f"WER (measured on {measured_on})": wer_text,
            "loadable here": ", ".join(n for n in (facts.english_only, facts.multilingual) if n in loadable) or "-",
        })
    return pd.DataFrame(rows)


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (``platform.processor()`` is often empty on Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_version(distribution: str) -> str:
    """The installed version of a distribution, or 'not installed' (optional comparison libraries)."""
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "not installed"


def runtime_info() -> dict[str, str]:
    """Device, GPU name, CPU and library versions: the first thing to print in a lesson or benchmark."""
    return {
        "device": default_device(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
        "cpu": cpu_model(),
        "cpu cores": str(os.cpu_count()),
        "torch threads": str(torch.get_num_threads()),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "openai-whisper": getattr(whisper, "__version__", "unknown"),
        "faster-whisper": package_version("faster-whisper"),
        "ctranslate2": package_version("ctranslate2"),
    }


def describe_model(model: Whisper) -> ModelDescription:
    """Parameters (millions; the encoder's sinusoidal positions are a buffer), layers, width, heads, vocabulary."""
    dims = model.dims
    return ModelDescription(
        name=getattr(model, "course_name", ""),
        parameters_m=round(sum(p.numel() for p in model.parameters()) / 1e6, 2),
        encoder_layers=dims.n_audio_layer,
        decoder_layers=dims.n_text_layer,
        width=dims.n_audio_state,
        heads=dims.n_audio_head,
        n_mels=dims.n_mels,
        vocab_size=dims.n_vocab,
        multilingual=model.is_multilingual,
        num_languages=model.num_languages,
        device=str(next(model.parameters()).device),
        source=getattr(model, "course_source", ""),
    )
