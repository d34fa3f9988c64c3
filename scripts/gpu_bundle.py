"""Build the folder that travels with a GPU check (see docs/gpu.md): wheels the GPU machine lacks + small weights.

The lent GPU machine reaches no registry: it has Python 3.12 with torch, numpy, pandas, matplotlib, ... (the
package list below, from the device tool's KINDS.md, 2026-11-17) and nothing else. This script walks the
project's dependencies (pyproject.toml) plus what the check runs (nbval, papermill), stops at every package the
machine already has, and downloads one wheel of each remaining package; openai-whisper is sdist-only on PyPI,
so its (pure Python) wheel is built here. The tiny.en weights travel quantised (``gpu_weights.py``).

    python scripts/gpu_bundle.py --out .gpu                      # for the GPU machine (CPython 3.12, manylinux)
    python scripts/gpu_bundle.py --local --out build/gpu-local   # for this interpreter (the CPU dry run)

``--local`` reads versions and dependencies from the running interpreter's installed packages (the project's
venv) and downloads the same versions for it, and writes ``image-requirements.txt``: the packages the GPU
machine provides, pinned, for the dry run's stand-in of that machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import tomllib
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
import gpu_weights  # noqa: E402 (a sibling script, not a package)

LIMIT_MIB = 60.0  # bundle + working tree; a device call carries 64 MiB in all
TARGET_PYTHON = "3.12"  # the GPU machine's python3 (3.12.3)
PLATFORMS = [f"manylinux_2_{n}_x86_64" for n in (39, 35, 34, 31, 28, 27, 26, 24, 17, 12, 5)] + [
    "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]

# What the device tool's KINDS.md lists as installed on nvidia-h100-x1 / nvidia-h200 (image 'cuda', 2026-11-17).
IMAGE_PACKAGES = """
absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch build certifi
charset-normalizer chex click cloudpickle cmake colorama contourpy coverage cuda-bindings cuda-core cuda-pathfinder
cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn einops equinox etils execnet filelock flatbuffers flax fonttools
formulaic frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx huggingface-hub humanize hypothesis idna
imageio iniconfig interface-meta jax jax-cuda13-pjrt jax-cuda13-plugin jaxlib jaxtyping jinja2 joblib kiwisolver
lazy-loader lightning lightning-utilities linear-operator lineax llvmlite lxml markdown markdown-it-py markupsafe
matplotlib mdurl meson ml-dtypes mpi4py mpmath msgpack multidict multipledispatch mypy-extensions nanobind narwhals
networkx ninja numba numba-cuda numpy numpyro nvidia-cublas nvidia-cuda-cupti nvidia-cuda-nvrtc nvidia-cuda-runtime
nvidia-cudnn-cu13 nvidia-cufft nvidia-cufile nvidia-curand nvidia-cusolver nvidia-cusparse nvidia-cusparselt-cu13
nvidia-ml-py nvidia-nccl-cu13 nvidia-nvjitlink nvidia-nvshmem-cu13 nvidia-nvtx onnx onnx-ir onnxruntime onnxscript
opencv-python-headless optax opt-einsum opt-einsum-fx optimistix orbax-checkpoint packaging pandas pathspec patsy
peft pillow pip pluggy portalocker prometheus-client propcache protobuf psutil pyarrow pybind11 py-cpuinfo pygments
pyparsing pyproject-hooks pyre-extensions pytest pytest-benchmark pytest-cov pytest-mock pytest-timeout pytest-xdist
python-dateutil pytorch-lightning pyyaml regex requests rich sacrebleu safetensors scikit-build-core scikit-image
scikit-learn scipy seaborn sentencepiece sentence-transformers setuptools shellingham simplejson six
sortedcontainers statsmodels sympy tabulate tensorboard tensorboard-data-server tensorstore threadpoolctl tifffile
tiktoken timm tokenizers toolz torch torchaudio torchdiffeq torch-geometric torchmetrics torchvision tqdm
transformers treescope triton typer typing-extensions typing-inspect urllib3 uvloop wadler-lindig werkzeug wheel
wrapt xarray xxhash yarl zipp
""".split()
# Versions KINDS.md states for that image: the 3.12 resolution is held to them.
IMAGE_PINS = {"numpy": "2.5.2", "tiktoken": "0.14.0",  # not torch: its CUDA wheels need not resolve here
              "onnxruntime": "1.30.0", "huggingface-hub": "1.33.0", "tokenizers": "0.23.2"}

EXTRA_ROOTS = ["nbval", "papermill",  # what gpu_check.sh itself runs (pytest is on the machine)
               "onnxruntime"]  # on the machine: silero-vad runs its fast ONNX model with it (TorchScript is slow)
# Not carried, with the reason; the lesson and the check say "not installed" for these.
NOT_CARRIED = {
    "faster-whisper": "ctranslate2 (43 MB) + av (35 MB) alone exceed the 64 MiB a call carries",
    "jupyterlab": "the browser IDE (16.5 MB + babel 10.5 MB + a server); the check runs kernels headless",
    "distributed": "grading on a Dask cluster only; not part of the lesson or the GPU check",
    "debugpy": "ipykernel's debugger (4 MB), never used by a headless kernel",
    "jedi": "IPython's tab completion (4.9 MB), imported only when present",
    "parso": "jedi's parser",
    "widgetsnbextension": "the classic Notebook's front-end files (2.2 MB); no browser there",
    "jupyterlab-widgets": "JupyterLab's front-end files; no browser there",
}
# Wheels carried without data files the check never loads: name → predicate on a file's path inside the wheel.
_SILERO_KEEP = ("silero_vad/data/silero_vad_16k_sequence.onnx", "silero_vad/data/silero_vad.jit")
# espeak-ng dictionaries of the languages the packaged lesson data holds (ru_dict alone is 8.5 MB)
_ESPEAK_KEEP = {f"{p.name}_dict" for p in (ROOT / "course_utils" / "lesson_data").glob("*") if p.is_dir()} | {"en_dict"}
SLIM = {
    "silero-vad": lambda f: f.startswith("silero_vad/data/") and f not in _SILERO_KEEP,  # 11.3 → 2.9 MiB
    "espeakng-loader": lambda f: f.endswith("_dict") and f.rsplit("/", 1)[-1] not in _ESPEAK_KEEP,  # 9.6 → 1.3
}
WEIGHTS = ("tiny.en",)


def mib(n: int) -> float:
    """Bytes → MiB."""
    return n / 2**20


def _pip(*args: str, quiet: bool = True) -> None:
    command = [sys.executable, "-m", "pip", *args] + (["--quiet"] if quiet else [])
    subprocess.run(command, check=True)


def _roots() -> list[Requirement]:
    """The project's run-time requirements and the check's tools (``walk`` leaves out NOT_CARRIED)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in [*project["dependencies"], *EXTRA_ROOTS]]


def _target_env() -> dict[str, str]:
    env = default_environment()
    env.update(python_version=TARGET_PYTHON, python_full_version=f"{TARGET_PYTHON}.3", sys_platform="linux",
               platform_system="Linux", platform_machine="x86_64", os_name="posix", implementation_name="cpython",
               platform_python_implementation="CPython")
    return env


def walk(roots: list[Requirement], dists: dict[str, tuple[str, list[str]]], env: dict[str, str]) -> dict:
    """Split the dependency tree: packages to carry (name → version), image packages used, skipped ones.

    The walk stops at packages the GPU machine has (their own dependencies are the machine's business).
    ``dists`` maps a canonical name to (version, Requires-Dist lines).
    """
    image = {canonicalize_name(n) for n in IMAGE_PACKAGES}
    carry: dict[str, str] = {}
    why: dict[str, str] = {}
    image_used: set[str] = set()
    skipped: dict[str, str] = {}
    stack = [(r, "", "pyproject.toml / the check") for r in roots]
    seen: set[tuple[str, str]] = set()
    while stack:
        req, extra, parent = stack.pop()
        if req.marker and not req.marker.evaluate({**env, "extra": extra}):
            continue
        name = canonicalize_name(req.name)
        if name in NOT_CARRIED:
            skipped[name] = NOT_CARRIED[name]
            continue
        if name in image:
            image_used.add(name)
            continue
        if name not in dists:
            raise SystemExit(f"{name} is needed but not in the resolved/installed set: install the project first")
        version, requires = dists[name]
        carry[name] = version
        why.setdefault(name, parent)
        for wanted in {"", *req.extras}:
            if (name, wanted) in seen:
                continue
            seen.add((name, wanted))
            stack += [(Requirement(line), wanted, name) for line in requires]
    return {"carry": dict(sorted(carry.items())), "why": why, "image": sorted(image_used), "skipped": skipped}


def installed_dists() -> dict[str, tuple[str, list[str]]]:
    """(version, Requires-Dist) of every package installed for this interpreter."""
    return {canonicalize_name(d.metadata["Name"]): (d.version, d.requires or []) for d in metadata.distributions()}


def _target_flags() -> list[str]:
    flags = ["--only-binary=:all:", "--python-version", TARGET_PYTHON, "--implementation", "cp",
             "--abi", "cp" + TARGET_PYTHON.replace(".", ""), "--abi", "abi3", "--abi", "none"]
    for platform in PLATFORMS:
        flags += ["--platform", platform]
    return flags


def resolved_dists(roots: list[Requirement], find_links: Path, work: Path) -> dict[str, tuple[str, list[str]]]:
    """Resolve the roots for CPython 3.12 on manylinux with pip (no install) and read the report."""
    pins = work / "image-pins.txt"
    pins.write_text("".join(f"{n}=={v}\n" for n, v in IMAGE_PINS.items()))
    report = work / f"report-{TARGET_PYTHON}.json"
    _pip("install", "--dry-run", "--ignore-installed", "--report", str(report), "--target", str(work / "t"),
         *_target_flags(), "-f", str(find_links), "-c", str(pins), *[str(r) for r in roots])
    items = json.loads(report.read_text())["install"]
    return {canonicalize_name(i["metadata"]["name"]): (i["metadata"]["version"], i["metadata"].get("requires_dist", []))
            for i in items}


def whisper_wheel(version: str, cache: Path) -> Path:
    """openai-whisper's wheel (PyPI has only the sdist; the package is pure Python), built once and cached."""
    cache.mkdir(parents=True, exist_ok=True)
    found = sorted(cache.glob(f"openai_whisper-{version}-py3-none-any.whl"))
    if not found:
        _pip("wheel", "--no-deps", "--no-binary", "openai-whisper", "-w", str(cache), f"openai-whisper=={version}")
        found = sorted(cache.glob(f"openai_whisper-{version}-py3-none-any.whl"))
    return found[0]


def slim_wheel(path: Path, drop: Callable[[str], bool]) -> None:
    """Rewrite a wheel without the files `drop` picks (RECORD updated to match); the package code is untouched."""
    tmp = path.with_suffix(".slim")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        dropped = {n for n in src.namelist() if drop(n)}
        for info in src.infolist():
            if info.filename in dropped:
                continue
            data = src.read(info)
            if info.filename.endswith(".dist-info/RECORD"):
                lines = data.decode().splitlines(keepends=True)
                data = "".join(line for line in lines if line.split(",")[0] not in dropped).encode()
            dst.writestr(info, data)
    tmp.replace(path)


def download(carry: dict[str, str], wheels: Path, local: bool, cache: Path) -> None:
    """One wheel per carried package in `wheels` (stale ones removed)."""
    wheels.mkdir(parents=True, exist_ok=True)
    for old in wheels.glob("*.whl"):
        old.unlink()
    pins = [f"{n}=={v}" for n, v in carry.items() if n != "openai-whisper"]
    flags = ["--only-binary=:all:"] if local else _target_flags()
    _pip("download", "--no-deps", *flags, "-d", str(wheels), *pins)
    if "openai-whisper" in carry:
        shutil.copy2(whisper_wheel(carry["openai-whisper"], cache), wheels)
    for name, drop in SLIM.items():
        for path in wheels.glob(f"{name.replace('-', '_')}-*.whl"):
            slim_wheel(path, drop)
    names = sorted(canonicalize_name(p.name.split("-")[0]) for p in wheels.glob("*.whl"))
    if names != sorted(carry):
        raise SystemExit(f"wheels {names} do not match the plan {sorted(carry)}")


def pack_weights(out: Path) -> dict[str, dict]:
    """Transport weights for each model in WEIGHTS from the installed offline packages (repacked when changed)."""
    import course_utils as cu  # heavy import (torch): only here, to find the installed CTranslate2 directories

    done = {}
    for name in WEIGHTS:
        src = cu.ct2_model_dir(name)
        if src is None:
            raise SystemExit(f"no CTranslate2 directory for {name}: pip install -e '.[offline]' (make install)")
        target, stamp = out / f"{name}.npz", out / f"{name}.source.json"
        source = {"path": str(src), "bytes": (src / "model.bin").stat().st_size,
                  "mtime_ns": (src / "model.bin").stat().st_mtime_ns, "format": gpu_weights.FORMAT}
        if not (target.is_file() and stamp.is_file() and json.loads(stamp.read_text()) == source):
            gpu_weights.pack(src, target)
            stamp.write_text(json.dumps(source))
        done[name] = {"file": target.name, "bytes": target.stat().st_size}
    return done


def tree_bytes() -> int:
    """Bytes of what a device call sends besides carried paths: tracked and untracked-not-ignored files."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            check=True, capture_output=True).stdout.split(b"\0")
    return sum((ROOT / p.decode()).stat().st_size for p in listed if p and (ROOT / p.decode()).is_file())


def main(argv: list[str] | None = None) -> int:
    """Build the bundle and print its budget."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / ".gpu")
    parser.add_argument("--local", action="store_true", help="for this interpreter (CPU dry run), not the GPU")
    parser.add_argument("--cache", type=Path, default=ROOT / "build" / "gpu-cache")
    args = parser.parse_args(argv)
    start = time.monotonic()
    out = args.out.resolve()
    roots = _roots()
    if args.local:
        dists, env = installed_dists(), default_environment()
    else:
        version = installed_dists().get("openai-whisper", ("20250625", []))[0]
        whisper_wheel(version, args.cache / "whisper")
        wanted = [r for r in roots if canonicalize_name(r.name) not in NOT_CARRIED]
        dists, env = resolved_dists(wanted, args.cache / "whisper", args.cache), _target_env()
    plan = walk(roots, dists, env)
    download(plan["carry"], out / "wheels", args.local, args.cache / "whisper")
    weights = pack_weights(out / "weights")
    if args.local:  # the dry run's stand-in for the GPU machine's own packages, at this venv's versions
        pins = [f"{n}=={dists[n][0]}" for n in plan["image"] if n in dists and n not in ("torch", "triton")]
        (out / "image-requirements.txt").write_text("\n".join(pins) + "\n")
    wheel_sizes = {p.name: p.stat().st_size for p in sorted((out / "wheels").glob("*.whl"))}
    manifest = {"python": ".".join(map(str, sys.version_info[:2])) if args.local else TARGET_PYTHON,
                "local": args.local, "wheels": wheel_sizes, "needed_by": plan["why"], "weights": weights,
                "image_packages_used": plan["image"],
                "not_carried": plan["skipped"], "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    bundle = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    tree = tree_bytes()
    print(f"GPU bundle {out} for Python {manifest['python']} ({time.monotonic() - start:.0f} s)")
    for name, size in sorted(wheel_sizes.items(), key=lambda kv: -kv[1])[:6]:
        print(f"  {mib(size):6.2f} MiB  {name}")
    print(f"  {mib(sum(wheel_sizes.values())):6.2f} MiB  {len(wheel_sizes)} wheels in all")
    for name, info in weights.items():
        print(f"  {mib(info['bytes']):6.2f} MiB  {name} weights ({gpu_weights.FORMAT})")
    print(f"  {mib(bundle):6.2f} MiB  bundle\n  {mib(tree):6.2f} MiB  working tree (tracked + untracked, not ignored)")
    total = mib(bundle + tree)
    print(f"  {total:6.2f} MiB  total sent by a device call with carry ['{args.out}'] (limit {LIMIT_MIB:.0f} MiB)")
    if plan["skipped"]:
        print("  not carried: " + ", ".join(sorted(plan["skipped"])))
    if total > LIMIT_MIB and not args.local:
        print(f"over the {LIMIT_MIB:.0f} MiB budget", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
