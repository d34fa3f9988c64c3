"""The grader's helper process (grading/offload): work that needs torch runs there, errors come back typed."""

from __future__ import annotations

import pytest

from course_utils.grading.offload import run_offloaded


def test_an_error_in_the_helper_is_raised_again_with_its_type_and_message(tmp_path):
    with pytest.raises(FileNotFoundError, match="not available offline"):
        run_offloaded("stage_models", {"names": ["no-such-model"], "dest": str(tmp_path / "models")})


def test_only_the_known_tasks_run():
    with pytest.raises(ValueError, match="unknown offloaded task"):
        run_offloaded("os.system", {"command": "true"})
