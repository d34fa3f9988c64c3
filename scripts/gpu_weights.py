"""Whisper weights in a form small enough to travel to the GPU machine, and back to a normal model directory.

``pack`` reads a CTranslate2 (faster-whisper) model directory whose ``model.bin`` holds float16 tensors and
writes one ``.npz``: every large float tensor with two or more dimensions as int8 with one float32 scale per
output channel (row; or per row and group of ``GROUP`` inputs), everything else (biases, norms, head counts)
as stored. ``expand`` writes the directory back
with float16 weights in CTranslate2's own format, so the package's normal loader (``$COURSE_WHISPER_CT2_DIR``)
finds and converts it as it would the original. Only numpy is needed; no course_utils import, so the script
runs before the package is importable.

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
# Inputs sharing one scale; 0 = one scale per output row. On the corpus's 7 LibriSpeech clips (135 words) both
# per row and per 64 inputs change one word of one clip (opposite ways); per row is 5 MiB smaller.
GROUP = 0


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


def quantise(weight: np.ndarray, group: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per output channel, or per `group` inputs of it: (int8 values, float32 scales (rows, groups))."""
    rows = weight.astype(np.float32).reshape(weight.shape[0], -1)
    groups = rows.reshape(rows.shape[0], -1, group or rows.shape[1])
    scale = np.abs(groups).max(axis=2) / 127.0
    scale[scale == 0] = 1.0
    values = np.clip(np.rint(groups / scale[:, :, None]), -127, 127).astype(np.int8)
    return values.reshape(weight.shape), scale.astype(np.float32)


def dequantise(values: np.ndarray, scale: np.ndarray, dtype: np.dtype = np.float16) -> np.ndarray:
    """float weights from int8 values and their (rows, groups) scales."""
    groups = values.reshape(scale.shape[0], scale.shape[1], -1).astype(np.float32) * scale[:, :, None]
    return groups.reshape(values.shape).astype(dtype)


def pack(src: Path, out: Path, group: int = GROUP) -> dict:
    """Write the transport ``.npz`` of a CTranslate2 directory; returns a summary (sizes, tensor counts).

    ``group=0``: one scale per output row; else one per row and `group` consecutive inputs.
    """
    header, tensors = read_model_bin(src / "model.bin")
    arrays: dict[str, np.ndarray] = {}
    layout = []
    for i, (name, array) in enumerate(tensors.items()):
        if (array.dtype == np.float16 and array.ndim >= 2 and array.size >= _MIN_QUANTISED
                and (array.size // array.shape[0]) % (group or 1) == 0):
            arrays[f"q{i}"], arrays[f"s{i}"] = quantise(array, group)
            layout.append([name, "int8"])
        else:
            arrays[f"r{i}"] = array
            layout.append([name, "raw"])
    meta = {name: (src / name).read_text() for name in _META_FILES if (src / name).is_file()}
    arrays["header"] = np.frombuffer(json.dumps({**header, "layout": layout, "files": meta}).encode(), np.uint8)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)
    return {"tensors": len(layout), "int8": sum(kind == "int8" for _, kind in layout),
            "model.bin bytes": (src / "model.bin").stat().st_size, "transport bytes": out.stat().st_size}


def expand(packed: Path, dest: Path) -> Path:
    """Write a float16 CTranslate2 directory from a transport ``.npz``; returns ``dest``."""
    with np.load(packed) as archive:
        header = json.loads(archive["header"].tobytes())
        tensors = {}
        for i, (name, kind) in enumerate(header["layout"]):
            tensors[name] = dequantise(archive[f"q{i}"], archive[f"s{i}"]) if kind == "int8" else archive[f"r{i}"]
    dest.mkdir(parents=True, exist_ok=True)
    partial = dest / "model.bin.partial"
    write_model_bin(partial, header, tensors)
    partial.replace(dest / "model.bin")
    for name, text in header["files"].items():
        (dest / name).write_text(text)
    return dest


def check(src: Path) -> dict:
    """Pack and expand ``src``; the format round trip must be byte-identical, values within int8 error."""
    header, original = read_model_bin(src / "model.bin")
    with tempfile.TemporaryDirectory() as tmp:
        same = Path(tmp) / "same.bin"
        write_model_bin(same, header, original)
        if same.read_bytes() != (src / "model.bin").read_bytes():
            raise AssertionError("reading and writing model.bin does not give the same bytes")
        summary = pack(src, Path(tmp) / "w.npz")
        _, back = read_model_bin(expand(Path(tmp) / "w.npz", Path(tmp) / "out") / "model.bin")
    worst = 0.0
    for name, array in original.items():
        if back[name].shape != array.shape or back[name].dtype != array.dtype:
            raise AssertionError(f"{name}: {back[name].dtype}{back[name].shape} != {array.dtype}{array.shape}")
        if array.dtype == np.float16:
            rows = np.abs(array.astype(np.float32)).reshape(array.shape[0], -1).max(axis=1, keepdims=True)
            err = np.abs(back[name].astype(np.float32) - array.astype(np.float32)).reshape(array.shape[0], -1)
            worst = max(worst, float((err / np.maximum(rows, 1e-12)).max()))
    if worst > 1 / 127:  # half a step of the coarsest scale, plus float16 rounding
        raise AssertionError(f"expanded weights differ by {worst:.4f} of a row's largest value")
    return {**summary, "worst error / row max": worst}


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
