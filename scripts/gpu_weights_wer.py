"""Do the transport weights (expanded to float16) transcribe like the original? Measured on CPU.

Packs and expands a CTranslate2 directory with ``gpu_weights.py`` (one or more step sizes), loads each
through ``course_utils.load_model`` and transcribes the corpus's LibriSpeech clips (or all English clips with
transcripts) greedily, then prints the clips whose transcript changed and the corpus WER of each. Exit
status 1 when a WER difference is over ``--max-diff`` percentage points.

    python scripts/gpu_weights_wer.py SRC_CT2_DIR [--steps 32,64] [--clips english] [--json out.json]
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
    """Compare original and transport weights (one or more step sizes) on corpus clips."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("--name", default="tiny.en")
    parser.add_argument("--steps", default=f"{gpu_weights.STEPS_PER_STD:g}",
                        help="comma-separated quantisation steps per standard deviation of a row")
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
    for steps in (float(s) for s in args.steps.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            packed = Path(tmp) / f"{args.name}.npz"
            size = gpu_weights.pack(args.src, packed, steps)["transport bytes"]
            transport = transcripts(gpu_weights.expand(packed, Path(tmp) / args.name), args.name, clips)
        wer_transport = 100 * cu.corpus_wer(list(zip(refs, transport, strict=True)))
        same = sum(a == b for a, b in zip(original, transport, strict=True))
        label = f"{steps:g} steps per std"
        for clip, a, b in zip(clips, original, transport, strict=True):
            if a != b:
                print(f"{label}: {clip.id} differs\n  original:  {a}\n  transport: {b}")
        diff = wer_transport - wer_original
        worst = max(worst, abs(diff))
        print(f"{label} ({size / 2**20:.2f} MiB): {len(clips)} clips ({words} words), {same} identical "
              f"transcripts; corpus WER original {wer_original:.2f} %, transport {wer_transport:.2f} %, "
              f"difference {diff:+.2f} points (allowed ±{args.max_diff})")
        results["variants"][label] = {"steps_per_std": steps, "bytes": size, "identical": same, "wer": wer_transport,
                                      "difference_points": diff}
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0 if worst <= args.max_diff else 1


if __name__ == "__main__":
    sys.exit(main())
