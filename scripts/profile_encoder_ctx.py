"""WER and time of batched short-file decoding: full 30-s encoder windows vs shorter ones (audio_ctx), fp32 vs int8.

The English corpus clips of 5–30 s with transcripts, grader held-out clips excluded, are decoded greedily
without timestamps, sorted by length, `--batch` files per ``whisper.decode`` call (as
``transcribe_batch``). Each configuration: encoder context = the batch's longest file + margin (whole
seconds) or the full 30 s, with the model in fp32 or with ``course_utils.quantize`` int8 parts.
Configurations take turns per round (interleaved) and the median time is reported with corpus WER.

    python scripts/profile_encoder_ctx.py --model tiny.en --margins full,0,1,2,4 --int8 none,recommended
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import whisper
from whisper.audio import N_FFT, N_FRAMES

from course_utils.corpus import list_clips
from course_utils.encoder_ctx import audio_ctx, ctx_for, trim_mel
from course_utils.grading import HELD_OUT_IDS
from course_utils.models import load_model
from course_utils.quantize import RECOMMENDED, quantize
from course_utils.scoring import corpus_wer
from course_utils.timing import watch_cpu

sys.path.insert(0, str(Path(__file__).parent))
from profile_quantize import write_json  # noqa: E402  (sibling script: the same JSON record)


def short_clips(min_s: float = 5.0, max_s: float = 30.0) -> list[Any]:
    """English corpus clips of `min_s`–`max_s` s with transcripts, held-out grading clips excluded."""
    clips = list_clips(language="en", with_transcript=True)
    return [c for c in clips if min_s <= c.duration_s <= max_s and c.id not in HELD_OUT_IDS]


def decode_batched(model: Any, audios: list[np.ndarray], batch: int, margin: float | None) -> tuple[list[str], dict]:
    """Texts in input order, and encode/decode seconds, of the batched decode with the given context margin."""
    order = sorted(range(len(audios)), key=lambda i: len(audios[i]))
    options = whisper.DecodingOptions(language="en", without_timestamps=True, temperature=0.0, fp16=False)
    texts = [""] * len(audios)
    spent = {"encode_s": 0.0, "decode_s": 0.0}
    with torch.inference_mode():
        for first in range(0, len(order), batch):
            ids = order[first : first + batch]
            mels = []
            for i in ids:
                tensor = torch.from_numpy(audios[i])
                mels.append(
                    whisper.pad_or_trim(whisper.log_mel_spectrogram(tensor, model.dims.n_mels, padding=N_FFT), N_FRAMES)
                )
            mel = torch.stack(mels)
            longest = max(len(audios[i]) for i in ids) / 16000
            n_ctx = model.dims.n_audio_ctx if margin is None else ctx_for(longest, margin)
            with audio_ctx(model, n_ctx):
                start = time.perf_counter()
                features = model.encoder(trim_mel(mel, n_ctx))
                encoded = time.perf_counter()
                results = whisper.decode(model, features, options)
                spent["decode_s"] += time.perf_counter() - encoded
                spent["encode_s"] += encoded - start
            for i, result in zip(ids, results, strict=True):
                texts[i] = result.text.strip()
    return texts, spent


def main(argv: list[str] | None = None) -> int:
    """Run the configurations, print a Markdown table, write JSON with --json."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--margins", default="full,0,1,2,4", help="seconds after the longest file, or 'full'")
    parser.add_argument("--int8", default="none,recommended", help="'none', 'recommended' or parts joined by +")
    parser.add_argument(
        "--configs", default="", help="weights:margin pairs instead of the product, e.g. none:full,recommended:2"
    )
    parser.add_argument("--limit", type=int, default=0, help="only the first N clips (0: all)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    clips = short_clips()[: args.limit or None]
    audios = [c.audio() for c in clips]
    refs = [c.transcript for c in clips]
    base = load_model(args.model, device="cpu").eval()
    models = {}
    pairs = [tuple(c.split(":")) for c in args.configs.split(",")] if args.configs else []
    specs = list(dict.fromkeys(p[0] for p in pairs)) if pairs else args.int8.split(",")
    for spec in specs:
        parts = () if spec == "none" else RECOMMENDED if spec == "recommended" else tuple(spec.split("+"))
        models[spec] = quantize(base, parts) if parts else base
    margins = [None if m == "full" else float(m) for m in args.margins.split(",")]
    configs = [(spec, m) for spec in models for m in margins]
    if pairs:
        configs = [(spec, None if m == "full" else float(m)) for spec, m in pairs]
    audio_s = sum(len(a) for a in audios) / 16000
    print(f"{args.model}: {len(clips)} clips, {audio_s:.1f} s, batch {args.batch}, {torch.get_num_threads()} threads")
    decode_batched(base, audios[:2], 2, None)  # warm-up
    runs: dict[tuple, list[dict]] = {c: [] for c in configs}
    texts: dict[tuple, list[str]] = {}
    with watch_cpu() as busy:
        for _ in range(args.rounds):
            for spec, margin in configs:
                start = time.perf_counter()
                out, spent = decode_batched(models[spec], audios, args.batch, margin)
                runs[(spec, margin)].append({"wall_s": time.perf_counter() - start, **spent})
                texts[(spec, margin)] = out
                score = corpus_wer(list(zip(refs, out, strict=True)))
                print(f"  {spec} margin {margin}: {runs[(spec, margin)][-1]} WER {100 * score:.2f}", flush=True)
    reference_texts = texts[configs[0]]
    rows = []
    print("| weights | encoder context | wall s | encode s | decode s | WER % | files changed |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for spec, margin in configs:
        med = {k: statistics.median(r[k] for r in runs[(spec, margin)]) for k in ("wall_s", "encode_s", "decode_s")}
        score = corpus_wer(list(zip(refs, texts[(spec, margin)], strict=True)))
        changed = sum(a != b for a, b in zip(texts[(spec, margin)], reference_texts, strict=True))
        label = "30 s (full)" if margin is None else f"longest + {margin:g} s"
        print(
            f"| {spec} | {label} | {med['wall_s']:.2f} | {med['encode_s']:.2f} | {med['decode_s']:.2f} | "
            f"{100 * score:.2f} | {changed} |"
        )
        rows.append(
            {
                "weights": spec,
                "margin_s": margin,
                **med,
                "wer": score,
                "changed": changed,
                "texts": texts[(spec, margin)],
            }
        )
    print(f"other programs used {busy.other_cores:.2f} cores on average")
    write_json(args.json, busy, model=args.model, clips=[c.id for c in clips], refs=refs, rows=rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
