"""What the benchmarks write: the machine they ran on, aligned text tables, Markdown, JSON and charts.

Charts are the lesson's own figures (``plots.plot_method_comparison``, ``plots.plot_throughput``: the same
colours per method), saved as PNG files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ..model_facts import runtime_info
from ..plots import plot_method_comparison, plot_throughput

__all__ = ["machine_info", "machine_line", "text_table", "markdown_rows", "save_figure", "write_text",
           "write_json", "plot_method_rows", "plot_throughput_rows", "load_average"]


def load_average() -> float:
    """The 1-minute load average, rounded (0.0 where the OS does not tell)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return 0.0


def machine_info(device: str) -> dict[str, Any]:
    """``model_facts.runtime_info()`` for the benchmarked device, plus the load average at the start."""
    info: dict[str, Any] = dict(runtime_info())
    info.update(
        device=device,
        gpu=torch.cuda.get_device_name(0) if device.startswith("cuda") else "",
        load_avg_1min_at_start=load_average(),
    )
    return info


def machine_line(info: dict[str, Any]) -> str:
    """One line describing the machine, for tables and documents."""
    gpu = f", GPU {info['gpu']}" if info.get("gpu") else ""
    return (
        f"{info['cpu cores']} cores ({info['cpu']}){gpu}, device {info['device']}, torch {info['torch']} with "
        f"{info['torch threads']} threads, openai-whisper {info['openai-whisper']}, faster-whisper "
        f"{info['faster-whisper']} (ctranslate2 {info['ctranslate2']}), load average "
        f"{info['load_avg_1min_at_start']} at start"
    )


def text_table(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """Plain-text table: the first column left-aligned, the others right-aligned, a rule under the header."""
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = []
    for n, line in enumerate([header, *body]):
        cells = [line[0].ljust(widths[0])] + [cell.rjust(w) for cell, w in zip(line[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_rows(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """The same table in Markdown (numbers right-aligned)."""
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    lines += ["| " + " | ".join(line) + " |" for line in body]
    return "\n".join(lines)


def write_text(path: str | Path, text: str) -> None:
    """Write text, creating the folder."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text)


def write_json(path: str | Path, result: dict[str, Any]) -> None:
    """Write a benchmark result as indented JSON (NaN and numpy numbers as floats)."""
    write_text(path, json.dumps(result, indent=1, default=float))


def save_figure(fig: Any, path: str | Path) -> None:
    """Save a figure as PNG, creating the folder."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def plot_method_rows(rows: Sequence[Any], title: str, path: str | Path) -> None:
    """Time and WER per method (the lesson's method-comparison figure), against the first row, as a PNG."""
    data = [{"method": row.method, "compute_s": row.compute_s, "wer": row.wer} for row in rows]
    save_figure(plot_method_comparison(data, title=title), path)


def plot_throughput_rows(rows: Sequence[dict[str, Any]], title: str, path: str | Path) -> None:
    """Audio minutes per compute minute per mode (the lesson's throughput figure), as a PNG."""
    save_figure(plot_throughput(rows, title=title), path)
