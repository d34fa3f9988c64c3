"""Shared test setup: tests marked `corpus` need the speech corpus; they skip without it, except in CI."""

import os
from pathlib import Path
from typing import Any

import pytest

from course_utils.corpus import full_corpus_available

CORPUS_MISSING = (
    "full speech corpus not found (only the packaged lesson data): set COURSE_SPEECH_DIR "
    "(default ../shared/data/speech)"
)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip `corpus` tests with only the packaged lesson data; in CI (CI=true) a missing corpus is a failure."""
    if item.get_closest_marker("corpus") and not full_corpus_available():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(CORPUS_MISSING, pytrace=False)
        pytest.skip(CORPUS_MISSING)


# The lesson notebook executed once per session with quick parameters: test_notebooks (figures, warnings,
# summary) and test_lesson_claims (the teaching claims) read the same run.
LESSON = Path(__file__).resolve().parents[1] / "notebooks" / "19_asr_with_whisper.ipynb"
LESSON_QUICK_PARAMETERS = {"QUICK": True, "MODEL": "tiny.en", "COMPARE_MODELS": ["tiny.en", "base"]}


@pytest.fixture(scope="session")
def lesson_run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The lesson executed headless (papermill, the package's runner) with LESSON_QUICK_PARAMETERS."""
    from course_utils.runner import run_notebook

    saved = os.environ.pop("MPLBACKEND", None)  # the notebook's own inline backend
    try:
        return run_notebook(LESSON, tmp_path_factory.mktemp("lesson"), LESSON_QUICK_PARAMETERS, html=False,
                            progress=False)
    finally:
        if saved is not None:
            os.environ["MPLBACKEND"] = saved


@pytest.fixture(scope="module")
def model():  # noqa: ANN201
    """tiny.en, loaded once per module; a loading error is a failure, never a skip (files may override it)."""
    from course_utils import load_model

    return load_model("tiny.en", device="cpu")


@pytest.fixture(scope="module")
def two_speakers():  # noqa: ANN201
    """JFK, 3 s of silence, then a LibriSpeech sentence: one window with a long pause between two speakers."""
    import numpy as np

    from course_utils.audio import SAMPLE_RATE
    from course_utils.corpus import load_clip

    first, ref1 = load_clip("jfk")
    second, ref2 = load_clip("librispeech-1089-134686-0000")
    pause = np.zeros(3 * SAMPLE_RATE, dtype=np.float32)
    return np.concatenate([first, pause, second]), f"{ref1} {ref2}"
