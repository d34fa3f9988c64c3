"""Where the time goes on the long-form passage, fp32 against int8 (course_utils.quantize), interleaved.

Runs a course_utils long-form method (``transcribe_vad`` with batch 16 by default) on the benchmark's English
long form (254.5 s) with the model as loaded and with ``quantize(model, parts)``; the variants take turns
over `--rounds` rounds. Prints, per variant, the median of each profile stage (VAD, mel, encoder, decoder
steps, merge) and of the wall time, this process's CPU seconds, the WER, and how many cores other programs
used meanwhile (/proc/stat).

    python scripts/profile_longform.py --model tiny.en --method vad --batch 16 --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from course_utils import longform
from course_utils.engines import faster_whisper_model, faster_whisper_transcriber
from course_utils.mixes import english_long_form
from course_utils.models import load_model
from course_utils.quantize import RECOMMENDED, expand_parts, quantize
from course_utils.scoring import wer
from course_utils.timing import watch_cpu

sys.path.insert(0, str(Path(__file__).parent))
from profile_quantize import write_json  # noqa: E402  (sibling script: the same JSON record)

STAGES = ("vad_s", "mel_s", "encode_s", "decode_s", "merge_s", "recover_s")


class TextOnly:
    """A faster-whisper transcript in the shape of a LongformResult (text, empty profile)."""

    def __init__(self, text: str) -> None:
        self.text, self.profile = text, {}


def run(method: str, model: Any, audio: Any, batch: int) -> tuple[Any, float, float]:
    """(result, wall seconds, CPU seconds of this process) of one long-form call (`model` may be a callable)."""
    if callable(model) and not isinstance(model, torch.nn.Module):
        wall, cpu = time.perf_counter(), time.process_time()
        result = TextOnly(model(audio))
        return result, time.perf_counter() - wall, time.process_time() - cpu
    fn = {
        "vad": longform.transcribe_vad,
        "overlapping": longform.transcribe_overlapping,
        "long": longform.transcribe_long,
    }[method]
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(model, audio, batch_size=batch, verbose=False)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    """Profile fp32 and int8 variants; print a Markdown table; JSON with --json."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--method", default="vad", choices=("vad", "overlapping", "long"))
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--int8", default="recommended", help="'recommended' or parts joined by +, e.g. encoder+logits")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--faster-whisper", action="store_true", help="add faster-whisper int8 batched, same weights")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    passage = english_long_form()
    model = load_model(args.model, device="cpu")
    parts = RECOMMENDED if args.int8 == "recommended" else expand_parts(args.int8.split("+"))
    variants: dict[str, Any] = {"fp32": model, f"int8 {'+'.join(parts)}": quantize(model, parts)}
    if args.faster_whisper:
        fw = faster_whisper_model(model, "int8", "cpu", torch.get_num_threads())
        variants[f"faster-whisper int8 batched ({args.batch})"] = faster_whisper_transcriber(fw, "en", args.batch)
    for variant in variants.values():  # warm-up on the first 8 s
        run(args.method, variant, passage.audio[: 8 * 16000], args.batch)
    runs: dict[str, list[tuple[Any, float, float]]] = {name: [] for name in variants}
    with watch_cpu() as busy:
        for _ in range(args.rounds):
            for name, variant in variants.items():
                runs[name].append(run(args.method, variant, passage.audio, args.batch))
    print(
        f"{args.model}, transcribe_{args.method} batch {args.batch}, {passage.duration_s:.1f} s, "
        f"{torch.get_num_threads()} threads, {args.rounds} rounds (median)"
    )
    print("| variant | " + " | ".join(s[:-2] for s in STAGES) + " | wall s | CPU s | WER % |")
    print("|---|" + "---:|" * (len(STAGES) + 3))
    rows = []
    for name, values in runs.items():
        stages = {s: statistics.median(r.profile.get(s, 0.0) for r, _, _ in values) for s in STAGES}
        wall = statistics.median(w for _, w, _ in values)
        cpu = statistics.median(c for _, _, c in values)
        score = wer(passage.reference, values[-1][0].text)
        cells = " | ".join(f"{stages[s]:.2f}" for s in STAGES)
        print(f"| {name} | {cells} | {wall:.2f} | {cpu:.2f} | {100 * score:.2f} |")
        rows.append(
            {
                "variant": name,
                **stages,
                "wall_s": wall,
                "cpu_s": cpu,
                "wer": score,
                "walls": [w for _, w, _ in values],
                "text": values[-1][0].text,
            }
        )
    print(f"other programs used {busy.other_cores:.2f} cores on average")
    write_json(args.json, busy, model=args.model, method=args.method, batch=args.batch, rows=rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
