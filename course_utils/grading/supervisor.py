"""Child side of one submission: ``python -I -m course_utils.grading.supervisor SPEC``.

The supervisor becomes a subreaper, enters a mount namespace of its own (as root) with an empty, size-capped
tmpfs on /tmp and /dev/shm, then forks the worker, which locks itself down (``lockdown``) and runs
``harness``. When the worker ends or the trusted side says stop (SIGTERM), the supervisor kills every process
the submission left behind; the private /tmp and /dev/shm vanish with the namespace's last process.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from . import lockdown

PRIVATE_FOLDERS = ("/tmp", "/dev/shm")


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


def kill_descendants() -> None:
    """Kill and reap every process below the supervisor, including re-parented orphans."""
    while True:
        for pid in _children():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def _give_workdir_to(uid: int, workdir: str) -> None:
    for root, dirs, files in os.walk(workdir):
        for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
            os.lchown(name, uid, uid)


def private_mounts(spec: dict) -> list[str]:
    """As root: a private mount namespace with private /tmp and /dev/shm and, where the Python lives in a closed
    folder (/root), just that Python exposed. Returns isolation notes; adjusts the policy when something fails."""
    notes: list[str] = []
    policy = spec["policy"]
    try:
        notes.append(lockdown.enter_private_namespace())
    except OSError as error:
        if spec["expose"]:  # a fresh uid could not reach the Python: keep uid 0 without capabilities
            policy["uid"] = None
            _give_workdir_to(0, spec["workdir"])
            notes.append(f"no fresh uid ({error.strerror}: cannot open {', '.join(spec['expose'])} to it)")
        return [*notes, f"no private /tmp and /dev/shm ({error.strerror}): not writable"]
    if spec["expose"]:
        notes.append(lockdown.expose_in_private_namespace(spec["expose"]))
    try:
        notes.append(lockdown.private_tmpfs(list(PRIVATE_FOLDERS), spec["keep"], spec["tmpfs_mb"]))
    except OSError as error:
        return [*notes, f"no private /tmp and /dev/shm ({error}): not writable"]
    # Landlock grants by path: write access to /tmp would reach the staging folder bound back beneath it
    staged_below = [f for f in PRIVATE_FOLDERS if any(os.path.commonpath([os.path.realpath(k), f]) == f
                                                      for k in spec["keep"])]  # fmt: skip
    policy["write"] = [*policy["write"], *(f for f in PRIVATE_FOLDERS if f not in staged_below)]
    if staged_below:
        notes.append(f"{', '.join(staged_below)} read-only (the grader's staging folder lies there)")
    return notes


def child_main(spec_path: str) -> int:
    """Supervisor: read the spec (root-only file), fork the locked-down worker, clean up after it."""
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    lockdown.become_subreaper()
    notes = private_mounts(spec) if os.geteuid() == 0 else ["no private /tmp and /dev/shm (not root): not writable"]
    worker = os.fork()
    if worker == 0:
        code = 70
        try:
            layers = notes + lockdown.lock_down(lockdown.Policy(**spec["policy"]))
            from . import harness  # local import: the worker loads it after lockdown

            code = harness.main(spec["task"], spec["result_fd"], spec["control_fd"], layers)
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    for fd in (spec["result_fd"], spec["control_fd"]):
        os.close(fd)  # the trusted side sees EOF when the worker's copies close

    def stop(signum: int, frame: Any) -> None:
        with contextlib.suppress(OSError):
            os.kill(worker, signal.SIGKILL)

    signal.signal(signal.SIGTERM, stop)
    _, status = os.waitpid(worker, 0)
    kill_descendants()
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


if __name__ == "__main__":
    raise SystemExit(child_main(sys.argv[1]))
