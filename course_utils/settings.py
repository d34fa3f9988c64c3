"""The package's settings, all from environment variables, in one place."""

from __future__ import annotations

import os
from pathlib import Path

CORPUS_ENV = "COURSE_SPEECH_DIR"  # folder with manifest.csv (default ../shared/data/speech)
CACHE_ENV = "COURSE_UTILS_CACHE"  # converted checkpoints, reassembled model directories, downloads
CT2_DIR_ENV = "COURSE_WHISPER_CT2_DIR"  # your own faster-whisper (CTranslate2) model directories
OFFLINE_ENV = "COURSE_UTILS_OFFLINE"  # "1" skips every download attempt
HEADLESS_ENV = "COURSE_HEADLESS"  # "1" when a notebook runs without a frontend (papermill, nbval, CI)


def show_progress(verbose: bool = True) -> bool:
    """Progress bars only for a person watching: off when ``verbose=False`` or when running headless."""
    return verbose and os.getenv(HEADLESS_ENV, "") != "1"


def cache_dir() -> Path:
    """Where converted checkpoints and downloads live: ``$COURSE_UTILS_CACHE``, else ~/.cache/course_utils."""
    default = Path(os.getenv("XDG_CACHE_HOME") or Path.home() / ".cache") / "course_utils"
    return Path(os.getenv(CACHE_ENV) or default).expanduser()
