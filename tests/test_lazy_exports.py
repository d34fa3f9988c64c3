"""``import course_utils as cu`` is light and lazy: every re-exported name resolves on use, none imports torch early.

The grader's parent imports only light modules (tested in test_grading for its memory); here: the package itself,
``settings``, ``scoring`` and the grader's CLI import neither torch nor Whisper, and every name in ``__all__``
(what notebooks, solutions and tests use) still resolves to the object its submodule defines.
"""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

HEAVY = ("torch", "whisper", "matplotlib", "faster_whisper", "ctranslate2")


def _heavy_after(statement: str) -> list[str]:
    code = f"import sys\n{statement}\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.split()


@pytest.mark.parametrize("statement", [
    "import course_utils",
    "import course_utils.settings",
    "from course_utils.scoring import wer; assert wer('the cat sat', 'the cat sat') == 0",
    "import course_utils.grading.__main__, course_utils.grading.batch",
])  # fmt: skip
def test_light_imports_load_no_model_library(statement):
    assert _heavy_after(statement) == []


def test_every_public_name_resolves_to_its_submodule_object():
    import course_utils as cu

    missing = [name for name in cu.__all__ if not hasattr(cu, name)]
    assert not missing, missing
    for module, names in cu._EXPORTS.items():
        source = importlib.import_module(f"course_utils.{module}")
        assert all(getattr(cu, name) is getattr(source, name) for name in names), module
    assert set(cu.__all__) <= set(dir(cu))


def test_names_and_submodules_keep_working():
    import course_utils as cu
    import course_utils.quantize  # noqa: F401 (binding the submodule must not replace the function)

    assert callable(cu.quantize) and cu.quantize.__module__ == "course_utils.quantize"
    assert cu.plots.__name__ == "course_utils.plots"  # a submodule reached as an attribute
    from course_utils import grading, load_model

    assert callable(load_model) and grading.__name__ == "course_utils.grading"
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        cu.no_such_name  # noqa: B018
