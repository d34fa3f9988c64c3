"""Read a CTranslate2 (faster-whisper) Whisper model directory and convert it to an openai-whisper checkpoint.

Pure functions, no network. The conversion undoes what CTranslate2's converter fused: the self-attention
query/key/value projections are one matrix (rows q, k, v; the key has no bias in Whisper), the cross-attention
key/value projections are another. Model dimensions come from the tensor shapes, alignment heads from the
directory's ``config.json``.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

# Order of CTranslate2's DataType enum (include/ctranslate2/types.h).
_CT2_DTYPES = (torch.float32, torch.int8, torch.int16, torch.int32, torch.float16, torch.bfloat16)
_SUPPORTED_SPEC = "WhisperSpec"


@dataclass
class CT2Model:
    """The raw content of a CTranslate2 ``model.bin``: its spec and named tensors."""

    spec: str
    revision: int
    binary_version: int
    variables: dict[str, torch.Tensor]
    aliases: dict[str, str]


def _read_exact(fp: BinaryIO, n: int, path: Path) -> bytes:
    data = fp.read(n)
    if len(data) != n:
        raise ValueError(
            f"{path} is truncated: expected {n} more bytes at offset {fp.tell() - len(data)}. "
            "Reinstall the model package or re-copy the directory."
        )
    return data


def _read_string(fp: BinaryIO, path: Path) -> str:
    (length,) = struct.unpack("<H", _read_exact(fp, 2, path))
    return _read_exact(fp, length, path)[:-1].decode("utf-8")


def read_ct2_model(path: str | Path) -> CT2Model:
    """Parse a CTranslate2 ``model.bin`` (binary format version 6) into tensors, keeping each stored dtype."""
    path = Path(path)
    if path.is_dir():
        path = path / "model.bin"
    if not path.is_file():
        raise FileNotFoundError(f"No CTranslate2 model file at {path}: a model directory holds model.bin.")
    with open(path, "rb") as fp:
        (binary_version,) = struct.unpack("<I", _read_exact(fp, 4, path))
        if not 1 <= binary_version <= 6:
            raise ValueError(f"{path} is not a CTranslate2 model.bin (binary version {binary_version}).")
        spec = _read_string(fp, path) if binary_version >= 2 else ""
        (revision,) = struct.unpack("<I", _read_exact(fp, 4, path)) if binary_version >= 2 else (1,)
        (count,) = struct.unpack("<I", _read_exact(fp, 4, path))
        variables: dict[str, torch.Tensor] = {}
        for _ in range(count):
            name = _read_string(fp, path)
            (rank,) = struct.unpack("<B", _read_exact(fp, 1, path))
            shape = struct.unpack(f"<{rank}I", _read_exact(fp, 4 * rank, path))
            (type_id,) = struct.unpack("<B", _read_exact(fp, 1, path))
            (num_bytes,) = struct.unpack("<I", _read_exact(fp, 4, path))
            if type_id >= len(_CT2_DTYPES):
                raise ValueError(f"{path}: variable {name} has unknown data type id {type_id}.")
            buffer = bytearray(_read_exact(fp, num_bytes, path))
            tensor = torch.frombuffer(buffer, dtype=_CT2_DTYPES[type_id]) if num_bytes else torch.empty(0)
            variables[name] = tensor.reshape(shape)
        aliases = {}
        if binary_version >= 3:
            (alias_count,) = struct.unpack("<I", _read_exact(fp, 4, path))
            for _ in range(alias_count):
                alias = _read_string(fp, path)
                aliases[alias] = _read_string(fp, path)
    return CT2Model(spec, revision, binary_version, variables, aliases)


def _float_weight(variables: dict[str, torch.Tensor], name: str) -> torch.Tensor:
    """A weight as float32, dequantising int8/int16 weights with their per-row ``weight_scale``."""
    weight = variables[name]
    if weight.dtype in (torch.int8, torch.int16):
        scale = variables[name.replace("/weight", "/weight_scale")].float()
        return weight.float() / scale.reshape(-1, *([1] * (weight.dim() - 1)))
    return weight.float()


def _layer_count(variables: dict[str, torch.Tensor], prefix: str) -> int:
    indices = {int(m.group(1)) for name in variables if (m := re.match(rf"{prefix}/layer_(\d+)/", name))}
    return max(indices) + 1 if indices else 0


def _scalar(variables: dict[str, torch.Tensor], name: str) -> int:
    return int(variables[name].reshape(-1)[0].item())


def whisper_dims(ct2: CT2Model) -> dict[str, int]:
    """The openai-whisper ``ModelDimensions`` read off the tensor shapes and stored head counts."""
    v = ct2.variables
    return {
        "n_mels": v["encoder/conv1/weight"].shape[1],
        "n_audio_ctx": v["encoder/position_encodings/encodings"].shape[0],
        "n_audio_state": v["encoder/conv1/weight"].shape[0],
        "n_audio_head": _scalar(v, "encoder/num_heads"),
        "n_audio_layer": _layer_count(v, "encoder"),
        "n_vocab": v["decoder/embeddings/weight"].shape[0],
        "n_text_ctx": v["decoder/position_encodings/encodings"].shape[0],
        "n_text_state": v["decoder/embeddings/weight"].shape[1],
        "n_text_head": _scalar(v, "decoder/num_heads"),
        "n_text_layer": _layer_count(v, "decoder"),
    }


def _linear(v: dict, src: str, dst: str, out: dict, bias: bool = True) -> None:
    out[f"{dst}.weight"] = _float_weight(v, f"{src}/weight")
    if bias:
        out[f"{dst}.bias"] = v[f"{src}/bias"].float()


def _norm(v: dict, src: str, dst: str, out: dict) -> None:
    out[f"{dst}.weight"] = v[f"{src}/gamma"].float()
    out[f"{dst}.bias"] = v[f"{src}/beta"].float()


def _split_rows(v: dict, src: str, dsts: list[str], out: dict, bias_free: str) -> None:
    """Split a fused projection (rows stacked in ``dsts`` order) into separate linear layers."""
    weights = _float_weight(v, f"{src}/weight").chunk(len(dsts), dim=0)
    biases = v[f"{src}/bias"].float().chunk(len(dsts), dim=0)
    for dst, weight, bias in zip(dsts, weights, biases, strict=True):
        out[f"{dst}.weight"] = weight.contiguous()
        if dst.endswith(bias_free):
            if bias.abs().max() > 1e-6:
                raise ValueError(f"{src}: the key projection has a non-zero bias; this is not a Whisper model.")
        else:
            out[f"{dst}.bias"] = bias.contiguous()


def whisper_state_dict(ct2: CT2Model) -> dict[str, torch.Tensor]:
    """Map CTranslate2 variable names to openai-whisper's state-dict names (float32 tensors)."""
    if ct2.spec != _SUPPORTED_SPEC:
        raise ValueError(f"Expected a {_SUPPORTED_SPEC} model, found {ct2.spec!r}: this is not a Whisper model.")
    v, sd = ct2.variables, {}
    _linear(v, "encoder/conv1", "encoder.conv1", sd)
    _linear(v, "encoder/conv2", "encoder.conv2", sd)
    sd["encoder.positional_embedding"] = v["encoder/position_encodings/encodings"].float()
    for i in range(_layer_count(v, "encoder")):
        src, dst = f"encoder/layer_{i}", f"encoder.blocks.{i}"
        _norm(v, f"{src}/self_attention/layer_norm", f"{dst}.attn_ln", sd)
        _split_rows(v, f"{src}/self_attention/linear_0", [f"{dst}.attn.{p}" for p in ("query", "key", "value")],
                    sd, bias_free=".key")
        _linear(v, f"{src}/self_attention/linear_1", f"{dst}.attn.out", sd)
        _norm(v, f"{src}/ffn/layer_norm", f"{dst}.mlp_ln", sd)
        _linear(v, f"{src}/ffn/linear_0", f"{dst}.mlp.0", sd)
        _linear(v, f"{src}/ffn/linear_1", f"{dst}.mlp.2", sd)
    _norm(v, "encoder/layer_norm", "encoder.ln_post", sd)

    sd["decoder.token_embedding.weight"] = _float_weight(v, "decoder/embeddings/weight")
    sd["decoder.positional_embedding"] = v["decoder/position_encodings/encodings"].float()
    for i in range(_layer_count(v, "decoder")):
        src, dst = f"decoder/layer_{i}", f"decoder.blocks.{i}"
        _norm(v, f"{src}/self_attention/layer_norm", f"{dst}.attn_ln", sd)
        _split_rows(v, f"{src}/self_attention/linear_0", [f"{dst}.attn.{p}" for p in ("query", "key", "value")],
                    sd, bias_free=".key")
        _linear(v, f"{src}/self_attention/linear_1", f"{dst}.attn.out", sd)
        _norm(v, f"{src}/attention/layer_norm", f"{dst}.cross_attn_ln", sd)
        _linear(v, f"{src}/attention/linear_0", f"{dst}.cross_attn.query", sd)
        _split_rows(v, f"{src}/attention/linear_1", [f"{dst}.cross_attn.{p}" for p in ("key", "value")],
                    sd, bias_free=".key")
        _linear(v, f"{src}/attention/linear_2", f"{dst}.cross_attn.out", sd)
        _norm(v, f"{src}/ffn/layer_norm", f"{dst}.mlp_ln", sd)
        _linear(v, f"{src}/ffn/linear_0", f"{dst}.mlp.0", sd)
        _linear(v, f"{src}/ffn/linear_1", f"{dst}.mlp.2", sd)
    _norm(v, "decoder/layer_norm", "decoder.ln", sd)
    return sd


def read_config(model_dir: str | Path) -> dict:
    """The directory's ``config.json`` (alignment heads, language ids, suppressed tokens); empty if absent."""
    path = Path(model_dir) / "config.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def alignment_heads_dump(heads: list[list[int]], n_text_layer: int, n_text_head: int) -> bytes:
    """Encode (layer, head) pairs the way ``Whisper.set_alignment_heads`` expects (gzip + base85 bool mask)."""
    mask = np.zeros((n_text_layer, n_text_head), dtype=bool)
    for layer, head in heads:
        if not (0 <= layer < n_text_layer and 0 <= head < n_text_head):
            raise ValueError(f"Alignment head ({layer}, {head}) is outside a {n_text_layer}x{n_text_head} decoder.")
        mask[layer, head] = True
    return base64.b85encode(gzip.compress(mask.tobytes(), mtime=0))


def convert_ct2_to_whisper(model_dir: str | Path, dtype: torch.dtype = torch.float16) -> dict:
    """Build an openai-whisper checkpoint dict (``dims``, ``model_state_dict``, ``alignment_heads``)."""
    ct2 = read_ct2_model(model_dir)
    dims = whisper_dims(ct2)
    state = {name: tensor.to(dtype) for name, tensor in whisper_state_dict(ct2).items()}
    heads = read_config(model_dir).get("alignment_heads")
    dump = alignment_heads_dump(heads, dims["n_text_layer"], dims["n_text_head"]) if heads else None
    return {"dims": dims, "model_state_dict": state, "alignment_heads": dump}


def sha256_file(path: str | Path, chunk_size: int = 1 << 22) -> str:
    """Hex SHA256 of a file, read in chunks so large weights never sit in memory twice."""
    digest = hashlib.sha256()
    with open(path, "rb") as fp:
        while block := fp.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()
