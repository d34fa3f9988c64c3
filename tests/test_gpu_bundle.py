"""The GPU check's pieces that can be tested without a GPU or a registry (issue 14; the end-to-end proof is
``make test-gpu-bundle``): transport weights, the dependency walk, wheel slimming, the offline guard, the script.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from measure_fakes import FakeModel
from packaging.requirements import Requirement

import course_utils as cu
from course_utils import engines

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
sys.path.insert(0, str(SCRIPTS))
import gpu_bundle  # noqa: E402
import gpu_weights  # noqa: E402


def _string(text: str) -> bytes:
    data = text.encode() + b"\0"
    return struct.pack("<H", len(data)) + data


def _model_bin(path: Path, tensors: dict[str, np.ndarray], aliases: list[tuple[str, str]]) -> None:
    """A CTranslate2 model.bin written by hand (not by the code under test)."""
    types = {np.dtype(np.float32): 0, np.dtype(np.int8): 1, np.dtype(np.int32): 3, np.dtype(np.float16): 4}
    blob = struct.pack("<I", 6) + _string("WhisperSpec") + struct.pack("<II", 3, len(tensors))
    for name, array in tensors.items():
        data = array.tobytes()
        blob += _string(name) + struct.pack(f"<B{array.ndim}I", array.ndim, *array.shape)
        blob += struct.pack("<BI", types[array.dtype], len(data)) + data
    blob += struct.pack("<I", len(aliases)) + b"".join(_string(a) + _string(b) for a, b in aliases)
    path.write_bytes(blob)


@pytest.fixture
def ct2_dir(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    folder = tmp_path / "tiny"
    folder.mkdir()
    tensors = {
        "decoder/embeddings/weight": rng.normal(0, 0.05, (96, 128)).astype(np.float16),
        "encoder/conv1/weight": rng.normal(0, 0.05, (64, 80, 3)).astype(np.float16),  # 240 inputs: no whole groups
        "encoder/layer_0/ffn/linear_0/weight": (rng.normal(0, 0.05, (64, 128)) * np.arange(1, 65)[:, None] / 8
                                                ).astype(np.float16),
        "encoder/layer_0/ffn/linear_0/bias": rng.normal(0, 0.05, 64).astype(np.float16),
        "encoder/num_heads": np.array([6], np.int32),
        "zeros/weight": np.zeros((64, 128), np.float16),
    }
    _model_bin(folder / "model.bin", tensors, [("decoder/projection/weight", "decoder/embeddings/weight")])
    (folder / "config.json").write_text(json.dumps({"alignment_heads": [[1, 0]]}))
    return folder


def test_model_bin_round_trip_is_byte_identical(ct2_dir: Path, tmp_path: Path) -> None:
    header, tensors = gpu_weights.read_model_bin(ct2_dir / "model.bin")
    assert [tuple(a) for a in header["aliases"]] == [("decoder/projection/weight", "decoder/embeddings/weight")]
    gpu_weights.write_model_bin(tmp_path / "again.bin", header, tensors)
    assert (tmp_path / "again.bin").read_bytes() == (ct2_dir / "model.bin").read_bytes()


@pytest.mark.parametrize("steps", [32.0, 4.0])
def test_pack_expand_keeps_layout_and_bounds_the_error(ct2_dir: Path, tmp_path: Path, steps: float) -> None:
    summary = gpu_weights.pack(ct2_dir, tmp_path / "w.npz", steps)
    assert summary["quantised"] == 4  # embeddings, conv1, linear, zeros; never the bias or the head count
    out = gpu_weights.expand(tmp_path / "w.npz", tmp_path / "out")
    _, original = gpu_weights.read_model_bin(ct2_dir / "model.bin")
    header, back = gpu_weights.read_model_bin(out / "model.bin")
    assert list(back) == list(original) and header["spec"] == "WhisperSpec" and header["revision"] == 3
    for name, array in original.items():
        assert back[name].dtype == array.dtype and back[name].shape == array.shape
        if array.dtype != np.float16 or array.ndim == 1:
            assert np.array_equal(back[name], array), name  # carried as stored
    for name in ("encoder/layer_0/ffn/linear_0/weight", "encoder/conv1/weight"):
        w = original[name].astype(np.float32).reshape(64, -1)
        q = back[name].astype(np.float32).reshape(64, -1)
        step = w.std(axis=1, keepdims=True) / steps  # one step per row, whatever its scale (rows grow ×64)
        assert np.all(np.abs(q - w) <= step * 0.5 + np.abs(w) * 2**-11 + 1e-7), name
        assert np.abs(q - w).max() > step.min() * 0.1  # it really was quantised
    assert not back["zeros/weight"].any()
    assert json.loads((out / "config.json").read_text()) == {"alignment_heads": [[1, 0]]}
    checked = gpu_weights.check(ct2_dir, steps)
    assert 0.4 < checked["worst error / step"] <= 0.5 + 1e-3


def test_finer_steps_give_smaller_errors_and_larger_files(ct2_dir: Path, tmp_path: Path) -> None:
    _, original = gpu_weights.read_model_bin(ct2_dir / "model.bin")
    errors, sizes = [], []
    for steps in (8.0, 64.0):
        sizes.append(gpu_weights.pack(ct2_dir, tmp_path / f"{steps}.npz", steps)["transport bytes"])
        _, back = gpu_weights.read_model_bin(gpu_weights.expand(tmp_path / f"{steps}.npz", tmp_path / str(steps))
                                             / "model.bin")
        name = "decoder/embeddings/weight"
        errors.append(np.abs(back[name].astype(np.float32) - original[name].astype(np.float32)).mean())
    assert errors[1] < errors[0] / 4 and sizes[1] > sizes[0]


def test_planes_round_trip_every_code_and_refuse_outliers() -> None:
    codes = np.arange(-32767, 32768, dtype=np.int32)
    low, high = gpu_weights.to_planes(codes)
    assert low.dtype == high.dtype == np.uint8
    assert np.array_equal(gpu_weights.from_planes(low, high), codes)
    assert gpu_weights.to_planes(np.array([0, -1, 1, -2]))[0].tolist() == [0, 1, 2, 3]  # small codes, small bytes
    spike = np.zeros((1, 4096), np.float16)
    spike[0, 0] = 1.0  # std ≈ 1/64, so the spike is 64 × 1024 steps from zero at 1024 steps per std
    with pytest.raises(ValueError, match="32767 steps"):
        gpu_weights.quantise(spike, 1024.0)


def test_expand_still_reads_the_int8_transport_files(ct2_dir: Path, tmp_path: Path) -> None:
    """A bundle built before the byte-plane format (int8, one scale per row) must still expand."""
    header, tensors = gpu_weights.read_model_bin(ct2_dir / "model.bin")
    arrays, layout = {}, []
    for i, (name, array) in enumerate(tensors.items()):
        if name == "decoder/embeddings/weight":
            scale = np.abs(array.astype(np.float32)).max(axis=1, keepdims=True) / 127
            arrays[f"q{i}"] = np.rint(array / scale).astype(np.int8)
            arrays[f"s{i}"] = scale.astype(np.float32)
            layout.append([name, "int8"])
        else:
            arrays[f"r{i}"] = array
            layout.append([name, "raw"])
    arrays["header"] = np.frombuffer(json.dumps({**header, "layout": layout, "files": {}}).encode(), np.uint8)
    np.savez_compressed(tmp_path / "old.npz", **arrays)
    _, back = gpu_weights.read_model_bin(gpu_weights.expand(tmp_path / "old.npz", tmp_path / "out") / "model.bin")
    w, q = tensors["decoder/embeddings/weight"], back["decoder/embeddings/weight"]
    assert np.abs(q.astype(np.float32) - w.astype(np.float32)).max() <= np.abs(w).max() / 127
    assert np.array_equal(back["encoder/num_heads"], tensors["encoder/num_heads"])


def test_read_refuses_other_versions(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(struct.pack("<I", 5) + _string("WhisperSpec"))
    with pytest.raises(ValueError, match="version 5"):
        gpu_weights.read_model_bin(tmp_path / "model.bin")


def _dists(**packages: tuple[str, list[str]]) -> dict[str, tuple[str, list[str]]]:
    return {name.replace("_", "-"): value for name, value in packages.items()}


def test_walk_stops_at_the_machines_packages_and_skips_what_is_not_carried() -> None:
    dists = _dists(
        openai_whisper=("20250625", ["numpy", "more-itertools", "triton>=2; sys_platform == 'linux'"]),
        more_itertools=("11.0", []),
        nbval=("0.11", ["ipykernel", "jupyter-client"]),
        ipykernel=("7.0", ["debugpy>=1.6", "traitlets", "appnope; sys_platform == 'darwin'"]),
        jupyter_client=("8.0", ["traitlets", "importlib-metadata; python_version < '3.10'"]),
        traitlets=("5.0", ["pytest; extra == 'test'"]),
        soundfile=("0.13", ["cffi[extra1]>=1.0"]),
        cffi=("2.0", ["pycparser", "nothing; extra == 'other'", "dep-of-extra; extra == 'extra1'"]),
        pycparser=("2.0", []), dep_of_extra=("1.0", []),
    )
    roots = [Requirement(r) for r in ("openai-whisper", "nbval", "soundfile", "faster-whisper>=1", "torch")]
    plan = gpu_bundle.walk(roots, dists, gpu_bundle._target_env())
    assert plan["carry"] == {"cffi": "2.0", "dep-of-extra": "1.0", "ipykernel": "7.0", "jupyter-client": "8.0",
                             "more-itertools": "11.0", "nbval": "0.11", "openai-whisper": "20250625",
                             "pycparser": "2.0", "soundfile": "0.13", "traitlets": "5.0"}
    assert plan["image"] == ["numpy", "torch", "triton"]
    assert set(plan["skipped"]) == {"faster-whisper", "debugpy"}
    assert plan["why"]["pycparser"] == "cffi"


def test_walk_names_a_missing_package() -> None:
    with pytest.raises(SystemExit, match="nbformat"):
        gpu_bundle.walk([Requirement("nbformat")], {}, gpu_bundle._target_env())


def test_slim_wheel_drops_files_and_their_record_lines(tmp_path: Path) -> None:
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("pkg/__init__.py", "x = 1\n")
        zf.writestr("pkg/data/keep.onnx", b"k" * 10)
        zf.writestr("pkg/data/drop.onnx", b"d" * 10)
        zf.writestr("pkg-1.0.dist-info/RECORD", "pkg/__init__.py,,\npkg/data/keep.onnx,,\npkg/data/drop.onnx,,\n"
                                                 "pkg-1.0.dist-info/RECORD,,\n")
    gpu_bundle.slim_wheel(wheel, lambda f: f == "pkg/data/drop.onnx")
    with zipfile.ZipFile(wheel) as zf:
        assert sorted(zf.namelist()) == ["pkg-1.0.dist-info/RECORD", "pkg/__init__.py", "pkg/data/keep.onnx"]
        assert "drop.onnx" not in zf.read("pkg-1.0.dist-info/RECORD").decode()


def test_slim_rules_keep_what_the_packages_load() -> None:
    silero, espeak = gpu_bundle.SLIM["silero-vad"], gpu_bundle.SLIM["espeakng-loader"]
    assert not silero("silero_vad/data/silero_vad_16k_sequence.onnx") and not silero("silero_vad/data/silero_vad.jit")
    assert silero("silero_vad/data/silero_vad_half.onnx") and not silero("silero_vad/model.py")
    assert espeak("espeakng_loader/espeak-ng-data/ru_dict")
    assert not espeak("espeakng_loader/espeak-ng-data/en_dict")
    assert not espeak("espeakng_loader/espeak-ng-data/phondata")


def test_guard_records_files_outside_and_refuses_the_network(tmp_path: Path) -> None:
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text((SCRIPTS / "gpu_guard.py").read_text())
    inside, outside, log = tmp_path / "inside", Path.home() / ".gpu-guard-probe", tmp_path / "guard.log"
    inside.mkdir()
    code = f"""
import socket
open({str(inside / 'a.txt')!r}, 'w').write('x')
try:
    open({str(outside)!r})
except OSError:
    pass
try:
    socket.create_connection(('pypi.org', 443), timeout=1)
    print('connected')
except OSError as error:
    print('refused' if 'gpu_guard' in str(error) else f'other: {{error}}')
"""
    env = {**os.environ, "PYTHONPATH": str(guard), "GPU_GUARD_LOG": str(log), "GPU_GUARD_ALLOW": str(inside)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "refused"
    findings = log.read_text()
    assert str(outside) in findings and "pypi.org:443" in findings and "a.txt" not in findings


def test_check_script_is_valid_bash_and_writes_at_most_eight_files() -> None:
    script = SCRIPTS / "gpu_check.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text() + (SCRIPTS / "gpu_report.py").read_text()
    names = set(re.findall(r'\$OUT/([\w.-]+)', text)) | set(re.findall(r'out / "([\w.-]+)"', text))
    assert "summary.md" in names and "check.log" in names
    assert len(names) <= 8, sorted(names)
    assert "--no-index" in script.read_text() and "make install" not in script.read_text()


def test_precision_comparison_says_not_installed_without_faster_whisper(monkeypatch: pytest.MonkeyPatch) -> None:
    """The GPU machine has no faster-whisper: the lesson's comparison cell must warn, not crash."""
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(engines.importlib.util, "find_spec",
                        lambda name, *a: None if name == "faster_whisper" else real_find_spec(name, *a))
    monkeypatch.setattr(engines, "faster_whisper_model", lambda *a, **k: pytest.fail("faster-whisper was used"))
    model = FakeModel()
    model.parameters = lambda: iter([torch.zeros(1)])
    with pytest.warns(UserWarning, match="faster-whisper is not installed"):
        rows = cu.compare_inference_options(model, np.zeros(16000, np.float32), "hello world")
    assert rows and all(row.engine == "openai-whisper" for row in rows)
