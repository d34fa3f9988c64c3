"""The measuring and reporting steps of scripts/gpu_check.sh: machine facts, FP32 vs FP16, the summary table.

Uses only the package's public entry points (``import course_utils as cu``), so it survives refactoring.

    python scripts/gpu_report.py env DEVICE OUT/env.json
    python scripts/gpu_report.py precision DEVICE QUICK OUT/precision.json   # + FP16 by batch size
    python scripts/gpu_report.py summary OUT STEPS.tsv      # prints the table last, writes OUT/summary.md
"""

from __future__ import annotations

import importlib.util
import json
import platform
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

MODEL = "tiny.en"  # the one model whose weights travel (see docs/gpu.md)


def env(device: str, out: Path) -> int:
    """Write what ran where: GPU, driver, torch/CUDA, library versions, which optional packages are there."""
    import torch

    import course_utils as cu

    facts: dict = {"python": platform.python_version(), "torch": torch.__version__,
                   "cuda available": torch.cuda.is_available(), "requested device": device}
    if torch.cuda.is_available():
        facts.update(gpu=torch.cuda.get_device_name(0), cuda=torch.version.cuda,
                     gpu_memory_gib=round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1))
        smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,clocks.max.sm",
                              "--format=csv,noheader"], capture_output=True, text=True, check=False)
        facts["nvidia-smi"] = smi.stdout.strip() or smi.stderr.strip()
    facts["runtime_info"] = {k: str(v) for k, v in cu.runtime_info().items()}
    facts["optional packages"] = {name: importlib.util.find_spec(name) is not None
                                  for name in ("faster_whisper", "silero_vad", "espeakng_loader", "onnxruntime")}
    out.write_text(json.dumps(facts, indent=1) + "\n")
    print(json.dumps(facts, indent=1))
    if device.startswith("cuda") and not torch.cuda.is_available():
        print("DEVICE=cuda but torch sees no GPU", file=sys.stderr)
        return 1
    return 0


def precision(device: str, quick: bool, out: Path) -> int:
    """FP32 vs FP16 (CPU: threads) for openai-whisper on the LJ passage; faster-whisper rows when installed."""
    import course_utils as cu

    model = cu.load_model(MODEL, device=device)
    passage = cu.lj_passage(max_duration_s=10 if quick else 30)
    has_fw = importlib.util.find_spec("faster_whisper") is not None
    rows = cu.compare_inference_options(model, passage.audio, passage.reference, repeats=1 if quick else 3,
                                        faster_whisper=has_fw)
    result = {"model": MODEL, "device": device, "audio_s": round(passage.duration_s, 2),
              "faster-whisper": "measured" if has_fw else "not installed", "rows": [r.to_dict() for r in rows]}
    for r in rows:
        wer = "-" if r.wer is None else f"{100 * r.wer:.1f} %"
        print(f"{r.label:36s} {r.compute_s:8.3f} s  x{r.speedup:5.2f}  WER {wer}")
    result["batched"] = precision_by_batch(model, passage, device, quick)
    out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


def _half_weights(model):
    """Store every weight but the LayerNorms' in float16 (whisper's LayerNorm computes in float32)."""
    import torch

    for module in model.modules():
        if not isinstance(module, torch.nn.LayerNorm):
            for param in module.parameters(recurse=False):
                param.data = param.data.half()
    return model


def precision_by_batch(model, passage, device: str, quick: bool) -> list[dict]:
    """Greedy decode of B copies of one 30 s window: FP32, FP16 on FP32 weights (whisper's default, which
    casts each weight per call) and FP16 with half weights; seconds per window, same words or not."""
    import time

    import torch
    import whisper

    mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(torch.from_numpy(passage.audio)), model.dims.n_mels)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    repeats, sizes = (1, (1,)) if quick else (3, (1, 16))  # the CPU dry run only proves the code path
    variants = [("FP32", False, False), ("FP16, FP32 weights cast per call", True, False),
                ("FP16, half weights", True, True)]
    rows, base = [], {}
    for label, fp16, halve in variants:
        if halve:
            _half_weights(model)
        options = whisper.DecodingOptions(fp16=fp16, language="en", without_timestamps=True, temperature=0.0,
                                          sample_len=8 if quick else None)
        for size in sizes:
            batch = mel[None].repeat(size, 1, 1).to(device)
            whisper.decode(model, batch, options)  # warm-up (kernels, allocator)
            times = []
            for _ in range(repeats):
                sync()
                t0 = time.perf_counter()
                results = whisper.decode(model, batch, options)
                sync()
                times.append(time.perf_counter() - t0)
            seconds = sorted(times)[len(times) // 2]
            base.setdefault(size, (seconds, results[0].text))
            rows.append({"label": label, "batch": size, "s_per_window": seconds / size,
                         "speedup": base[size][0] / seconds, "same_words": results[0].text == base[size][1]})
            print(f"{label:34s} batch {size:3d}  {seconds / size:7.4f} s/window  x{rows[-1]['speedup']:5.2f}"
                  f"  {'same words' if rows[-1]['same_words'] else 'different words'}")
    return rows


def _nbval(path: Path) -> str:
    if not path.is_file():
        return "not run"
    suite = ET.parse(path).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    n, failed = int(suite.get("tests", 0)), int(suite.get("failures", 0)) + int(suite.get("errors", 0))
    first = next((c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None
                  or c.find("error") is not None), None)
    return f"{n - failed}/{n} cells passed" + (f", first failure: {first}" if first else "")


def _precision(path: Path) -> list[str]:
    if not path.is_file():
        return ["not run"]
    data = json.loads(path.read_text())
    lines = [f"{r['label']}: {r['compute_s']:.3f} s, x{r['speedup']:.2f}, WER "
             + ("-" if r["wer"] is None else f"{100 * r['wer']:.1f} %") for r in data["rows"]]
    lines += [f"faster-whisper: {data['faster-whisper']} ({data['audio_s']} s of audio)"]
    return lines + [f"{r['label']}, batch {r['batch']}: {r['s_per_window']:.4f} s/window, x{r['speedup']:.2f}, "
                    + ("same words" if r["same_words"] else "different words") for r in data.get("batched", [])]


def _longform(path: Path) -> list[str]:
    if not path.is_file():
        return ["not run"]
    data = json.loads(path.read_text())
    rows = data.get("rows") or data.get("results") or (data if isinstance(data, list) else [])
    lines = []
    for row in rows:
        if isinstance(row, dict):
            name = row.get("method") or row.get("label") or "?"
            rtf, wer = row.get("rtf"), row.get("wer")
            lines.append(f"{name}: RTF {rtf if rtf is None else round(rtf, 4)}, "
                         f"WER {'-' if wer is None else f'{100 * wer:.1f} %'}")
    return lines or ["see longform.json"]


def summary(out: Path, steps: Path) -> int:
    """Print the summary table (last thing the check prints) and write it to OUT/summary.md."""
    lines = ["| step | status | seconds |", "| --- | --- | --- |"]
    failed = False
    for line in steps.read_text().splitlines() if steps.is_file() else []:
        name, status, seconds = line.split("\t")
        failed |= status != "ok"
        lines.append(f"| {name} | {status} | {seconds} |")
    facts = json.loads((out / "env.json").read_text()) if (out / "env.json").is_file() else {}
    lines += ["", f"machine: {facts.get('gpu', 'no GPU')}, torch {facts.get('torch', '?')}, "
              f"CUDA {facts.get('cuda', '-')}, requested device {facts.get('requested device', '?')}",
              f"lesson under nbval: {_nbval(out / 'nbval.xml')}", "FP32 vs FP16 (openai-whisper, tiny.en):"]
    lines += [f"  {x}" for x in _precision(out / "precision.json")]
    lines += ["batched long-form bench (tiny.en):"] + [f"  {x}" for x in _longform(out / "longform.json")]
    text = "\n".join(lines) + "\n"
    (out / "summary.md").write_text(text)
    print(text, end="")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """Dispatch the sub-command."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["env"]:
        return env(args[1], Path(args[2]))
    if args[:1] == ["precision"]:
        return precision(args[1], args[2] == "True", Path(args[3]))
    if args[:1] == ["summary"]:
        return summary(Path(args[1]), Path(args[2]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
