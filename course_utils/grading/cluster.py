"""Grading on a Dask cluster: each task runs the same sandboxed child on a worker; the parent scores and writes.

``python -m course_utils.grading SUBS --scheduler tcp://HOST:8786``. The parent sends every worker (once, by
broadcast) the neutral staged audio, the model names and the SHA-256 of the hidden clips; never a label, a
transcript or a reference result. A worker stages its sandbox on first use (models from its own offline
cache, the public corpus from its own corpus minus the hidden clips), runs ``sandbox.run_submission`` and
returns the raw ``ChildOutputs``. A worker needs: this package and its dependencies, the grading models
prepared offline, Linux with Landlock, and root for a fresh uid and a private /tmp and /dev/shm per child.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from distributed import Client, as_completed, get_worker

from .hidden import StagedInputs
from .records import ChildOutputs, Limits
from .sandbox import Sandbox, prepare_sandbox, run_submission, staging_base

if TYPE_CHECKING:
    from .batch import GradingConfig, GradingRun

_SANDBOXES: dict[str, Sandbox] = {}
_LOCK = threading.Lock()


def _payload_key(payload: dict) -> str:
    digest = hashlib.sha256(json.dumps([payload["models"], payload["exclude_hashes"]]).encode())
    for name in sorted(payload["inputs"]["files"]):
        digest.update(name.encode() + payload["inputs"]["files"][name])
    return digest.hexdigest()


def worker_sandbox(payload: dict) -> Sandbox:
    """This worker process's sandbox for a payload, staged on first use and removed when the worker exits."""
    key = _payload_key(payload)
    with _LOCK:
        if key not in _SANDBOXES:
            base = staging_base()
            atexit.register(shutil.rmtree, base, True)
            staged = StagedInputs.from_payload(payload["inputs"], base / "shared" / "inputs", base / "ex3-private")
            _SANDBOXES[key] = prepare_sandbox(base, staged, payload["models"], payload["exclude_ids"],
                                              payload["exclude_hashes"])  # fmt: skip
        return _SANDBOXES[key]


def run_on_worker(payload: dict, cells: list[str], limits: Limits, model: str, lid_model: str, device: str,
                  labels: list[str]) -> ChildOutputs:  # fmt: skip
    """A Dask task: one submission in a sandboxed child on this worker; raw outputs back to the parent."""
    sandbox = worker_sandbox(payload)
    try:
        slots = max(1, get_worker().state.nthreads)
    except ValueError:  # not inside a worker (called directly)
        slots = 1
    limits = replace(limits, threads=max(1, (os.cpu_count() or 1) // slots))
    return run_submission(sandbox, cells, limits, model=model, lid_model=lid_model, device=device, labels=labels)


class DaskPool:
    """Submissions as tasks on the cluster at `address` (the same interface as ``batch.LocalPool``)."""

    def __init__(self, address: str, run: GradingRun, config: GradingConfig) -> None:
        self.client = Client(address, timeout="30s")
        self.config = config
        payload = {"inputs": run.staged.to_payload(), "models": [config.model, config.lid_model],
                   "exclude_ids": run.hidden_ids, "exclude_hashes": run.secret_hashes}  # fmt: skip
        self.payload = self.client.scatter(payload, broadcast=True, hash=False)

    def submit(self, cells: list[str], labels: list[str]) -> Any:
        config = self.config
        return self.client.submit(run_on_worker, self.payload, cells, config.limits, config.model, config.lid_model,
                                  config.device, labels, pure=False)  # fmt: skip

    def as_completed(self, futures: list[Any]) -> Iterator[Any]:
        return iter(as_completed(futures))

    def close(self) -> None:
        self.client.close()
