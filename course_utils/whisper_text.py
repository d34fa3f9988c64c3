"""Whisper's language table and text normalisers, read from openai-whisper's own files without importing torch.

``import whisper.normalizers`` first runs ``whisper/__init__.py``, which imports torch (about 200 MB and
seconds): too heavy for code that only scores text, such as the grader's parent process. When ``whisper`` is
already imported its modules are used as they are; otherwise the same source files (``tokenizer.py``,
``normalizers/``) are loaded under a private module name, so the text is normalised by exactly the same code.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

__all__ = ["LANGUAGES", "TO_LANGUAGE_CODE", "BasicTextNormalizer", "EnglishTextNormalizer", "whisper_module"]

PRIVATE_PREFIX = "_course_utils_whisper_"  # sys.modules name of a privately loaded whisper file


def _whisper_folder() -> Path:
    """The installed ``whisper`` package's folder (found without importing it)."""
    spec = importlib.util.find_spec("whisper")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("openai-whisper is not installed: pip install openai-whisper", name="whisper")
    return Path(next(iter(spec.submodule_search_locations)))


def whisper_module(name: str) -> ModuleType:
    """``whisper.<name>`` ('tokenizer' or 'normalizers'): the real one if whisper is imported, else a private copy."""
    if "whisper" in sys.modules:
        return importlib.import_module(f"whisper.{name}")
    private = PRIVATE_PREFIX + name
    if private in sys.modules:
        return sys.modules[private]
    folder = _whisper_folder()
    package = (folder / name).is_dir()
    path = folder / name / "__init__.py" if package else folder / f"{name}.py"
    spec = importlib.util.spec_from_file_location(
        private, path, submodule_search_locations=[str(folder / name)] if package else None
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[private] = module  # before running it: the package's relative imports look it up
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(private, None)
        raise
    return module


_tokenizer = whisper_module("tokenizer")
_normalizers = whisper_module("normalizers")

LANGUAGES: dict[str, str] = _tokenizer.LANGUAGES
TO_LANGUAGE_CODE: dict[str, str] = _tokenizer.TO_LANGUAGE_CODE
BasicTextNormalizer = _normalizers.BasicTextNormalizer
EnglishTextNormalizer = _normalizers.EnglishTextNormalizer
