"""How every caller decodes: Whisper's decode defaults, language codes and devices, in one place.

``transcribe_options`` is the single source of decode settings (greedy, fp16 only on CUDA, quiet) so that the
lesson, the long-form strategies, the measurements, the bench and the grader all decode the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .whisper_text import LANGUAGES, TO_LANGUAGE_CODE

if TYPE_CHECKING:
    import torch


def default_device() -> str:
    """``"cuda"`` when a GPU is usable, else ``"cpu"``: every helper falls back to CPU by itself."""
    import torch  # local import: torch costs ~200 MB; language_code and the scorers must not need it

    return "cuda" if torch.cuda.is_available() else "cpu"


def device_of(model: Any) -> torch.device:
    """The torch device a Whisper model (or a fake with a ``device`` attribute) runs on; CPU when unknown."""
    import torch  # local import: see default_device

    device = getattr(model, "device", None)
    if device is None and hasattr(model, "parameters"):
        device = next(iter(model.parameters()), torch.empty(0)).device
    return torch.device(device if device is not None else "cpu")


def model_name(model: Any) -> str:
    """The name ``load_model`` attached to the model, for results and error messages."""
    return str(getattr(model, "course_name", "") or type(model).__name__)


def language_code(language: str) -> str:
    """Whisper's code for a language code or name ('en', 'English', 'en-US' → 'en'); ValueError if unknown."""
    if not isinstance(language, str) or not language.strip():
        raise ValueError(f"language must be a code such as 'en' or 'de', got {language!r}")
    key = language.strip().lower()
    if key in LANGUAGES:
        return key
    if key in TO_LANGUAGE_CODE:
        return TO_LANGUAGE_CODE[key]
    base = key.replace("_", "-").split("-")[0]
    if base in LANGUAGES:
        return base
    raise ValueError(
        f"unknown language {language!r}; use one of Whisper's codes such as 'en', 'de', 'zh' "
        "(see whisper.tokenizer.LANGUAGES)"
    )


def transcribe_options(model: Any, **overrides: Any) -> dict[str, Any]:
    """Keyword arguments for ``model.transcribe`` that every caller uses: one place for decode defaults.

    Defaults: ``fp16`` only when the model is on CUDA (no "FP16 is not supported on CPU" warning),
    ``temperature=0.0`` (greedy, no fallback), ``condition_on_previous_text=True`` (Whisper's default),
    ``language=None`` (detected; English-only models always use 'en') and ``verbose=None`` (no printing).
    ``overrides`` win. ``verbose`` and ``condition_on_previous_text`` belong to ``transcribe``, not to
    ``whisper.DecodingOptions``. A non-English ``language`` for an English-only model is a ValueError.
    """
    options: dict[str, Any] = {
        "fp16": device_of(model).type == "cuda",
        "temperature": 0.0,
        "condition_on_previous_text": True,
        "language": None,
        "verbose": None,
    }
    options.update(overrides)
    language = options["language"]
    if (
        language is not None
        and not getattr(model, "is_multilingual", True)
        and language_code(language) != "en"
    ):
        raise ValueError(
            f"{model_name(model)} is an English-only model but language={language!r} was requested; "
            "load a multilingual model such as 'base' for other languages"
        )
    return options
