"""The CPU dry run of the GPU check (``make test-gpu-bundle``): same script, offline, from a copy, bundle only.

1. builds the bundle for this interpreter (``gpu_bundle.py --local``);
2. makes a fresh virtual environment with only torch (``--torch``, the Makefile's TORCH_SPEC) plus a stand-in
   for the GPU machine's own packages (numpy, pandas, matplotlib, ... at the project venv's versions; reused
   between runs when unchanged);
3. copies what a device call sends (tracked and untracked-not-ignored files, no ../shared) into a temporary
   folder, with the bundle as ``.gpu``;
4. runs ``scripts/gpu_check.sh`` there with DEVICE=cpu QUICK=True and its offline guard: no registry, no proxy,
   no corpus, no file outside the copy (``gpu_guard.py``); fails unless every step passes and $OUT holds ≤ 8 files.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_OUT_FILES = 8


def run(*command: str | Path, **kwargs) -> subprocess.CompletedProcess:
    """Run a command, echoing it; raise on failure."""
    print("+", " ".join(str(c) for c in command), flush=True)
    return subprocess.run([str(c) for c in command], check=True, **kwargs)


def stand_in_venv(folder: Path, torch_spec: str, image_requirements: Path) -> Path:
    """A venv with torch and the GPU machine's packages the check uses (cached by what went into it)."""
    freeze = subprocess.run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"], check=True,
                            capture_output=True, text=True).stdout
    key = hashlib.sha256(f"{torch_spec}\n{image_requirements.read_text()}\n{freeze}".encode()).hexdigest()[:16]
    python = folder / "bin" / "python"
    stamp = folder / f".stand-in-{key}"
    if stamp.is_file() and python.is_file():
        return python
    shutil.rmtree(folder, ignore_errors=True)
    run(getattr(sys, "_base_executable", sys.executable), "-m", "venv", folder)
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    run(*pip, torch_spec)
    constraints = folder / "constraints.txt"  # the project venv's versions, so the stand-in matches what CI tests
    constraints.write_text("".join(line + "\n" for line in freeze.splitlines() if not line.startswith("torch==")))
    run(*pip, "-c", constraints, "-r", image_requirements)
    stamp.touch()
    return python


def copy_tree(dest: Path) -> None:
    """Copy what a device call sends: tracked and untracked-not-ignored files of the working tree."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            check=True, capture_output=True).stdout.split(b"\0")
    for name in filter(None, listed):
        src = ROOT / os.fsdecode(name)
        if src.is_file():
            (dest / os.fsdecode(name)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / os.fsdecode(name))


def main(argv: list[str] | None = None) -> int:
    """Build, install, copy, run; print the time each part took."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torch", default="torch", help="pip requirement for torch (the Makefile's TORCH_SPEC)")
    parser.add_argument("--bundle", type=Path, default=ROOT / "build" / "gpu-local")
    parser.add_argument("--venv", type=Path, default=ROOT / "build" / "gpu-dryrun-venv")
    parser.add_argument("--budget-s", type=int, default=900, help="time for the check's steps on this CPU")
    parser.add_argument("--cap-scale", type=int, default=3, help="each step's GPU time cap times this on CPU")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy (its path is printed)")
    args = parser.parse_args(argv)
    times = {}
    start = time.monotonic()
    run(sys.executable, ROOT / "scripts" / "gpu_bundle.py", "--local", "--out", args.bundle)
    times["bundle"] = time.monotonic() - start
    start = time.monotonic()
    python = stand_in_venv(args.venv.resolve(), args.torch, args.bundle / "image-requirements.txt")
    times["venv"] = time.monotonic() - start
    tmp = Path(tempfile.mkdtemp(prefix="gpu-dryrun-"))
    try:
        start = time.monotonic()
        repo, out = tmp / "repo", tmp / "out"
        copy_tree(repo)
        shutil.copytree(args.bundle, repo / ".gpu")
        times["copy"] = time.monotonic() - start
        start = time.monotonic()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "COURSE_", "VIRTUAL_ENV"))}
        env.update(PYTHON=str(python), DEVICE="cpu", QUICK="True", GPU_CHECK_GUARD="1", OUT=str(out),
                   GPU_CHECK_BUDGET_S=str(args.budget_s), GPU_CHECK_CAP_SCALE=str(args.cap_scale),
                   COURSE_SPEECH_DIR="")
        result = subprocess.run(["bash", str(repo / "scripts" / "gpu_check.sh")], cwd=repo, env=env, check=False)
        times["check"] = time.monotonic() - start
        files = sorted(p.name for p in out.rglob("*") if p.is_file())
        print(f"dry run: {' + '.join(f'{k} {v:.0f} s' for k, v in times.items())}; $OUT: {', '.join(files)}")
        if result.returncode != 0:
            print(f"gpu_check.sh failed (exit {result.returncode}); the log is above", file=sys.stderr)
            return 1
        if len(files) > MAX_OUT_FILES:
            print(f"$OUT holds {len(files)} files; a device call brings back {MAX_OUT_FILES}", file=sys.stderr)
            return 1
        return 0
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
