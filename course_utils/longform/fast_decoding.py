"""Three exact speed-ups of Whisper's decoding, used only where they were checked to give Whisper's tokens.

The first two are memory-layout changes measured on a 2-core CPU with ~10 windows per batch; the sampled
tokens are the same:

- cross-attention: Whisper re-views the cached encoder keys and values as strided (batch, heads, 1500, dim)
  tensors at every step, and attention over strided memory is ~30 % slower, so a contiguous copy is made
  once per decode call and used instead (``_ContiguousAttention``);
- logits: ``x @ embedding.T`` for a few rows is computed as ``(embedding @ x.T).T`` (``_decoder_forward``, a
  copy of ``whisper.model.TextDecoder.forward`` with only that line changed), a product shape the BLAS
  handles ~2× faster; it is the largest single cost of a batched step.

A third is a change of schedule (``decode``): ``whisper.decode`` keeps computing every row of a batch until
the last one ends, although a finished row only appends end-of-text; here finished rows leave the batch
(their key/value caches are cut out) once a quarter of the rows still running have finished, so a batch
with one long window costs little more than that window. The tokens of every row are computed by the same
code from the same cache, so they are Whisper's (a test compares tokens, log-probabilities and no-speech
probabilities with ``whisper.decode``). It overrides ``DecodingTask._main_loop``, so it runs only where the
other two do (a checked Whisper version).

Because ``_decoder_forward`` copies Whisper's code, it is pinned to the openai-whisper versions it was
checked against (``CHECKED_WHISPER_VERSIONS``) and verified once per model at first use: a short greedy
decode of random audio features with and without the patch must give the same tokens. Otherwise decoding
runs Whisper's own code and one warning line says why (``FastDecodingFallback``).
"""

from __future__ import annotations

import importlib.metadata
import types
import warnings
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
import whisper
from whisper.decoding import DecodingOptions, DecodingResult, DecodingTask

SHRINK_FRACTION = 0.25  # finished rows leave the batch once they are this share of the rows still running
# openai-whisper releases whose TextDecoder.forward _decoder_forward copies (checked line by line)
CHECKED_WHISPER_VERSIONS = frozenset({"20250625"})
_VERIFIED: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()  # model → patch verified
_WARNED: set[str] = set()  # fallback reasons already reported (one line each per process)


class FastDecodingFallback(RuntimeWarning):
    """The decoding speed-ups were not used (unchecked Whisper version, other model layout, other tokens)."""


def whisper_version() -> str:
    """The installed openai-whisper version ('' when unknown)."""
    try:
        return importlib.metadata.version("openai-whisper")
    except importlib.metadata.PackageNotFoundError:
        return ""


def _warn_once(reason: str) -> None:
    """One visible warning line per reason and process: decoding falls back to Whisper's own code."""
    if reason not in _WARNED:
        _WARNED.add(reason)
        warnings.warn(
            f"course_utils.longform: decoding speed-ups off ({reason}); using Whisper's own decoder, "
            "same text, slower",
            FastDecodingFallback,
            stacklevel=4,
        )


def _patchable(model: Any) -> str:
    """'' when the model has the layout the patch expects, else the reason it does not."""
    version = whisper_version()
    if version not in CHECKED_WHISPER_VERSIONS:
        checked = ", ".join(sorted(CHECKED_WHISPER_VERSIONS))
        return f"openai-whisper {version or 'unknown'} not among the checked versions {checked}"
    decoder = getattr(model, "decoder", None)
    blocks = getattr(decoder, "blocks", None)
    needed = ("token_embedding", "positional_embedding", "ln", "mask")
    if blocks is None or not all(hasattr(decoder, a) for a in needed):
        return "the model's decoder is not whisper.model.TextDecoder"
    if not all(hasattr(getattr(b, "cross_attn", None), "n_head") for b in blocks):
        return "the decoder blocks have no whisper cross-attention"
    return ""


@contextmanager
def _patched(model: Any) -> Iterator[None]:
    """The two speed-ups installed on this model's instances only, removed after the block."""
    decoder = model.decoder
    modules = [b.cross_attn for b in decoder.blocks]
    for module in modules:
        module.qkv_attention = _ContiguousAttention(module)
    decoder.forward = types.MethodType(_decoder_forward, decoder)
    try:
        yield
    finally:
        for module in modules:
            module.__dict__.pop("qkv_attention", None)
        decoder.__dict__.pop("forward", None)


def _verify(model: Any) -> bool:
    """True when a short greedy decode of random features gives the same tokens with and without the patch."""
    dims = model.dims
    generator = torch.Generator().manual_seed(0)
    dtype = next(model.parameters()).dtype
    features = torch.randn(2, dims.n_audio_ctx, dims.n_audio_state, generator=generator)
    features = features.to(model.device, dtype)
    options = whisper.DecodingOptions(
        language="en", without_timestamps=True, fp16=dtype == torch.float16, temperature=0.0, sample_len=8
    )
    with torch.inference_mode():
        stock = whisper.decode(model, features, options)
        with _patched(model):
            fast = whisper.decode(model, features, options)
    return [r.tokens for r in stock] == [r.tokens for r in fast]


@contextmanager
def fast_decoding(model: Any) -> Iterator[bool]:
    """Inside the block the model decodes with the speed-ups when they are safe; yields whether they are on.

    Falls back to Whisper's own code, with one warning line, when the Whisper version was not checked, the
    model is not laid out like Whisper's, or the first-use check finds different tokens.
    """
    reason = _patchable(model)
    if not reason:
        try:
            ok = _VERIFIED.get(model)
        except TypeError:  # not weak-referenceable: verify every time (cheap)
            ok = None
        if ok is None:
            ok = _verify(model)
            try:
                _VERIFIED[model] = ok
            except TypeError:
                pass
        if not ok:
            reason = "the patched decoder gave other tokens than Whisper's on the first-use check"
    if reason:
        _warn_once(reason)
        yield False
        return
    with _patched(model):
        yield True


def _decoder_forward(
    self: Any, x: torch.Tensor, xa: torch.Tensor, kv_cache: dict | None = None
) -> torch.Tensor:
    """whisper.model.TextDecoder.forward with the final projection as (embedding @ x.T).T (same logits)."""
    offset = next(iter(kv_cache.values())).shape[1] if kv_cache else 0
    x = self.token_embedding(x) + self.positional_embedding[offset : offset + x.shape[-1]]
    x = x.to(xa.dtype)
    for block in self.blocks:
        x = block(x, xa, mask=self.mask, kv_cache=kv_cache)
    x = self.ln(x)
    head = getattr(self, "logits_head", None)  # int8 model (course_utils.quantize): its own logits, unchanged
    if head is not None:
        return head(x).float()
    n_batch, n_ctx, n_state = x.shape
    weight = self.token_embedding.weight.to(x.dtype)
    return (weight @ x.reshape(n_batch * n_ctx, n_state).T).T.reshape(n_batch, n_ctx, -1).float()


class _ContiguousAttention:
    """A drop-in ``qkv_attention`` for one cross-attention module that caches contiguous keys and values."""

    def __init__(self, module: Any) -> None:
        self.module = module
        self.source: torch.Tensor | None = None  # the cached key tensor the copies were made from
        self.keys = self.values = torch.empty(0)

    def __call__(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: Any = None
    ) -> tuple[Any, None]:
        own = mask is not None or q.shape[1] != 1 or not getattr(type(self.module), "use_sdpa", True)
        if own:  # not the one-token cross-attention step, or attention weights wanted: Whisper's own code
            return type(self.module).qkv_attention(self.module, q, k, v, mask)
        n_batch, n_ctx, _ = k.shape
        heads = self.module.n_head
        if self.source is not k:
            self.source = k
            self.keys = k.view(n_batch, n_ctx, heads, -1).permute(0, 2, 1, 3).contiguous()
            self.values = v.view(n_batch, n_ctx, heads, -1).permute(0, 2, 1, 3).contiguous()
        query = q.view(n_batch, 1, heads, -1).permute(0, 2, 1, 3)
        out = F.scaled_dot_product_attention(query, self.keys, self.values)
        return out.permute(0, 2, 1, 3).flatten(start_dim=2), None


def decode(model: Any, features: torch.Tensor, options: DecodingOptions) -> list[DecodingResult]:
    """``whisper.decode`` of a batch of encoded windows, with finished rows leaving the batch (same tokens)."""
    return _ShrinkingTask(model, options).run(features)


class _ShrinkingTask(DecodingTask):
    """Whisper's DecodingTask whose main loop drops finished rows (greedy, one sample per window only)."""

    def _main_loop(self, audio_features: torch.Tensor, tokens: torch.Tensor) -> tuple[Any, Any, Any]:
        if self.n_group != 1 or not hasattr(self.inference, "kv_cache"):  # beam search: Whisper's loop
            return super()._main_loop(audio_features, tokens)
        n_batch = tokens.shape[0]
        eot = self.tokenizer.eot
        sum_logprobs = torch.zeros(n_batch, device=audio_features.device)
        no_speech_probs = [float("nan")] * n_batch
        rows = torch.arange(n_batch, device=tokens.device)  # the batch rows still running, in cache order
        try:
            for i in range(self.sample_len):
                running = tokens[rows]
                logits = self.inference.logits(running, audio_features)
                if i == 0 and self.tokenizer.no_speech is not None:
                    probs_at_sot = logits[:, self.sot_index].float().softmax(dim=-1)
                    no_speech_probs = probs_at_sot[:, self.tokenizer.no_speech].tolist()
                logits = logits[:, -1]
                for logit_filter in self.logit_filters:
                    logit_filter.apply(logits, running)
                part = sum_logprobs[rows]
                running, _ = self.decoder.update(running, logits, part)
                sum_logprobs[rows] = part
                tokens = F.pad(tokens, (0, 1), value=eot)
                tokens[rows, -1] = running[:, -1]
                alive = running[:, -1] != eot
                if not bool(alive.any()) or tokens.shape[-1] > self.n_ctx:
                    break
                n_done = len(rows) - int(alive.sum())
                if n_done and n_done >= SHRINK_FRACTION * len(rows):
                    keep = alive.nonzero().flatten()
                    cache = self.inference.kv_cache
                    for module, tensor in cache.items():
                        cache[module] = tensor[keep].detach()
                    rows = rows[keep]
        finally:
            self.inference.cleanup_caching()
        return tokens, sum_logprobs, no_speech_probs
