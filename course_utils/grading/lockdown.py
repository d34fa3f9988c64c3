"""Linux process lockdown for a submission: resource limits, dropped privileges and a Landlock ruleset.

Only the standard library is imported here: the child calls ``lock_down`` while it is still single-threaded
(Landlock applies to the calling thread and the processes it starts later), before torch or any student code.
Everything is best effort *by layer*: ``describe()`` says which layers are active so the grader can report it.
"""

from __future__ import annotations

import ctypes
import os
import resource
import sys
from dataclasses import dataclass, field
from pathlib import Path

# prctl(2) options
_PR_SET_PDEATHSIG = 1
_PR_CAPBSET_DROP = 24
_PR_SET_SECUREBITS = 28
_PR_SET_CHILD_SUBREAPER = 36
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2
_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
_SECBIT_LOCKED_ROOT = 0x2F  # NOROOT, NOROOT_LOCKED, NO_SETUID_FIXUP, NO_SETUID_FIXUP_LOCKED, KEEP_CAPS_LOCKED

# Landlock (include/uapi/linux/landlock.h); the syscall numbers are the same on every architecture.
_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_REFER, _TRUNCATE, _IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1
READ = READ_FILE | READ_DIR
READ_EXEC = READ | EXECUTE


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]  # fmt: skip


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_SockFilter))]


# Syscalls that change metadata (mode, owner, times, xattrs): Landlock does not cover them, and a child that
# owns files outside its folder (same uid as the grader, or uid 0) could otherwise chmod or touch them.
_METADATA_SYSCALLS = {
    "x86_64": (0xC000003E, [90, 91, 92, 93, 94, 132, 188, 189, 190, 197, 198, 199, 235, 260, 261, 268, 280,
                            452, 463, 466]),
    "aarch64": (0xC00000B7, [5, 6, 7, 14, 15, 16, 52, 53, 54, 55, 88, 452, 463, 466]),
}  # fmt: skip

_CLONE_NEWNS, _CLONE_NEWIPC = 0x00020000, 0x08000000
_MS_NOSUID, _MS_NODEV, _MS_BIND, _MS_REC, _MS_PRIVATE = 2, 4, 4096, 16384, 1 << 18

_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _check(result: int, what: str) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")
    return result


def _prctl(option: int, arg: int = 0) -> int:
    return _check(_libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0), f"prctl({option})")


def landlock_abi() -> int:
    """The kernel's Landlock ABI version (0: unavailable, e.g. not Linux, kernel < 5.13 or LSM disabled)."""
    if _libc is None:
        return 0
    version = _libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION))
    return max(int(version), 0)


def _fs_rights(abi: int) -> int:
    """Every filesystem right the kernel's ABI knows (so all of them are denied unless a rule allows)."""
    rights = (1 << 13) - 1
    if abi >= 2:
        rights |= _REFER
    if abi >= 3:
        rights |= _TRUNCATE
    if abi >= 5:
        rights |= _IOCTL_DEV
    return rights


_FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | _TRUNCATE | _IOCTL_DEV


@dataclass
class Policy:
    """What the locked-down child may do: paths by right, limits, and the identity to run as."""

    read: list[str] = field(default_factory=list)  # read (files and listings) beneath these
    read_exec: list[str] = field(default_factory=list)  # read and execute beneath these
    write: list[str] = field(default_factory=list)  # everything beneath these (the private work dir)
    devices: list[str] = field(default_factory=list)  # read, write and ioctl on these files (/dev/null, GPUs)
    memory_bytes: int = 0  # RLIMIT_AS; 0 = no limit (CUDA maps huge virtual ranges)
    file_bytes: int = 512 << 20  # RLIMIT_FSIZE: the largest file it may write
    cpu_s: int = 0  # RLIMIT_CPU per process; 0 = no limit
    open_files: int = 1024
    processes: int = 512  # RLIMIT_NPROC, only meaningful for a fresh uid
    uid: int | None = None  # run as this uid/gid (root only); None = keep the uid
    drop_capabilities: bool = True  # when root and not switching uid: keep uid 0 but drop every capability
    landlock: bool = True


def set_limits(policy: Policy, fresh_uid: bool) -> None:
    """Apply the resource limits (soft = hard so the child cannot raise them again)."""
    limits = [(resource.RLIMIT_CORE, 0), (resource.RLIMIT_FSIZE, policy.file_bytes),
              (resource.RLIMIT_NOFILE, policy.open_files)]  # fmt: skip
    if policy.memory_bytes:
        limits.append((resource.RLIMIT_AS, policy.memory_bytes))
    if policy.cpu_s:
        limits.append((resource.RLIMIT_CPU, policy.cpu_s))
    if fresh_uid:
        limits.append((resource.RLIMIT_NPROC, policy.processes))
    for which, value in limits:
        resource.setrlimit(which, (value, value))


def drop_privileges(policy: Policy) -> str:
    """As root: switch to `policy.uid`, or stay uid 0 without any capability. Returns what was done."""
    if os.geteuid() != 0:
        return f"unprivileged uid {os.getuid()}"
    if policy.uid is not None:
        os.setgroups([])
        os.setresgid(policy.uid, policy.uid, policy.uid)
        os.setresuid(policy.uid, policy.uid, policy.uid)  # clears every capability
        return f"uid {policy.uid} (dropped from root)"
    if not policy.drop_capabilities:
        return "root (capabilities kept)"
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    _prctl(_PR_SET_SECUREBITS, _SECBIT_LOCKED_ROOT)  # exec never hands uid 0 its capabilities back
    for cap in range(last + 1):
        _prctl(_PR_CAPBSET_DROP, cap)
    _prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL)
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")
    return "uid 0 without capabilities"


def restrict_filesystem(policy: Policy) -> str:
    """Landlock: reads, writes and execution only beneath the policy's paths; no TCP; no signals out."""
    abi = landlock_abi()
    if not policy.landlock or abi < 1:
        return "no Landlock (filesystem not restricted)"
    fs = _fs_rights(abi)
    attr = _RulesetAttr(fs, (_NET_BIND_TCP | _NET_CONNECT_TCP) if abi >= 4 else 0,
                        (_SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL) if abi >= 6 else 0)  # fmt: skip
    size = ctypes.sizeof(_RulesetAttr) if abi >= 6 else (16 if abi >= 4 else 8)
    ruleset = _check(_libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size),
                                   ctypes.c_uint32(0)), "landlock_create_ruleset")  # fmt: skip
    try:
        rules = [(p, READ) for p in policy.read] + [(p, READ_EXEC) for p in policy.read_exec]
        rules += [(p, fs) for p in policy.write] + [(p, READ_FILE | WRITE_FILE | _IOCTL_DEV) for p in policy.devices]
        for path, rights in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # a path this machine lacks (e.g. /lib32)
            try:
                allowed = rights & fs if os.path.isdir(path) else rights & fs & _FILE_RIGHTS
                rule = _PathBeneathAttr(allowed, fd)
                _check(_libc.syscall(_SYS_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule),
                                     ctypes.c_uint32(0)), f"landlock_add_rule({path})")  # fmt: skip
            finally:
                os.close(fd)
        _prctl(_PR_SET_NO_NEW_PRIVS, 1)
        _check(_libc.syscall(_SYS_RESTRICT_SELF, ruleset, ctypes.c_uint32(0)), "landlock_restrict_self")
    finally:
        os.close(ruleset)
    extras = ["no TCP"] if abi >= 4 else []
    extras += ["no signals to outside processes"] if abi >= 6 else []
    return f"Landlock ABI {abi} ({', '.join(['filesystem', *extras])})"


def block_metadata_changes() -> str:
    """Seccomp: chmod, chown, utime and xattr calls fail with EPERM (and foreign-ABI syscalls entirely)."""
    import platform

    machine = platform.machine()
    if machine not in _METADATA_SYSCALLS:
        return f"no seccomp filter on {machine}"
    arch, numbers = _METADATA_SYSCALLS[machine]
    deny = 0x00050000 | 1  # SECCOMP_RET_ERRNO | EPERM
    program = [(0x20, 0, 0, 4), (0x15, 1, 0, arch), (0x06, 0, 0, deny), (0x20, 0, 0, 0)]
    program.append((0x35, len(numbers) + 1, 0, 0x40000000))  # x32 ABI numbers
    for index, number in enumerate(numbers):
        program.append((0x15, len(numbers) - index, 0, number))
    program += [(0x06, 0, 0, 0x7FFF0000), (0x06, 0, 0, deny)]
    filters = (_SockFilter * len(program))(*[_SockFilter(*instruction) for instruction in program])
    fprog = _SockFprog(len(program), filters)
    _check(_libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0), "seccomp")
    return "seccomp (no chmod/chown/utime/xattr)"


def blocked_ancestors(paths: list[str]) -> dict[str, list[str]] | None:
    """For paths a fresh uid cannot reach: {closed directory: [its children to expose]}; None if not fixable.

    A directory is closed when it lacks o+x (like /root, 0700, holding a pyenv Python). Everything below the
    exposed child must already be world-readable; otherwise a fresh uid cannot use it and None is returned.
    """
    closed: dict[str, set[str]] = {}
    for path in paths:
        resolved = Path(path).resolve()
        if not resolved.exists():
            continue
        chain = [*reversed(resolved.parents), resolved][1:]  # without "/"
        blocked = next((p for p in chain[:-1] if not p.stat().st_mode & 0o001), None)
        if blocked is None:
            if not resolved.stat().st_mode & 0o004:
                return None
            continue
        below = chain[chain.index(blocked) + 1 :]
        if any(not p.stat().st_mode & (0o001 if p.is_dir() else 0o004) for p in below):
            return None
        closed.setdefault(str(blocked), set()).add(below[0].name)
    return {folder: sorted(children) for folder, children in closed.items()}


def enter_private_namespace() -> str:
    """Root only: mount and IPC namespaces of our own; mounts, System V shared memory and POSIX message queues
    made now are seen by this process tree only and vanish with its last process. Returns what was entered."""
    if _libc is None:
        raise OSError(38, "mount namespaces need Linux")
    if _libc.unshare(_CLONE_NEWNS | _CLONE_NEWIPC) == 0:
        entered = "private mount and IPC namespaces (System V shared memory, message queues)"
    else:
        _check(_libc.unshare(_CLONE_NEWNS), "unshare(CLONE_NEWNS)")
        entered = "private mount namespace (IPC namespace refused: System V shared memory is shared)"
    _check(_libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None), "make / private")
    return entered


def private_tmpfs(folders: list[str], keep: list[str], size_mb: int) -> str:
    """In the private namespace: an empty tmpfs (mode 1777, `size_mb`) over each folder (/tmp, /dev/shm), with
    the `keep` paths beneath them (the grader's staging folder under /tmp) bound back in place."""
    keep = [os.path.realpath(path) for path in keep]
    handles = {path: os.open(path, os.O_PATH | os.O_CLOEXEC) for path in keep if os.path.exists(path)}
    try:
        for folder in folders:
            options = f"mode=1777,size={size_mb}m".encode()
            _check(_libc.mount(b"tmpfs", folder.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, options),
                   f"tmpfs on {folder}")  # fmt: skip
            for path, handle in handles.items():
                if os.path.commonpath([path, folder]) != folder:
                    continue
                os.makedirs(path, exist_ok=True)
                _check(_libc.mount(f"/proc/self/fd/{handle}".encode(), path.encode(), None, _MS_BIND | _MS_REC,
                                   None), f"bind {path}")  # fmt: skip
    finally:
        for handle in handles.values():
            os.close(handle)
    return f"private {' and '.join(folders)} ({size_mb} MiB tmpfs each, gone when it ends)"


def expose_in_private_namespace(closed: dict[str, list[str]]) -> str:
    """Root only, inside ``enter_private_namespace``: cover each closed folder with a tmpfs (mode 0755) that holds
    bind mounts of just the given children, so a fresh uid reaches e.g. /root/.pyenv but nothing else there."""
    for folder, children in closed.items():
        handles = {child: os.open(os.path.join(folder, child), os.O_PATH | os.O_CLOEXEC) for child in children}
        try:
            _check(_libc.mount(b"tmpfs", folder.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, b"mode=0755,size=1m"),
                   f"tmpfs on {folder}")  # fmt: skip
            for child, handle in handles.items():
                target = os.path.join(folder, child)
                if os.path.isdir(f"/proc/self/fd/{handle}"):
                    os.mkdir(target)
                else:
                    open(target, "w").close()  # noqa: SIM115
                _check(_libc.mount(f"/proc/self/fd/{handle}".encode(), target.encode(), None, _MS_BIND | _MS_REC,
                                   None), f"bind {target}")  # fmt: skip
        finally:
            for handle in handles.values():
                os.close(handle)
    return "private mount namespace (" + ", ".join(f"{f}: only {', '.join(c)}" for f, c in closed.items()) + ")"


def lock_down(policy: Policy) -> list[str]:
    """Limits, then privileges, then Landlock, then die with the parent; returns the active layers."""
    fresh_uid = os.geteuid() == 0 and policy.uid is not None
    set_limits(policy, fresh_uid)
    layers = [drop_privileges(policy)]
    if _libc is not None:
        _prctl(_PR_SET_NO_NEW_PRIVS, 1)
        layers.append(restrict_filesystem(policy))
        if not fresh_uid:  # a fresh uid owns nothing outside its folder: chmod and friends fail there anyway
            layers.append(block_metadata_changes())
        _prctl(_PR_SET_PDEATHSIG, 9)  # after the uid change, which would clear it
    limits = [f"memory {policy.memory_bytes >> 20} MiB" if policy.memory_bytes else "no memory limit",
              f"files ≤ {policy.file_bytes >> 20} MiB"]  # fmt: skip
    return layers + limits


def become_subreaper() -> None:
    """Orphaned descendants are re-parented to this process, so it can find and kill all of them."""
    if _libc is not None:
        _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def world_accessible(path: str | Path) -> bool:
    """True when any uid can reach and read `path` (every ancestor o+x, the path o+r): can a fresh uid use it?"""
    path = Path(path).resolve()
    try:
        if not path.stat().st_mode & 0o004:
            return False
        return all(parent.stat().st_mode & 0o001 for parent in path.parents)
    except OSError:
        return False
