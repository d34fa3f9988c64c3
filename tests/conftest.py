"""Shared test setup: tests marked `corpus` need the speech corpus; they skip without it, except in CI."""

import os

import pytest

from course_utils.data import corpus_available

CORPUS_MISSING = "speech corpus not found: set COURSE_SPEECH_DIR (default ../shared/data/speech)"


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip `corpus` tests when the corpus is absent; in CI (CI=true) a missing corpus is a failure."""
    if item.get_closest_marker("corpus") and not corpus_available():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(CORPUS_MISSING, pytrace=False)
        pytest.skip(CORPUS_MISSING)
