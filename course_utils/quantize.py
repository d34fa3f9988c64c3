"""int8 for openai-whisper models on CPU: dynamic quantisation of Whisper's own ``Linear`` layers, per part.

``torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear})`` changes nothing on a Whisper model: its
layers are ``whisper.model.Linear``, a subclass, and the quantisation mapping goes by exact type. ``quantize``
swaps them for ``torch.ao.nn.quantized.dynamic.Linear`` modules (int8 weights per output channel,
activations quantised per call, int32 accumulation: fbgemm/oneDNN kernels) part by part, because int8 pays
on some parts of the model and not on others on a given CPU (``RECOMMENDED``; measured by
``scripts/profile_quantize.py``, numbers in docs/benchmarks.md, "Speed (issue 10)").

Parts: ``encoder.attn`` and ``encoder.mlp`` (the encoder blocks' attention projections and MLPs),
``decoder.attn``, ``decoder.cross_attn`` and ``decoder.mlp`` (the decoder blocks'), ``logits`` (the output
projection, tied to ``token_embedding.weight``: an int8 copy of the embedding computes the logits, the
fp32 embedding still embeds the tokens), and the shorthands ``encoder`` and ``decoder``.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterable, Iterator
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


def int8_linear(weight: torch.Tensor, bias: torch.Tensor | None = None) -> DynamicInt8Linear:
    """A dynamic int8 Linear (weights per output channel) computing ``x @ weight.T + bias``."""
    out_features, in_features = weight.shape
    plain = nn.Linear(in_features, out_features, bias=bias is not None)
    with torch.no_grad():
        plain.weight.copy_(weight.detach().float())
        if bias is not None:
            plain.bias.copy_(bias.detach().float())
    plain.qconfig = per_channel_dynamic_qconfig
    with warnings.catch_warnings():  # torch 2.13 flags quantized tensor creation as deprecated; it still works
        warnings.filterwarnings("ignore", message=".*quantized tensor creation.*", category=UserWarning)
        warnings.filterwarnings("ignore", message=".*torch.quantize_per.*", category=UserWarning)
        return DynamicInt8Linear.from_float(plain)


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

    logits_head: DynamicInt8Linear

    def forward(self, x: torch.Tensor, xa: torch.Tensor, kv_cache: dict | None = None) -> torch.Tensor:
        """whisper.model.TextDecoder.forward with ``logits_head(x)`` instead of ``x @ embedding.T``."""
        offset = next(iter(kv_cache.values())).shape[1] if kv_cache else 0
        x = self.token_embedding(x) + self.positional_embedding[offset : offset + x.shape[-1]]
        x = x.to(xa.dtype)
        for block in self.blocks:
            x = block(x, xa, mask=self.mask, kv_cache=kv_cache)
        return self.logits_head(self.ln(x)).float()


def quantize(model: Any, parts: str | Iterable[str] = RECOMMENDED, inplace: bool = False) -> Any:
    """A copy of a CPU Whisper model (the model itself with ``inplace=True``) with `parts` in int8.

    Every ``whisper.model.Linear`` of the chosen parts becomes a dynamic int8 Linear; ``"logits"`` adds an
    int8 copy of the tied token embedding for the output projection. The result decodes with
    ``model.transcribe``, ``whisper.decode`` and course_utils' batched decoding like the original.
    ``model.int8_parts`` records what was quantised.
    """
    chosen = expand_parts(parts)
    if not isinstance(model, whisper.model.Whisper):
        raise TypeError(f"quantize takes an openai-whisper model (whisper.model.Whisper), got {type(model).__name__}")
    if model.device.type != "cpu":
        raise ValueError(f"int8 dynamic quantisation runs on CPU only; the model is on {model.device} (use fp16 there)")
    target = model if inplace else copy.deepcopy(model)
    done = set(getattr(target, "int8_parts", ()))
    for part in chosen:
        if part in done:
            continue
        if part == "logits":
            decoder = target.decoder
            decoder.logits_head = int8_linear(decoder.token_embedding.weight)
            decoder.__class__ = Int8LogitsDecoder
        else:
            for parent, name in _linear_slots(target, part):
                layer = getattr(parent, name)
                if isinstance(layer, DynamicInt8Linear):
                    continue
                setattr(parent, name, int8_linear(layer.weight, layer.bias))
        done.add(part)
    target.int8_parts = tuple(p for p in PARTS if p in done)
    return target.eval()


def int8_layers(model: Any) -> int:
    """How many dynamic int8 Linear layers the model holds (the logits head included)."""
    return sum(isinstance(m, DynamicInt8Linear) for m in model.modules())
