"""int8 for openai-whisper models on CPU: dynamic quantisation of Whisper's own ``Linear`` layers, per part.

``torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear})`` changes nothing on a Whisper model: its
layers are ``whisper.model.Linear``, a subclass, and the quantisation mapping goes by exact type. ``quantize``
swaps them for ``Int8Linear`` modules (int8 weights per output channel, int32 accumulation) part by part,
because int8 pays on some parts of the model and not on others on a given CPU (``RECOMMENDED``; measured by
``scripts/profile_quantize.py``, numbers in docs/benchmarks.md, "Speed (issue 10)").

Activations are quantised per row (per frame or token), as CTranslate2 does, not with one scale for the
whole call as ``torch.ao``'s dynamic Linear does: in a batch of 16 windows one loud frame or one prompt
token sets the scale for all 24,000 rows (in base's encoder the loudest row of an MLP input is up to 25
times the median row). Calls of at most ``PER_TENSOR_MAX_ROWS`` rows (one decoding step of a batch) keep
fbgemm's per-call kernel, twice as fast there. Which models get per-row scales: ``ROW_SCALES_MIN_WIDTH``.

Parts: ``encoder.attn`` and ``encoder.mlp`` (the encoder blocks' attention projections and MLPs),
``decoder.attn``, ``decoder.cross_attn`` and ``decoder.mlp`` (the decoder blocks'), ``logits`` (the output
projection, tied to ``token_embedding.weight``: an int8 copy of the embedding computes the logits, the
fp32 embedding still embeds the tokens), and the shorthands ``encoder`` and ``decoder``.
"""

from __future__ import annotations

import copy
import warnings
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
import whisper
from torch import nn
from torch.ao.nn.quantized.dynamic import Linear as DynamicInt8Linear
from torch.ao.quantization import per_channel_dynamic_qconfig
from whisper.model import TextDecoder

BLOCK_PARTS = ("encoder.attn", "encoder.mlp", "decoder.attn", "decoder.cross_attn", "decoder.mlp")
PARTS = (*BLOCK_PARTS, "logits")
SHORTHANDS = {
    "encoder": ("encoder.attn", "encoder.mlp"),
    "decoder": ("decoder.attn", "decoder.cross_attn", "decoder.mlp"),
    "all": PARTS,
}
# What pays on the 2-core Zen 4 CPU of docs/benchmarks.md (scripts/profile_quantize.py, CPU time, 1 thread):
# encoder 0.65× (tiny.en) / 0.58× (base); decoder step with int8 logits 0.43× / 0.38× at batch 1, 0.73× at
# batch 16. Every part is faster or neutral, so all of them. WER: docs/benchmarks.md, "Speed (issue 10)".
RECOMMENDED: tuple[str, ...] = ("encoder", "decoder", "logits")


def expand_parts(parts: str | Iterable[str]) -> tuple[str, ...]:
    """The part names of `parts`, shorthands expanded, in PARTS order; unknown names raise ValueError."""
    names = [parts] if isinstance(parts, str) else list(parts)
    wanted: set[str] = set()
    for name in names:
        if name in SHORTHANDS:
            wanted.update(SHORTHANDS[name])
        elif name in PARTS:
            wanted.add(name)
        else:
            raise ValueError(f"unknown part {name!r}; use any of {', '.join(PARTS)} or {', '.join(SHORTHANDS)}")
    return tuple(p for p in PARTS if p in wanted)


# Per-row activation scales, measured with transcribe_fast on mixed recordings that were not used to tune it
# (seeds 6-17, docs/benchmarks.md, "Per-row activation scales"): base 8.56 WER per call, 7.75 per row (fp32
# 7.39, faster-whisper int8 9.94), 10% more time; tiny.en 8.31 per call, 8.06 per row on 11 recordings,
# within noise, and 7% more time. So "auto" scales per row from base's width up, per call below it.
ROW_SCALES_MIN_WIDTH = 512
# calls with more rows than this (encoder, cross-attention keys and values, the prompt of a large batch) scale
# activations per row; smaller ones (a decoding step) use fbgemm's per-call scale
PER_TENSOR_MAX_ROWS = 64
ROW_CHUNK = 512  # rows quantised, multiplied and rescaled at a time: the temporaries stay in cache


def _dynamic_linear(weight: torch.Tensor, bias: torch.Tensor | None) -> DynamicInt8Linear:
    """torch.ao's dynamic int8 Linear (fbgemm: weights per output channel, one activation scale per call)."""
    out_features, in_features = weight.shape
    plain = nn.Linear(in_features, out_features, bias=bias is not None)
    with torch.no_grad():
        plain.weight.copy_(weight)
        if bias is not None:
            plain.bias.copy_(bias)
    plain.qconfig = per_channel_dynamic_qconfig
    with warnings.catch_warnings():  # torch 2.13 flags quantized tensor creation as deprecated; it still works
        warnings.filterwarnings("ignore", message=".*quantized tensor creation.*", category=UserWarning)
        warnings.filterwarnings("ignore", message=".*torch.quantize_per.*", category=UserWarning)
        return DynamicInt8Linear.from_float(plain)


def _version(x: torch.Tensor) -> int:
    """x's in-place-change counter; inference tensors have none (-1: trust the identity alone)."""
    return -1 if x.is_inference() else x._version


@dataclass
class _QuantizedRows:
    """The last input quantised per row, kept for the next layers that read the same tensor."""

    source: weakref.ref | None = None
    version: int = -2
    values: torch.Tensor | None = None  # int8, one row per input row
    scales: torch.Tensor | None = None  # float32 (rows, 1)

    def get(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(int8 rows, scales) of `x` as rows of its last dimension; reused when `x` is the tensor quantised
        last and is unchanged since.

        Attention's query, key and value read one tensor, and every decoder layer's cross-attention keys and
        values read the same encoder output: it is quantised once instead of 3 (or 2 × layers) times.
        """
        version = _version(x)
        if self.source is not None and self.source() is x and self.version == version:
            return self.values, self.scales
        rows = x.reshape(-1, x.shape[-1])
        values = torch.empty(rows.shape, dtype=torch.int8)
        scales = torch.empty(len(rows), 1)
        for first in range(0, len(rows), ROW_CHUNK):
            chunk, last = rows[first : first + ROW_CHUNK], first + ROW_CHUNK
            # max |x| per row from amax and amin: torch's abs-max reductions are 5x slower on this CPU
            scale = torch.maximum(chunk.amax(1, keepdim=True), chunk.amin(1, keepdim=True).neg_())
            scale.clamp_(min=1e-12).div_(127.0)
            values[first:last] = torch.div(chunk, scale).round_()
            scales[first:last] = scale
        self.source, self.version, self.values, self.scales = weakref.ref(x), version, values, scales
        return values, scales


_LAST_ROWS = _QuantizedRows()  # one entry for the process: inference here runs one model call at a time


class Int8Linear(nn.Module):
    """``x @ weight.T + bias`` with int8 weights (per output channel) and int8 activations (per row)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None = None, per_row: bool = True) -> None:
        super().__init__()
        self.per_row = per_row
        weight = weight.detach().float()
        bias = None if bias is None else bias.detach().float()
        self.out_features, self.in_features = weight.shape
        self.step = _dynamic_linear(weight, bias)  # small calls, and every call when not per_row
        if per_row:
            scale = weight.abs().amax(dim=1).clamp(min=1e-12) / 127.0
            quantized = torch.round(weight / scale[:, None]).clamp(-127, 127).to(torch.int8)
            self.register_buffer("weight_int8", quantized)
            self.register_buffer("weight_scale", scale)
            self.register_buffer("bias", torch.zeros(self.out_features) if bias is None else bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype != torch.float32:
            x = x.float()
        if not self.per_row or x.numel() <= PER_TENSOR_MAX_ROWS * self.in_features:
            return self.step(x)
        with torch.no_grad():
            values, scales = _LAST_ROWS.get(x)
            out = torch.empty(len(values), self.out_features)
            for first in range(0, len(values), ROW_CHUNK):
                last = first + ROW_CHUNK
                product = torch._int_mm(values[first:last], self.weight_int8.t()).float().mul_(scales[first:last])
                torch.addcmul(self.bias, product, self.weight_scale, out=out[first:last])
        return out.reshape(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        scales = "per row" if self.per_row else "per call"
        return f"in_features={self.in_features}, out_features={self.out_features}, activation scales {scales}"


def int8_linear(weight: torch.Tensor, bias: torch.Tensor | None = None, per_row: bool = True) -> Int8Linear:
    """An int8 Linear computing ``x @ weight.T + bias`` (see ``Int8Linear``)."""
    return Int8Linear(weight, bias, per_row)


def row_scales_pay(model: Any) -> bool:
    """Whether `model` gets per-row activation scales under ``activations="auto"`` (measured: ROW_SCALES_MIN_WIDTH)."""
    return model.dims.n_audio_state >= ROW_SCALES_MIN_WIDTH


def _linear_slots(model: Any, part: str) -> Iterator[tuple[nn.Module, str]]:
    """(parent module, attribute name) of every Linear layer that belongs to `part`."""
    side, kind = part.split(".")
    stack = model.encoder if side == "encoder" else model.decoder
    for block in stack.blocks:
        if kind == "mlp":
            yield from ((block.mlp, str(i)) for i, m in enumerate(block.mlp) if isinstance(m, nn.Linear))
            continue
        attention = block.attn if kind == "attn" else block.cross_attn
        yield from ((attention, name) for name in ("query", "key", "value", "out"))


class Int8LogitsDecoder(TextDecoder):
    """Whisper's TextDecoder whose logits come from an int8 copy of the tied embedding (``logits_head``)."""

    logits_head: Int8Linear

    def forward(self, x: torch.Tensor, xa: torch.Tensor, kv_cache: dict | None = None) -> torch.Tensor:
        """whisper.model.TextDecoder.forward with ``logits_head(x)`` instead of ``x @ embedding.T``."""
        offset = next(iter(kv_cache.values())).shape[1] if kv_cache else 0
        x = self.token_embedding(x) + self.positional_embedding[offset : offset + x.shape[-1]]
        x = x.to(xa.dtype)
        for block in self.blocks:
            x = block(x, xa, mask=self.mask, kv_cache=kv_cache)
        return self.logits_head(self.ln(x)).float()


def quantize(
    model: Any, parts: str | Iterable[str] = RECOMMENDED, inplace: bool = False, activations: str = "auto"
) -> Any:
    """A copy of a CPU Whisper model (the model itself with ``inplace=True``) with `parts` in int8.

    Every ``whisper.model.Linear`` of the chosen parts becomes an ``Int8Linear``; ``"logits"`` adds an
    int8 copy of the tied token embedding for the output projection. `activations` is ``"row"`` (one scale
    per frame or token), ``"call"`` (one per call, fbgemm) or ``"auto"`` (``row_scales_pay``). The result
    decodes with ``model.transcribe``, ``whisper.decode`` and course_utils' batched decoding like the
    original. ``model.int8_parts`` and ``model.int8_activations`` record what was done.
    """
    chosen = expand_parts(parts)
    if activations not in ("auto", "row", "call"):
        raise ValueError(f"activations must be 'auto', 'row' or 'call', got {activations!r}")
    if not isinstance(model, whisper.model.Whisper):
        raise TypeError(f"quantize takes an openai-whisper model (whisper.model.Whisper), got {type(model).__name__}")
    if model.device.type != "cpu":
        raise ValueError(f"int8 dynamic quantisation runs on CPU only; the model is on {model.device} (use fp16 there)")
    if activations == "auto":
        activations = "row" if row_scales_pay(model) else "call"
    if getattr(model, "int8_parts", ()) and getattr(model, "int8_activations", activations) != activations:
        raise ValueError(
            f"the model already has {model.int8_activations!r} activation scales; asked for {activations!r}"
        )
    per_row = activations == "row"
    target = model if inplace else copy.deepcopy(model)
    done = set(getattr(target, "int8_parts", ()))
    for part in chosen:
        if part in done:
            continue
        if part == "logits":
            decoder = target.decoder
            decoder.logits_head = int8_linear(decoder.token_embedding.weight, None, per_row)
            decoder.__class__ = Int8LogitsDecoder
        else:
            for parent, name in _linear_slots(target, part):
                layer = getattr(parent, name)
                if isinstance(layer, Int8Linear):
                    continue
                setattr(parent, name, int8_linear(layer.weight, layer.bias, per_row))
        done.add(part)
    target.int8_parts = tuple(p for p in PARTS if p in done)
    target.int8_activations = activations
    return target.eval()


def int8_layers(model: Any) -> int:
    """How many int8 Linear layers the model holds (the logits head included)."""
    return sum(isinstance(m, Int8Linear) for m in model.modules())
