"""The package's settings: the only module that reads environment variables.

Every other module asks a function here, so a setting has one name, one accepted set of values and one
default. Functions (not constants) so that a notebook or test that changes the environment is seen at once.
"""

from __future__ import annotations

import os
from pathlib import Path

CORPUS_ENV = "COURSE_SPEECH_DIR"  # folder with manifest.csv (default ../shared/data/speech)
CACHE_ENV = "COURSE_UTILS_CACHE"  # converted checkpoints, reassembled model directories, downloads
CT2_DIR_ENV = "COURSE_WHISPER_CT2_DIR"  # your own faster-whisper (CTranslate2) model directories
OFFLINE_ENV = "COURSE_UTILS_OFFLINE"  # "1" skips every download attempt
HEADLESS_ENV = "COURSE_HEADLESS"  # "1" when a notebook runs without a frontend (papermill, nbval, CI); "0" forces

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _flag(name: str) -> bool | None:
    """True/False for a yes/no variable, None when unset or empty; anything else is a clear ValueError."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return None
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{name}={os.environ[name]!r} is not a yes/no value; use 1 or 0 (or unset it)")


def headless_flag() -> bool | None:
    """``$COURSE_HEADLESS`` as True/False, or None when unset (then callers look at CI and the kernel)."""
    return _flag(HEADLESS_ENV)


def running_in_ci() -> bool:
    """True under a CI runner (``CI=true``), where no one can click a widget."""
    return bool(_flag("CI"))


def show_progress(verbose: bool = True) -> bool:
    """Progress bars only for a person watching: off when ``verbose=False`` or when running headless."""
    return verbose and not headless_flag()


def offline() -> bool:
    """True when ``$COURSE_UTILS_OFFLINE`` says never to try a download."""
    return bool(_flag(OFFLINE_ENV))


def corpus_setting() -> Path | None:
    """The corpus folder ``$COURSE_SPEECH_DIR`` names, or None when unset (the corpus module has defaults)."""
    value = os.environ.get(CORPUS_ENV, "").strip()
    return Path(value).expanduser() if value else None


def ct2_dir_setting() -> Path | None:
    """The folder of faster-whisper model directories ``$COURSE_WHISPER_CT2_DIR`` names, or None."""
    value = os.environ.get(CT2_DIR_ENV, "").strip()
    return Path(value).expanduser() if value else None


def user_cache_root() -> Path:
    """``$XDG_CACHE_HOME`` or ~/.cache: where openai-whisper and this package keep downloads."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser()


def cache_dir() -> Path:
    """Where converted checkpoints and downloads live: ``$COURSE_UTILS_CACHE``, else ~/.cache/course_utils."""
    return Path(os.environ.get(CACHE_ENV) or user_cache_root() / "course_utils").expanduser()
