"""Dry-run guard, installed as ``sitecustomize`` by gpu_check.sh when GPU_CHECK_GUARD=1 (make test-gpu-bundle).

An audit hook in every Python process of the check (notebook kernels too, through PYTHONPATH) that
- refuses any network connection or name lookup that is not local (a registry, the model download host), and
- records every file or folder opened outside the allowed roots (the copied tree, the check's work folder,
  the interpreter and its packages, system folders), e.g. the speech corpus beside the repository or a
  user cache.
Each finding is a line in ``$GPU_GUARD_LOG``; the dry run fails when that file is not empty.
"""

from __future__ import annotations

import os
import socket
import sys

_LOG = os.environ.get("GPU_GUARD_LOG", "")
_ALLOWED = tuple(
    os.path.realpath(p) + os.sep
    for p in [*os.environ.get("GPU_GUARD_ALLOW", "").split(os.pathsep), sys.prefix, sys.base_prefix,
              "/usr", "/lib", "/lib64", "/etc", "/proc", "/sys", "/dev", "/run"]
    if p
)
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0", ""}


def _note(kind: str, what: object) -> None:
    line = f"{kind}\t{what}\tpid {os.getpid()}\t{' '.join(sys.argv)[:120]}\n"
    fd = os.open(_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)  # os.open raises "open": _busy stops the loop
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


_busy = False


def _outside(path: object) -> str | None:
    if isinstance(path, int) or path is None:
        return None
    try:
        real = os.path.realpath(os.fsdecode(path))
    except (TypeError, ValueError):
        return None
    return None if (real + os.sep).startswith(_ALLOWED) else real


def _hook(event: str, args: tuple) -> None:
    global _busy
    if _busy:
        return
    if event in ("socket.connect", "socket.getaddrinfo"):
        target = args[1] if event == "socket.connect" else (args[0], args[1])
        if isinstance(target, tuple) and len(target) >= 2:
            host = target[0].decode() if isinstance(target[0], bytes) else str(target[0] or "")
            if host not in _LOCAL_HOSTS and not host.startswith("127."):
                _busy = True
                try:
                    _note("network", f"{host}:{target[1]}")
                finally:
                    _busy = False
                raise OSError(f"gpu_guard: network access to {host} refused in the offline dry run")
        return
    if event in ("open", "os.listdir", "os.scandir"):
        where = _outside(args[0] if args else None)
        if where is not None:
            _busy = True
            try:
                _note("file", where)
            finally:
                _busy = False


if _LOG:
    sys.addaudithook(_hook)
    socket.setdefaulttimeout(5)
