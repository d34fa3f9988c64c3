"""Shared test setup: tests marked `corpus` need the speech corpus; they skip without it, except in CI."""

import os

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
