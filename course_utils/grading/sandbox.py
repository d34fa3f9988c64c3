"""Run one submission in its own locked-down child process and collect its raw outputs (never its scores).

Parent side: ``prepare_sandbox`` stages, once per grading run, what every child may read (models, the public
corpus, neutral copies of the hidden audio); ``run_submission`` starts one child, watches its timeouts,
caps its output, answers its label request and returns a ``ChildOutputs``.

Child side (``python -I -m course_utils.grading.sandbox SPEC``): a supervisor that becomes a subreaper and
forks the worker; the worker locks itself down (``lockdown``) and runs ``harness``. When the worker ends or
the parent says stop (SIGTERM), the supervisor kills every process the submission left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import random
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import lockdown
from .hidden import HiddenSet, StagedInputs, export_public_corpus, stage_inputs

GRACE_S = 10.0  # after a soft timeout, how long the child has to recover before it is killed
MAX_LINE_BYTES = 2 << 20  # longest result message the parent accepts


@dataclass
class Limits:
    """Per-submission limits; `timeout_s` is per cell and per exercise call, `wall_timeout_s` in total."""

    timeout_s: float = 300.0
    wall_timeout_s: float = 1800.0
    memory_gb: float = 4.0  # address space (RLIMIT_AS); 0 = none (needed on CUDA)
    output_bytes: int = 200_000  # printed output kept per submission (head and tail)
    file_mb: int = 512
    threads: int = 1


@dataclass
class CellRecord:
    """One notebook code cell as the child reported it; `seconds` is measured by the parent."""

    index: int
    seconds: float = 0.0
    error: str = ""
    message: str = ""
    traceback: str = ""
    finished: bool = False


@dataclass
class CallRecord:
    """One exercise call: the raw return value or error, and the parent's own timing of it."""

    exercise: str
    function: str
    item: int
    value: Any = None
    error: str = ""
    message: str = ""
    traceback: str = ""
    seconds: float | None = None  # parent clock from call_start to call_end; None if not started
    finished: bool = False


@dataclass
class ChildOutputs:
    """Everything one child produced: how it ended, cell errors, call results, capped output."""

    ended: str = "finished"  # finished | timeout | crashed | fatal | invalid
    detail: str = ""
    cells: list[CellRecord] = field(default_factory=list)
    calls: list[CallRecord] = field(default_factory=list)
    output: str = ""
    output_bytes: int = 0
    isolation: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    exit_code: int | None = None
    bad_messages: int = 0

    def call(self, function: str, item: int = 0) -> CallRecord | None:
        return next((c for c in self.calls if c.function == function and c.item == item), None)


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


def _stage_models(names: list[str], dest: Path) -> dict[str, str]:
    """Copy the converted checkpoints and their CTranslate2 directories so an unprivileged child loads them.

    The child's ``COURSE_WHISPER_CT2_DIR`` points at ``dest/ct2`` and its cache's ``whisper`` folder at
    ``dest/whisper``, so ``load_model`` finds the converted file (named by the weights' SHA256) instead of
    converting again, and cannot change it. Models from openai-whisper's download cache go to ``dest/xdg``.
    """
    import whisper

    from ..models import ct2_model_dir, prepare_offline_models, whisper_download_root

    (dest / "ct2").mkdir(parents=True, exist_ok=True)
    (dest / "whisper").mkdir(parents=True, exist_ok=True)
    (dest / "xdg" / "whisper").mkdir(parents=True, exist_ok=True)
    for name in dict.fromkeys(names):
        downloaded = whisper_download_root() / os.path.basename(whisper._MODELS.get(name, "/none"))
        if downloaded.is_file():
            shutil.copy2(downloaded, dest / "xdg" / "whisper" / downloaded.name)
            continue
        directory = ct2_model_dir(name)
        checkpoint = prepare_offline_models([name]).get(name)
        if directory is None or checkpoint is None:
            raise FileNotFoundError(
                f"grading model {name!r} is not available offline; run `make install` (or "
                f"`python -m course_utils.models prepare {name}`) on the grading machine first"
            )
        shutil.copytree(directory, dest / "ct2" / name, copy_function=shutil.copy2, dirs_exist_ok=True)
        for path in (checkpoint, checkpoint.with_suffix(".sha256")):
            shutil.copy2(path, dest / "whisper" / path.name)
    return {"COURSE_WHISPER_CT2_DIR": str(dest / "ct2"), "COURSE_UTILS_OFFLINE": "1"}


def _python_paths() -> list[str]:
    """Where the interpreter, its standard library and installed packages live (read + execute)."""
    import course_utils

    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    paths |= {p for p in sys.path if p and "site-packages" in p and os.path.isdir(p)}
    paths.add(str(Path(course_utils.__file__).resolve().parent))  # editable installs live in the repo
    return sorted(paths)


def prepare_sandbox(base: Path, hidden: HiddenSet, models: list[str], public_corpus: bool = True) -> Sandbox:
    """Stage everything children share under `base/shared` (read-only to them) and pick the privilege mode."""
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o711)  # children reach their own folder, cannot list the others
    shared = base / "shared"
    if shared.exists():
        shutil.rmtree(shared)
    staged = stage_inputs(hidden, shared / "inputs")
    env = _stage_models(models, shared / "models")
    if public_corpus and export_public_corpus(shared / "corpus", hidden) is not None:
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
        write=[str(work), "/dev/shm"],  # /dev/shm: POSIX semaphores for multiprocessing
        devices=devices,
        memory_bytes=0 if device.startswith("cuda") else int(limits.memory_gb * (1 << 30)),
        file_bytes=limits.file_mb << 20,
        cpu_s=int(limits.wall_timeout_s * max(limits.threads, 1)) + 60,
        uid=uid,
    )


class _CappedText:
    """Keeps the first and last bytes of a stream and counts the rest (a 100 MB print costs nothing)."""

    def __init__(self, limit: int) -> None:
        self.head_limit, self.tail_limit = limit * 3 // 4, limit // 4
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail = (self.tail + data)[-self.tail_limit :]

    def text(self) -> str:
        kept = len(self.head) + len(self.tail)
        middle = f"\n[... {self.total - kept} bytes of output cut ...]\n" if self.total > kept else ""
        return self.head.decode(errors="replace") + middle + bytes(self.tail).decode(errors="replace")


def _drain(fd: int, sink: _CappedText) -> None:
    with contextlib.suppress(OSError):
        while chunk := os.read(fd, 1 << 16):
            sink.feed(chunk)
    os.close(fd)


def _read_messages(fd: int, out: queue.Queue) -> None:
    """Parse JSON lines into (parent time, message); oversize or broken lines become a 'bad' marker."""
    buffer, skipping = bytearray(), False
    with contextlib.suppress(OSError):
        while chunk := os.read(fd, 1 << 16):
            buffer += chunk
            while (end := buffer.find(b"\n")) >= 0:
                line, buffer = bytes(buffer[:end]), buffer[end + 1 :]
                if skipping:
                    skipping = False
                    continue
                try:
                    message = json.loads(line)
                    ok = isinstance(message, dict) and isinstance(message.get("kind"), str)
                except ValueError:
                    ok = False
                out.put((time.monotonic(), message if ok else {"kind": "bad"}))
            if len(buffer) > MAX_LINE_BYTES:
                buffer.clear()
                skipping = True
                out.put((time.monotonic(), {"kind": "bad"}))
    os.close(fd)
    out.put((time.monotonic(), None))


def run_submission(
    sandbox: Sandbox, cells: list[str], limits: Limits, *, model: str, lid_model: str, device: str
) -> ChildOutputs:
    """Run one notebook's code cells and the exercise calls in a locked-down child; never raises for it."""
    uid = sandbox.allocate_uid()
    work = _make_workdir(sandbox, uid)
    staged = sandbox.staged
    result_r, result_w = os.pipe()
    control_r, control_w = os.pipe()
    out_r, out_w = os.pipe()
    task = {
        "cells": cells, "model": model, "lid_model": lid_model, "device": device,
        "inputs": str(staged.folder), "lid": staged.lid, "longform": staged.longform,
        "throughput": staged.throughput, "threads": limits.threads,
        "cell_timeout_s": limits.timeout_s, "call_timeout_s": limits.timeout_s,
        "chunk_s": staged.chunk_s, "overlap_s": staged.overlap_s, "batch_size": staged.batch_size,
    }  # fmt: skip
    spec = {"task": task, "result_fd": result_w, "control_fd": control_r, "workdir": str(work),
            "expose": sandbox.expose if uid is not None else {},
            "policy": _policy(sandbox, work, uid, limits, device).__dict__}  # fmt: skip
    spec_path = sandbox.base / f"spec-{work.name}.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    os.chmod(spec_path, 0o600)
    outputs = ChildOutputs()
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-B", "-u", "-m", "course_utils.grading.sandbox", str(spec_path)],
            cwd=work, env=_child_env(sandbox, work, limits.threads), stdin=subprocess.DEVNULL,
            stdout=out_w, stderr=out_w, pass_fds=(result_w, control_r), start_new_session=True,
        )  # fmt: skip
    finally:
        for fd in (result_w, control_r, out_w):
            os.close(fd)
    printed = _CappedText(limits.output_bytes)
    messages: queue.Queue = queue.Queue()
    readers = [threading.Thread(target=_drain, args=(out_r, printed), daemon=True),
               threading.Thread(target=_read_messages, args=(result_r, messages), daemon=True)]  # fmt: skip
    for reader in readers:
        reader.start()
    try:
        _watch(proc, messages, control_w, outputs, staged, limits, started)
    finally:
        if outputs.cells and not outputs.cells[-1].finished:  # the cell it died or hung in
            outputs.cells[-1].seconds = time.monotonic() - started - sum(c.seconds for c in outputs.cells)
        with contextlib.suppress(OSError):
            os.close(control_w)
        _stop(proc)
        for reader in readers:
            reader.join(timeout=5)
        outputs.wall_s = time.monotonic() - started
        outputs.exit_code = proc.returncode
        outputs.output, outputs.output_bytes = printed.text(), printed.total
        shutil.rmtree(work, ignore_errors=True)
        spec_path.unlink(missing_ok=True)
    return outputs


def _watch(proc: subprocess.Popen, messages: queue.Queue, control_w: int, outputs: ChildOutputs,
           staged: StagedInputs, limits: Limits, started: float) -> None:  # fmt: skip
    """Follow the child's messages until it exits; enforce hard timeouts; release labels when due."""
    wall_deadline = started + limits.wall_timeout_s
    deadline, doing = wall_deadline, "starting up"
    call_started: dict[tuple[str, int], float] = {}
    eof = labels_sent = False
    cell_started, exited_at = started, 0.0
    while True:
        try:
            now, message = messages.get(timeout=0.2)
        except queue.Empty:
            now, message = time.monotonic(), {"kind": "tick"}
        if message is None:
            eof = True
        else:
            kind = message["kind"]
            if kind == "ready":
                outputs.isolation = [str(x) for x in message.get("isolation", [])][:10]
            elif kind == "cell_start":
                index = _int(message.get("index"))
                outputs.cells.append(CellRecord(index))
                cell_started = now
                deadline = min(wall_deadline, now + limits.timeout_s + GRACE_S)
                doing = f"code cell {index + 1}"
            elif kind == "cell_end" and outputs.cells and not outputs.cells[-1].finished:
                cell = outputs.cells[-1]
                cell.seconds, cell.finished = now - cell_started, True
                cell.error, cell.message, cell.traceback = _text(message, "error", 100), _text(message, "message"), \
                    _text(message, "traceback", 4000)  # fmt: skip
                deadline, doing = wall_deadline, "between cells"
            elif kind == "call_start":
                key = (_text(message, "function", 100), _int(message.get("item")))
                call_started.setdefault(key, now)
                deadline = min(wall_deadline, now + limits.timeout_s + GRACE_S)
                doing = f"{key[0]}() on hidden input {key[1] + 1}"
            elif kind == "call_end":
                key = (_text(message, "function", 100), _int(message.get("item")))
                if not outputs.call(*key):  # the first answer counts; later (forged) ones are ignored
                    begun = call_started.get(key)
                    outputs.calls.append(CallRecord(
                        exercise=_text(message, "exercise", 10), function=key[0], item=key[1],
                        value=message.get("value"), error=_text(message, "error", 100),
                        message=_text(message, "message"), traceback=_text(message, "traceback", 4000),
                        seconds=None if begun is None else now - begun, finished=True,
                    ))  # fmt: skip
                deadline, doing = wall_deadline, "between exercise calls"
            elif kind == "need_labels" and not labels_sent:
                answered = sum(1 for c in outputs.calls if c.function == "detect_language")
                if answered >= len(staged.lid):
                    with contextlib.suppress(OSError):
                        os.write(control_w, (json.dumps(staged.languages) + "\n").encode())
                    labels_sent = True
            elif kind == "fatal":
                outputs.ended = "fatal"
                outputs.detail = f"{_text(message, 'stage')}: {_text(message, 'error')}: {_text(message, 'message')}"
            elif kind == "done":
                outputs.ended = "finished" if outputs.ended != "fatal" else outputs.ended
                doing = "done"
            elif kind == "bad":
                outputs.bad_messages += 1
        if eof and proc.poll() is not None:
            break
        if outputs.bad_messages > 1000 or len(outputs.cells) > 10_000 or len(outputs.calls) > 1000:
            outputs.ended, outputs.detail = "crashed", "the notebook flooded the grader's result channel"
            return
        if time.monotonic() > deadline:
            what = "the whole submission" if deadline == wall_deadline else doing
            limit = limits.wall_timeout_s if deadline == wall_deadline else limits.timeout_s
            outputs.ended = "timeout"
            outputs.detail = f"{what} ran longer than {limit:g} s and was stopped"
            return
        if proc.poll() is not None and not eof:
            exited_at = exited_at or time.monotonic()
            if time.monotonic() - exited_at > 5:
                break  # exited, yet something still holds the result pipe open: stop waiting for it
    if proc.returncode != 0 and outputs.ended == "finished" and doing != "done":
        outputs.ended = "crashed"
        outputs.detail = f"the notebook process died during {doing} ({_exit_text(proc.returncode)})"
    elif doing != "done" and outputs.ended == "finished":
        outputs.ended = "crashed"
        outputs.detail = f"the notebook process stopped during {doing} ({_exit_text(proc.returncode)})"


def _exit_text(code: int | None) -> str:
    if code is None:
        return "still running"
    if code > 128 or code < 0:
        number = code - 128 if code > 128 else -code
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(number).name}"
    return f"exit code {code}"


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else -1


def _text(message: dict, key: str, limit: int = 1000) -> str:
    value = message.get(key, "")
    return (value if isinstance(value, str) else repr(value))[:limit]


def _stop(proc: subprocess.Popen) -> None:
    """Ask the supervisor to kill the submission's processes, then kill the whole group to be sure."""
    if proc.poll() is None:
        with contextlib.suppress(OSError):
            proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


# --- child side ---------------------------------------------------------------------------------------------


def _children() -> list[int]:
    """Pids whose parent is this process (orphans land here: we are a subreaper)."""
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == me:
                    found.append(int(entry))
    return found


def _kill_descendants() -> None:
    """Kill and reap every process below the supervisor, including re-parented orphans."""
    while True:
        for pid in _children():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def _open_python_to_fresh_uid(spec: dict) -> list[str]:
    """Make a Python under a closed folder (/root) reachable in a private mount namespace; if that is not
    allowed here (no CAP_SYS_ADMIN), fall back to uid 0 without capabilities and give the folder back to 0."""
    if not spec["expose"]:
        return []
    try:
        return [lockdown.expose_in_private_namespace(spec["expose"])]
    except OSError as error:
        spec["policy"]["uid"] = None
        for root, dirs, files in os.walk(spec["workdir"]):
            for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                os.lchown(name, 0, 0)
        return [f"no fresh uid ({error.strerror}: cannot open {', '.join(spec['expose'])} to it)"]


def child_main(spec_path: str) -> int:
    """Supervisor: read the spec (root-only file), fork the locked-down worker, clean up after it."""
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    lockdown.become_subreaper()
    notes = _open_python_to_fresh_uid(spec)
    worker = os.fork()
    if worker == 0:
        code = 70
        try:
            layers = notes + lockdown.lock_down(lockdown.Policy(**spec["policy"]))
            from . import harness

            code = harness.main(spec["task"], spec["result_fd"], spec["control_fd"], layers)
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    for fd in (spec["result_fd"], spec["control_fd"]):
        os.close(fd)  # the parent sees EOF when the worker's copies close

    def stop(signum: int, frame: Any) -> None:
        with contextlib.suppress(OSError):
            os.kill(worker, signal.SIGKILL)

    signal.signal(signal.SIGTERM, stop)
    _, status = os.waitpid(worker, 0)
    _kill_descendants()
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


if __name__ == "__main__":
    raise SystemExit(child_main(sys.argv[1]))
