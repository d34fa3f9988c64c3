"""Whisper weights in a form small enough to travel to the GPU machine, and back to a normal model directory.

``pack`` reads a CTranslate2 (faster-whisper) model directory whose ``model.bin`` holds float16 tensors and
writes one ``.npz``: every large float tensor with two or more dimensions as integer codes of a uniform step,
one step per output channel (row) = the row's standard deviation / ``STEPS_PER_STD``, the codes zigzagged and
split into a low and a high byte plane so that deflate codes them near their entropy (about 7 bits a weight at
32 steps per standard deviation); everything else (biases, norms, head counts) as stored. ``expand`` writes the
directory back with float16 weights in CTranslate2's own format, so the package's normal loader
(``$COURSE_WHISPER_CT2_DIR``) finds and converts it as it would the original. It also reads the earlier int8
transport files (one int8 scale per row). Only numpy is needed; no course_utils import, so the script runs
before the package is importable.

    python scripts/gpu_weights.py pack   SRC_CT2_DIR OUT.npz
    python scripts/gpu_weights.py expand IN.npz DEST_CT2_DIR
    python scripts/gpu_weights.py check  SRC_CT2_DIR   # pack + expand + byte-identical format round trip
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import tempfile
from pathlib import Path
from typing import BinaryIO

import numpy as np

# CTranslate2's DataType enum order (include/ctranslate2/types.h); bfloat16 has no numpy type and is refused.
_DTYPES = (np.float32, np.int8, np.int16, np.int32, np.float16, None)
_META_FILES = ("config.json", "tokenizer.json", "vocabulary.txt", "vocabulary.json", "preprocessor_config.json")
_MIN_QUANTISED = 4096  # smaller float tensors travel as stored: their size does not matter
# Quantisation steps per standard deviation of a row. Measured on tiny.en (docs/gpu.md, "Transport weights"):
# 32 gives the original's transcripts on the corpus's 7 LibriSpeech clips in 31 MiB; int8 per row (28 MiB)
# changes one word there.
STEPS_PER_STD = 32.0
FORMAT = f"zigzag int16 codes, step = row std / {STEPS_PER_STD:g}, byte planes, deflated"


def _read(fp: BinaryIO, n: int) -> bytes:
    data = fp.read(n)
    if len(data) != n:
        raise ValueError(f"truncated model.bin at offset {fp.tell()}")
    return data


def _read_string(fp: BinaryIO) -> str:
    (length,) = struct.unpack("<H", _read(fp, 2))
    return _read(fp, length)[:-1].decode("utf-8")


def _write_string(fp: BinaryIO, text: str) -> None:
    data = text.encode("utf-8") + b"\0"
    fp.write(struct.pack("<H", len(data)) + data)


def read_model_bin(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(header, name → array) of a CTranslate2 ``model.bin`` (binary version 6), in file order."""
    with open(path, "rb") as fp:
        (version,) = struct.unpack("<I", _read(fp, 4))
        if version != 6:
            raise ValueError(f"{path}: CTranslate2 binary version {version}; this script reads version 6 only")
        spec = _read_string(fp)
        (revision,) = struct.unpack("<I", _read(fp, 4))
        (count,) = struct.unpack("<I", _read(fp, 4))
        tensors: dict[str, np.ndarray] = {}
        for _ in range(count):
            name = _read_string(fp)
            (rank,) = struct.unpack("<B", _read(fp, 1))
            shape = struct.unpack(f"<{rank}I", _read(fp, 4 * rank))
            (type_id,) = struct.unpack("<B", _read(fp, 1))
            (nbytes,) = struct.unpack("<I", _read(fp, 4))
            if type_id >= len(_DTYPES) or _DTYPES[type_id] is None:
                raise ValueError(f"{path}: {name} has data type id {type_id}, which this script does not carry")
            tensors[name] = np.frombuffer(_read(fp, nbytes), dtype=_DTYPES[type_id]).reshape(shape)
        (alias_count,) = struct.unpack("<I", _read(fp, 4))
        aliases = [(_read_string(fp), _read_string(fp)) for _ in range(alias_count)]
        if fp.read(1):
            raise ValueError(f"{path}: unexpected bytes after the aliases")
    return {"version": version, "spec": spec, "revision": revision, "aliases": aliases}, tensors


def write_model_bin(path: Path, header: dict, tensors: dict[str, np.ndarray]) -> None:
    """Write tensors in CTranslate2's binary version 6 format (the inverse of ``read_model_bin``)."""
    with open(path, "wb") as fp:
        fp.write(struct.pack("<I", header["version"]))
        _write_string(fp, header["spec"])
        fp.write(struct.pack("<II", header["revision"], len(tensors)))
        for name, array in tensors.items():
            type_id = next(i for i, t in enumerate(_DTYPES) if t is not None and array.dtype == t)
            _write_string(fp, name)
            fp.write(struct.pack(f"<B{array.ndim}I", array.ndim, *array.shape))
            data = np.ascontiguousarray(array).tobytes()
            fp.write(struct.pack("<BI", type_id, len(data)) + data)
        fp.write(struct.pack("<I", len(header["aliases"])))
        for alias, target in header["aliases"]:
            _write_string(fp, alias)
            _write_string(fp, target)


def quantise(weight: np.ndarray, steps_per_std: float = STEPS_PER_STD) -> tuple[np.ndarray, np.ndarray]:
    """Codes of a uniform step per output row (row std / `steps_per_std`): (int32 codes, float32 steps (rows, 1))."""
    rows = weight.astype(np.float32).reshape(weight.shape[0], -1)
    step = rows.std(axis=1, keepdims=True) / steps_per_std
    step[~(step > 0)] = 1.0
    codes = np.rint(rows / step).astype(np.int32)
    if np.abs(codes).max(initial=0) > 32767:
        raise ValueError(f"a weight is over 32767 steps from zero: use fewer than {steps_per_std} steps per std")
    return codes.reshape(weight.shape), step.astype(np.float32)


def dequantise(codes: np.ndarray, step: np.ndarray, dtype: np.dtype = np.float16) -> np.ndarray:
    """float weights from codes and their per-row steps (or the int8 format's (rows, groups) scales)."""
    groups = codes.reshape(step.shape[0], step.shape[1], -1).astype(np.float32) * step[:, :, None]
    return groups.reshape(codes.shape).astype(dtype)


def to_planes(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Zigzag codes (0, -1, 1, -2, ... → 0, 1, 2, 3, ...) as (low byte, high byte) planes."""
    zigzag = np.where(codes >= 0, 2 * codes, -2 * codes - 1).astype(np.uint16)
    return (zigzag & 0xFF).astype(np.uint8), (zigzag >> 8).astype(np.uint8)


def from_planes(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The inverse of ``to_planes``: int32 codes."""
    zigzag = low.astype(np.int32) | (high.astype(np.int32) << 8)
    return (zigzag >> 1) ^ -(zigzag & 1)


def pack(src: Path, out: Path, steps_per_std: float = STEPS_PER_STD) -> dict:
    """Write the transport ``.npz`` of a CTranslate2 directory; returns a summary (sizes, tensor counts)."""
    header, tensors = read_model_bin(src / "model.bin")
    arrays: dict[str, np.ndarray] = {}
    layout = []
    for i, (name, array) in enumerate(tensors.items()):
        if array.dtype == np.float16 and array.ndim >= 2 and array.size >= _MIN_QUANTISED:
            codes, arrays[f"s{i}"] = quantise(array, steps_per_std)
            arrays[f"l{i}"], arrays[f"h{i}"] = to_planes(codes)
            layout.append([name, "planes"])
        else:
            arrays[f"r{i}"] = array
            layout.append([name, "raw"])
    meta = {name: (src / name).read_text() for name in _META_FILES if (src / name).is_file()}
    arrays["header"] = np.frombuffer(json.dumps({**header, "layout": layout, "files": meta,
                                                 "steps_per_std": steps_per_std}).encode(), np.uint8)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)
    return {"tensors": len(layout), "quantised": sum(kind == "planes" for _, kind in layout),
            "model.bin bytes": (src / "model.bin").stat().st_size, "transport bytes": out.stat().st_size}


def _tensor(archive: np.lib.npyio.NpzFile, i: int, kind: str) -> np.ndarray:
    """Tensor `i` of a transport file: byte planes, int8 (the earlier format) or stored as is."""
    if kind == "planes":
        return dequantise(from_planes(archive[f"l{i}"], archive[f"h{i}"]), archive[f"s{i}"])
    if kind == "int8":
        return dequantise(archive[f"q{i}"], archive[f"s{i}"])
    if kind == "raw":
        return archive[f"r{i}"]
    raise ValueError(f"tensor {i} has transport kind {kind!r}, which this script does not know")


def expand(packed: Path, dest: Path) -> Path:
    """Write a float16 CTranslate2 directory from a transport ``.npz``; returns ``dest``."""
    with np.load(packed) as archive:
        header = json.loads(archive["header"].tobytes())
        tensors = {name: _tensor(archive, i, kind) for i, (name, kind) in enumerate(header["layout"])}
    dest.mkdir(parents=True, exist_ok=True)
    partial = dest / "model.bin.partial"
    write_model_bin(partial, header, tensors)
    partial.replace(dest / "model.bin")
    for name, text in header["files"].items():
        (dest / name).write_text(text)
    return dest


def check(src: Path, steps_per_std: float = STEPS_PER_STD) -> dict:
    """Pack and expand ``src``; the format round trip must be byte-identical, values within half a step."""
    header, original = read_model_bin(src / "model.bin")
    with tempfile.TemporaryDirectory() as tmp:
        same = Path(tmp) / "same.bin"
        write_model_bin(same, header, original)
        if same.read_bytes() != (src / "model.bin").read_bytes():
            raise AssertionError("reading and writing model.bin does not give the same bytes")
        summary = pack(src, Path(tmp) / "w.npz", steps_per_std)
        _, back = read_model_bin(expand(Path(tmp) / "w.npz", Path(tmp) / "out") / "model.bin")
    worst_step, worst_max = 0.0, 0.0
    for name, array in original.items():
        if back[name].shape != array.shape or back[name].dtype != array.dtype:
            raise AssertionError(f"{name}: {back[name].dtype}{back[name].shape} != {array.dtype}{array.shape}")
        if array.dtype != np.float16:
            continue
        rows = array.astype(np.float32).reshape(array.shape[0], -1)
        err = np.abs(back[name].astype(np.float32).reshape(rows.shape) - rows)
        step = np.maximum(rows.std(axis=1, keepdims=True) / steps_per_std, 1e-12)
        # float16 keeps 11 significant bits: rounding the expanded value adds up to 2**-11 of it
        worst_step = max(worst_step, float(((err - np.abs(rows) * 2**-11) / step).max(initial=0)))
        worst_max = max(worst_max, float((err / np.maximum(np.abs(rows).max(axis=1, keepdims=True), 1e-12)).max()))
    if worst_step > 0.5 + 1e-3:
        raise AssertionError(f"expanded weights differ by {worst_step:.4f} of a step (at most 0.5 allowed)")
    return {**summary, "worst error / step": worst_step, "worst error / row max": worst_max}


def main(argv: list[str] | None = None) -> int:
    """Command line: pack, expand or check."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("pack", "expand", "check"))
    parser.add_argument("paths", nargs="+", type=Path)
    args = parser.parse_args(argv)
    if args.command == "pack":
        print(json.dumps(pack(*args.paths)))
    elif args.command == "expand":
        print(expand(*args.paths))
    else:
        print(json.dumps(check(args.paths[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
