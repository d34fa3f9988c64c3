"""Do the transport weights (int8 per channel, expanded to float16) transcribe like the original? Measured on CPU.

Packs and expands a CTranslate2 directory with ``gpu_weights.py`` (one or more scale groupings), loads each
through ``course_utils.load_model`` and transcribes the corpus's LibriSpeech clips (or all English clips with
transcripts) greedily, then prints the clips whose transcript changed and the corpus WER of each. Exit
status 1 when a WER difference is over ``--max-diff`` percentage points.

    python scripts/gpu_weights_wer.py SRC_CT2_DIR [--groups 0,64] [--clips english] [--json out.json]
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
    """Compare original and transport weights (one or more scale groupings) on corpus clips."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("--name", default="tiny.en")
    parser.add_argument("--groups", default=str(gpu_weights.GROUP), help="comma-separated; 0 = one scale per row")
    parser.add_argument("--clips", choices=("librispeech", "english"), default="librispeech")
    parser.add_argument("--max-diff", type=float, default=0.3, help="largest WER difference allowed (points)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    clips = [c for c in cu.list_clips("en", with_transcript=True)
             if args.clips == "english" or c.id.startswith("librispeech")]
    if not clips:
        raise SystemExit("no such clips with transcripts in the corpus (COURSE_SPEECH_DIR)")
    refs = [clip.transcript for clip in clips]
    original = transcripts(args.src, args.name, clips)
    wer_original = 100 * cu.corpus_wer(list(zip(refs, original, strict=True)))
    words = sum(len(r.split()) for r in refs)
    results, worst = {"clips": len(clips), "words": words, "wer_original": wer_original, "variants": {}}, 0.0
    for group in (int(g) for g in args.groups.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            packed = Path(tmp) / f"{args.name}.npz"
            size = gpu_weights.pack(args.src, packed, group=group)["transport bytes"]
            transport = transcripts(gpu_weights.expand(packed, Path(tmp) / args.name), args.name, clips)
        wer_transport = 100 * cu.corpus_wer(list(zip(refs, transport, strict=True)))
        same = sum(a == b for a, b in zip(original, transport, strict=True))
        label = "per row" if group == 0 else f"per row and {group} inputs"
        for clip, a, b in zip(clips, original, transport, strict=True):
            if a != b:
                print(f"{label}: {clip.id} differs\n  fp16: {a}\n  int8: {b}")
        diff = wer_transport - wer_original
        worst = max(worst, abs(diff))
        print(f"int8 {label} ({size / 2**20:.2f} MiB): {len(clips)} clips ({words} words), {same} identical "
              f"transcripts; corpus WER original {wer_original:.2f} %, transport {wer_transport:.2f} %, "
              f"difference {diff:+.2f} points (allowed ±{args.max_diff})")
        results["variants"][label] = {"group": group, "bytes": size, "identical": same, "wer": wer_transport,
                                      "difference_points": diff}
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0 if worst <= args.max_diff else 1


if __name__ == "__main__":
    sys.exit(main())
