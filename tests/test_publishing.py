"""Publishing: the repository URL lives in pyproject.toml only; the README badge and the Colab cell agree with it.

Also the student entry points: make lab / make lesson / make test, and CI running the browser test.
"""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LESSON = ROOT / "notebooks" / "19_asr_with_whisper.ipynb"


def repository_url() -> str:
    """``[project.urls] Repository`` from pyproject.toml (read by hand: tomllib is Python 3.11+)."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    section = text.split("[project.urls]", 1)[1].split("\n[", 1)[0]
    match = re.search(r'^Repository\s*=\s*"(https://github\.com/([\w.-]+/[\w.-]+?))/?"', section, re.M)
    assert match, "pyproject.toml needs [project.urls] Repository = \"https://github.com/OWNER/NAME\""
    return match.group(1)


def test_readme_badge_and_colab_cell_use_the_repository_url():
    url = repository_url()
    slug = url.removeprefix("https://github.com/")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    badges = re.findall(r"colab\.research\.google\.com/github/([\w.-]+/[\w.-]+)/blob/", readme)
    assert badges and set(badges) == {slug}, f"README's Colab badge points at {badges}, pyproject at {slug}"
    cells = json.loads(LESSON.read_text(encoding="utf-8"))["cells"]
    installs = [line for cell in cells for line in cell["source"] if "pip install" in line]
    assert installs, "the lesson has no Colab install cell"
    for line in installs:
        found = re.findall(r"git\+(https://github\.com/[\w.-]+/[\w.-]+?)(?:\.git)?[\"'@ ]", line)
        assert found == [url], f"the Colab cell installs from {found}, pyproject says {url}: update the cell"


def test_students_get_three_commands_and_ci_runs_the_browser_test():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in ("lab", "lesson", "test", "test-browser"):
        assert re.search(rf"^{target}:", makefile, re.M), f"Makefile has no {target} target"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for command in ("make lab", "make lesson", "make test"):
        assert command in readme
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert ci.index("make test\n") < ci.index("make test-browser")
