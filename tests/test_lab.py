"""make lab: the notebooks' `python3` kernel is this venv's python, even with another `python3` in the home folder."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ["notebooks/19_asr_with_whisper.ipynb", "notebooks/19_exercises.ipynb", "solutions/19_exercises.ipynb"]
RESOLVE = "from jupyter_client.kernelspec import KernelSpecManager as K; print(K().get_kernel_spec('python3').argv[0])"


def _make_variable(name: str) -> str:
    """The value of a simple `NAME := value` line in the Makefile."""
    return re.search(rf"^{name} :?= (.*)$", (ROOT / "Makefile").read_text(), re.M).group(1).strip()


def test_notebooks_ask_for_the_python3_kernel():
    for notebook in NOTEBOOKS:
        spec = json.loads((ROOT / notebook).read_text(encoding="utf-8"))["metadata"]["kernelspec"]
        assert spec["name"] == _make_variable("KERNEL_NAME") == "python3", notebook


def test_venv_kernel_wins_over_a_user_level_python3(tmp_path):
    """What `make kernel` + `make lab` do, with a user-level python3 kernel that points elsewhere."""
    subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3",
                    "--display-name", "Python 3 (ASR with Whisper, .venv)"], check=True, capture_output=True)
    user = tmp_path / "kernels" / "python3"
    user.mkdir(parents=True)
    other = ["/usr/bin/python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (user / "kernel.json").write_text(json.dumps({"argv": other, "display_name": "other", "language": "python"}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")} | {"JUPYTER_DATA_DIR": str(tmp_path)}
    user_first = dict(env, JUPYTER_PREFER_ENV_PATH="0")  # e.g. a venv Jupyter does not count as the user's own
    shadowed = subprocess.run([sys.executable, "-c", RESOLVE], env=user_first, capture_output=True, text=True,
                              check=True)  # fmt: skip
    assert shadowed.stdout.strip() == "/usr/bin/python3"  # the trap: the user-level python3 shadows the venv's
    lab_env = dict(user_first, **dict([_make_variable("LAB_ENV").split("=", 1)]))  # make lab's setting wins
    chosen = subprocess.run([sys.executable, "-c", RESOLVE], env=lab_env, capture_output=True, text=True, check=True)
    assert Path(chosen.stdout.strip()) == Path(sys.executable), "make lab's kernel is not this venv's python"
