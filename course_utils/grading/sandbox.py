"""Run one submission in its own locked-down child process and collect its raw outputs (never its scores).

Trusted side: ``prepare_sandbox`` stages, once per grading run (on this machine or once per Dask worker), what
every child may read (models, the public corpus, neutral copies of the Ex. 1 and 2 audio); ``run_submission``
starts one child (``supervisor``), follows it (``watch``) and returns a ``ChildOutputs``. The child gets no
language label, transcript or reference result: Ex. 1's accuracy function gets decoy labels, and the Ex. 3
files reach its folder only when ``measure_throughput`` is called.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import lockdown
from .channel import MessageReader, PlannedCall, Protocol
from .hidden import StagedInputs, export_public_corpus
from .offload import run_offloaded
from .records import ChildOutputs, Limits
from .watch import CappedText, drain, stop, watch

DECOY_LANGUAGES = ("de", "en", "es", "fr", "it", "ja", "ko", "pt", "zh")  # Ex. 1 clip labels: never the truth


@dataclass
class Sandbox:
    """The per-run staging area every child reads: inputs, models, public corpus; and how to drop privileges."""

    base: Path
    shared: Path
    staged: StagedInputs
    env: dict[str, str]
    read_paths: list[str]
    run_as_uid: bool  # root: a fresh uid per submission (else uid 0 without capabilities)
    expose: dict[str, list[str]] = field(default_factory=dict)  # closed folders to open in a mount namespace
    next_uid: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def allocate_uid(self) -> int | None:
        if not self.run_as_uid:
            return None
        with self.lock:
            self.next_uid += 1
            return self.next_uid


def _make_readable(path: Path) -> None:
    """Directories 0755 and files 0644, owned by the grader: children read, never modify."""
    for root, _, files in os.walk(path):
        os.chmod(root, 0o755)
        for name in files:
            os.chmod(os.path.join(root, name), 0o644)


def stage_models(names: list[str], dest: str | Path) -> dict[str, str]:
    """Copy the converted checkpoints and their CTranslate2 directories so an unprivileged child loads them.

    The child's ``COURSE_WHISPER_CT2_DIR`` points at ``dest/ct2`` and its cache's ``whisper`` folder at
    ``dest/whisper``, so ``load_model`` finds the converted file (named by the weights' SHA256) instead of
    converting again, and cannot change it. Models from openai-whisper's download cache go to ``dest/xdg``.
    """
    # local import: models pulls in torch and whisper; this runs in the grader's helper process (offload)
    from ..models import ct2_model_dir, official_names, prepare_offline_models, whisper_cache_path

    dest = Path(dest)
    (dest / "ct2").mkdir(parents=True, exist_ok=True)
    (dest / "whisper").mkdir(parents=True, exist_ok=True)
    (dest / "xdg" / "whisper").mkdir(parents=True, exist_ok=True)
    for name in dict.fromkeys(names):
        downloaded = whisper_cache_path(name) if name in official_names() else None
        if downloaded is not None and downloaded.is_file():
            shutil.copy2(downloaded, dest / "xdg" / "whisper" / downloaded.name)
            continue
        directory = ct2_model_dir(name)
        checkpoint = prepare_offline_models([name]).get(name)
        if directory is None or checkpoint is None:
            raise FileNotFoundError(
                f"grading model {name!r} is not available offline; run `make install` (or "
                f"`python -m course_utils prepare {name}`) on the grading machine first"
            )
        shutil.copytree(directory, dest / "ct2" / name, copy_function=shutil.copy2, dirs_exist_ok=True)
        for path in (checkpoint, checkpoint.with_suffix(".sha256")):
            shutil.copy2(path, dest / "whisper" / path.name)
    return {"COURSE_WHISPER_CT2_DIR": str(dest / "ct2"), "COURSE_UTILS_OFFLINE": "1"}


def _python_paths() -> list[str]:
    """Where the interpreter, its standard library and installed packages live (read + execute)."""
    import course_utils  # local import: the package's own folder; importing it at the top would be a cycle

    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    paths |= {p for p in sys.path if p and "site-packages" in p and os.path.isdir(p)}
    paths.add(str(Path(course_utils.__file__).resolve().parent))  # editable installs live in the repo
    return sorted(paths)


def prepare_sandbox(base: Path, staged: StagedInputs, models: list[str], exclude_ids: list[str] = (),
                    exclude_hashes: list[str] = (), public_corpus: bool = True) -> Sandbox:  # fmt: skip
    """Stage what children share under `base/shared` (read-only to them; `staged` already lies in
    `base/shared/inputs`) and pick the privilege mode. The public corpus leaves out the hidden clips."""
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o711)  # children reach their own folder, cannot list the others
    shared = base / "shared"
    env = run_offloaded("stage_models", {"names": list(models), "dest": str(shared / "models")})  # torch: not here
    if public_corpus and export_public_corpus(shared / "corpus", list(exclude_ids), list(exclude_hashes)):
        env["COURSE_SPEECH_DIR"] = str(shared / "corpus")
    with contextlib.suppress(ImportError, OSError):
        import matplotlib

        fonts = sorted(Path(matplotlib.get_cachedir()).glob("fontlist-*.json"))
        if fonts:
            (shared / "matplotlib").mkdir(exist_ok=True)
            shutil.copy2(fonts[-1], shared / "matplotlib" / fonts[-1].name)
    _make_readable(shared)
    python = _python_paths()
    closed = lockdown.blocked_ancestors([*python, str(shared)]) if os.geteuid() == 0 else None
    return Sandbox(
        base=base, shared=shared, staged=staged, env=env, read_paths=python, run_as_uid=closed is not None,
        expose=closed or {}, next_uid=random.SystemRandom().randrange(1 << 20, 1 << 30),  # no real account
    )  # fmt: skip


def staging_base() -> Path:
    """A new staging folder that a dropped uid can reach: under /var/tmp (not /tmp, where each child gets a
    private, writable tmpfs that must not hold the staging folder), else the system's temporary folder."""
    parent = Path("/var/tmp")
    usable = parent.is_dir() and os.access(parent, os.W_OK) and parent.stat().st_mode & 0o001
    return Path(tempfile.mkdtemp(prefix="course_grading_", dir=parent if usable else None))


def _child_env(sandbox: Sandbox, work: Path, threads: int) -> dict[str, str]:
    """A scrubbed environment: nothing from the grader's except what the child needs to run."""
    venv_bin = os.path.dirname(sys.executable)
    env = {
        "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin", "HOME": str(work), "TMPDIR": str(work / "tmp"),
        "USER": "student", "LOGNAME": "student", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
        "MPLBACKEND": "Agg", "MPLCONFIGDIR": str(work / ".config" / "matplotlib"),
        "XDG_CACHE_HOME": str(work / ".cache"), "COURSE_UTILS_CACHE": str(work / ".cache" / "course_utils"),
        "COURSE_HEADLESS": "1", "COURSE_UTILS_GRADING": "1", "TQDM_DISABLE": "1", "MALLOC_ARENA_MAX": "2",
        "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads),
    }  # fmt: skip
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
    return {**env, **sandbox.env}


def _make_workdir(sandbox: Sandbox, uid: int | None) -> Path:
    """A fresh private folder: cwd, HOME and TMPDIR of one child, owned by its uid."""
    work = sandbox.base / f"work-{secrets.token_hex(6)}"
    for sub in ("tmp", ".cache/course_utils", ".config/matplotlib", ".ipython/profile_default/startup"):
        (work / sub).mkdir(parents=True)
    (work / ".ipython/profile_default/startup/README").touch()  # else IPython copies it in, with a chmod
    (work / ".cache" / "course_utils" / "whisper").symlink_to(sandbox.shared / "models" / "whisper")
    (work / ".cache" / "whisper").symlink_to(sandbox.shared / "models" / "xdg" / "whisper")
    for font in (sandbox.shared / "matplotlib").glob("*.json"):
        shutil.copy(font, work / ".config" / "matplotlib" / font.name)
    if uid is not None:
        for root, dirs, files in os.walk(work):
            for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                os.lchown(name, uid, uid)
    os.chmod(work, 0o700)
    return work


def _policy(sandbox: Sandbox, work: Path, uid: int | None, limits: Limits, device: str) -> lockdown.Policy:
    system = ["/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc"]
    devices = ["/dev/null", "/dev/zero", "/dev/full"] + sorted(str(p) for p in Path("/dev").glob("nvidia*"))
    return lockdown.Policy(
        read=["/proc", "/sys", "/dev", str(sandbox.shared)],
        read_exec=system + sandbox.read_paths,
        write=[str(work)],  # + the private /tmp and /dev/shm, added by the supervisor once they are mounted
        devices=devices,
        memory_bytes=0 if device.startswith("cuda") else int(limits.memory_gb * (1 << 30)),
        file_bytes=limits.file_mb << 20,
        cpu_s=int(limits.wall_timeout_s * max(limits.threads, 1)) + 60,
        uid=uid,
    )


def exercise_plan(lid_items: int) -> list[PlannedCall]:
    """The calls the harness makes, in order (the batched Ex. 3 call only after the first one succeeded)."""
    return [*(PlannedCall("ex1", "detect_language", i) for i in range(lid_items)),
            PlannedCall("ex1", "language_detection_accuracy", 0), PlannedCall("ex2", "overlapping_transcription", 0),
            PlannedCall("ex3", "measure_throughput", 0),
            PlannedCall("ex3", "measure_throughput", 1, optional=True)]  # fmt: skip


def decoy_labels(count: int, seed: bytes) -> list[str]:
    """Labels for the Ex. 1 clips handed to language_detection_accuracy: drawn independently of the truth."""
    rng = random.Random(seed)
    return [rng.choice(DECOY_LANGUAGES) for _ in range(count)]


def _deliver_ex3(sandbox: Sandbox, work: Path, uid: int | None) -> Callable[[int], list[str]]:
    """A function that copies the Ex. 3 files into the child's folder (fresh copies per call) and names them."""

    def deliver(item: int) -> list[str]:
        folder = work / f"ex3-{item}-{secrets.token_hex(3)}"
        folder.mkdir()
        paths = []
        for name in sandbox.staged.throughput:
            shutil.copyfile(sandbox.staged.path(name), folder / name)
            paths.append(str(folder / name))
        for path in [folder, *map(Path, paths)]:
            os.chmod(path, 0o755 if path == folder else 0o644)
            if uid is not None:
                os.lchown(path, uid, uid)
        return paths

    return deliver


def run_submission(
    sandbox: Sandbox, cells: list[str], limits: Limits, *, model: str, lid_model: str, device: str,
    labels: list[str] | None = None,
) -> ChildOutputs:
    """Run one notebook's code cells and the exercise calls in a locked-down child; never raises for it."""
    uid = sandbox.allocate_uid()
    work = _make_workdir(sandbox, uid)
    staged = sandbox.staged
    labels = labels if labels is not None else decoy_labels(len(staged.lid), secrets.token_bytes(16))
    result_r, result_w = os.pipe()
    control_r, control_w = os.pipe()
    out_r, out_w = os.pipe()
    task = {
        "cells": cells, "model": model, "lid_model": lid_model, "device": device,
        "inputs": str(staged.folder), "lid": staged.lid, "labels": labels, "longform": staged.longform,
        "threads": limits.threads, "cell_timeout_s": limits.timeout_s, "call_timeout_s": limits.timeout_s,
        "chunk_s": staged.chunk_s, "overlap_s": staged.overlap_s, "batch_size": staged.batch_size,
    }  # fmt: skip
    spec = {"task": task, "result_fd": result_w, "control_fd": control_r, "workdir": str(work),
            "expose": sandbox.expose if uid is not None else {}, "keep": [str(sandbox.base), *sandbox.read_paths],
            "tmpfs_mb": limits.file_mb, "policy": _policy(sandbox, work, uid, limits, device).__dict__}  # fmt: skip
    spec_path = sandbox.base / f"spec-{work.name}.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    os.chmod(spec_path, 0o600)
    outputs = ChildOutputs(labels_given=list(labels))
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-B", "-u", "-m", "course_utils.grading.supervisor", str(spec_path)],
            cwd=work, env=_child_env(sandbox, work, limits.threads), stdin=subprocess.DEVNULL,
            stdout=out_w, stderr=out_w, pass_fds=(result_w, control_r), start_new_session=True,
        )  # fmt: skip
    finally:
        for fd in (result_w, control_r, out_w):
            os.close(fd)
    printed = CappedText(limits.output_bytes)
    printer = threading.Thread(target=drain, args=(out_r, printed), daemon=True)
    reader = MessageReader(result_r)
    printer.start()
    reader.start()
    try:
        watch(proc, reader, control_w, outputs, Protocol(len(cells), exercise_plan(len(staged.lid))), limits,
              started, _deliver_ex3(sandbox, work, uid))  # fmt: skip
    finally:
        if outputs.cells and not outputs.cells[-1].finished:  # the cell it died or hung in
            outputs.cells[-1].seconds = time.monotonic() - started - sum(c.seconds for c in outputs.cells)
        with contextlib.suppress(OSError):
            os.close(control_w)
        stop(proc)
        reader.stop()
        for thread in (printer, reader):
            thread.join(timeout=5)
        outputs.wall_s = time.monotonic() - started
        outputs.exit_code = proc.returncode
        outputs.output, outputs.output_bytes = printed.text(), printed.total
        shutil.rmtree(work, ignore_errors=True)
        spec_path.unlink(missing_ok=True)
    return outputs
