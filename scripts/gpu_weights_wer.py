"""Do the transport weights (int8 per channel, expanded to float16) transcribe like the original? Measured on CPU.

Packs and expands a CTranslate2 directory with ``gpu_weights.py``, loads both through ``course_utils.load_model``
and transcribes the corpus's LibriSpeech clips greedily with each, then prints per-clip agreement and the
corpus WER of both. Exit status 1 when the WER difference is over ``--max-diff`` percentage points.

    python scripts/gpu_weights_wer.py SRC_CT2_DIR [--name tiny.en] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import course_utils as cu

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gpu_weights  # noqa: E402 (a sibling script, not a package)


def transcripts(model_dir: Path, name: str, clips: list) -> list[str]:
    """Greedy English transcripts of `clips` by the model in `model_dir` (CPU, FP32 compute)."""
    model = cu.load_model(name, device="cpu", ct2_dir=model_dir)
    options = cu.transcribe_options(model, fp16=False, language="en")
    return [model.transcribe(clip.audio(), **options)["text"].strip() for clip in clips]


def main(argv: list[str] | None = None) -> int:
    """Compare original and transport weights on the LibriSpeech clips."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("--name", default="tiny.en")
    parser.add_argument("--max-diff", type=float, default=0.3, help="largest WER difference allowed (points)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    clips = [c for c in cu.list_clips("en", with_transcript=True) if c.id.startswith("librispeech")]
    if not clips:
        raise SystemExit("no LibriSpeech clips with transcripts in the corpus (COURSE_SPEECH_DIR)")
    with tempfile.TemporaryDirectory() as tmp:
        packed = Path(tmp) / f"{args.name}.npz"
        gpu_weights.pack(args.src, packed)
        expanded = gpu_weights.expand(packed, Path(tmp) / args.name)
        original = transcripts(args.src, args.name, clips)
        transport = transcripts(expanded, args.name, clips)
    refs = [clip.transcript for clip in clips]
    wer_original = 100 * cu.corpus_wer(list(zip(refs, original, strict=True)))
    wer_transport = 100 * cu.corpus_wer(list(zip(refs, transport, strict=True)))
    same = sum(a == b for a, b in zip(original, transport, strict=True))
    for clip, a, b in zip(clips, original, transport, strict=True):
        print(f"{clip.id:34s} {'same' if a == b else 'DIFFERENT'}" + ("" if a == b else f"\n  fp16: {a}\n  int8: {b}"))
    diff = wer_transport - wer_original
    print(f"{len(clips)} clips, {same} identical transcripts; corpus WER original {wer_original:.2f} %, "
          f"transport {wer_transport:.2f} %, difference {diff:+.2f} points (allowed ±{args.max_diff})")
    if args.json:
        args.json.write_text(json.dumps({"clips": len(clips), "identical": same, "wer_original": wer_original,
                                         "wer_transport": wer_transport, "difference_points": diff}, indent=1))
    return 0 if abs(diff) <= args.max_diff else 1


if __name__ == "__main__":
    sys.exit(main())
