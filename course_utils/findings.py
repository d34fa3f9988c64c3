"""What this run shows: the lesson's conclusions written from the run's own numbers, never from hope.

Each ``*_findings`` function turns measured results into sentences whose wording depends on the numbers (a
method that did not win is said not to have won), and timing sentences are replaced by a warning when other
programs used the CPU meanwhile (``timing.CpuUse``). ``lesson_claims`` collects the word counts the lesson's
claim test checks; ``show_claims`` displays them as a table and carries them as JSON in the cell's output.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from . import display as show
from .scoring import boundary_losses, normalize_text, wer
from .timing import CpuUse, transcribe_and_measure

CLAIMS_MIME = "application/vnd.course-utils.lesson-claims+json"  # where the claim test finds the numbers


def _contention_line(cpu: CpuUse | None, what: str) -> str | None:
    """A warning sentence when `cpu` says the machine was shared, else None."""
    if cpu is None or not cpu.contended():
        return None
    return (f"⚠ Other programs used {cpu.other_cores:.1f} cores on average while {what} ran: these timings "
            "measure the competition, not the method, so no speed conclusion is drawn. Rerun on an idle machine.")


@dataclass
class Findings:
    """Sentences about one section, written from its numbers, and the numbers themselves."""

    title: str
    lines: list[str]
    numbers: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return "\n".join([f"What this run shows — {self.title}:", *(f"• {line}" for line in self.lines)])

    def __repr__(self) -> str:
        return str(self)

    def _repr_markdown_(self) -> str:
        return "\n".join([f"**What this run shows — {self.title}**", "", *(f"- {line}" for line in self.lines)])


# --- section 3: hallucination ---------------------------------------------------------------------------------


def hallucination_table(model: Any, inputs: dict[str, Any]) -> pd.DataFrame:
    """Transcribe each wordless sound with the lesson's greedy settings: what Whisper wrote, in words.

    Words are counted after WER normalisation, so punctuation alone ('.') is not a word.
    """
    rows = []
    for name, audio in inputs.items():
        text = transcribe_and_measure(model, audio).text
        rows.append({"input (no words in it)": name, "words written": len(normalize_text(text).split()),
                     "transcript": show.shorten(text, 70) or "(nothing)"})
    return pd.DataFrame(rows)


def hallucination_findings(table: pd.DataFrame) -> Findings:
    """Say how many wordless inputs came back with words."""
    fooled = table[table["words written"] > 0]
    if len(fooled):
        first = fooled.loc[fooled["words written"].idxmax()]
        lines = [f"{len(fooled)} of {len(table)} sounds without a single word came back with text, e.g. "
                 f"{first['input (no words in it)']} → “{first['transcript']}”. That is hallucination: the "
                 "decoder is a language model and writes the most likely text when the audio says nothing."]
    else:
        lines = ["None of these wordless sounds produced text on this run: Whisper's no-speech check held."]
    return Findings("hallucination", lines, {"wordless_inputs": len(table),
                                             "hallucinated": int(len(fooled)),
                                             "max_words": int(table["words written"].max())})


# --- section 7: long audio -----------------------------------------------------------------------------------


def long_audio_findings(long: Any, chunked: Any, overlapped: Any, batched: Any = None,
                        cpu: CpuUse | None = None) -> Findings:
    """Cuts in speech, words lost by naive chunks and kept by overlap, WERs, and whether batching paid."""
    losses = boundary_losses(long.reference, chunked, overlapped)
    lost = [w for loss in losses for w in loss.lost]
    recovered = [w for loss in losses for w in loss.recovered]
    garbled = [loss.reference[i] for loss in losses for i in range(*loss.window)
               if loss.chunked[i] == "garbled" and loss.overlapped[i] == "ok"]
    naive, overlap = wer(long.reference, chunked.text), wer(long.reference, overlapped.text)
    cuts = getattr(long, "cuts", [])
    inside = sum(cut.in_speech for cut in cuts)
    lines = [f"{inside} of {len(cuts)} naive cuts fall inside speech (Silero VAD, at least 0.3 s from a pause)."]
    if lost:
        kept = (f"; the overlapping windows kept {len(recovered)} of them ({show.shorten(', '.join(recovered), 60)})"
                if recovered else "; the overlapping windows did not get them back either")
        lines.append(f"Naive chunks dropped {len(lost)} reference words at the cuts "
                     f"({show.shorten(', '.join(lost), 60)}){kept}.")
    else:
        lines.append("Naive chunks dropped no reference word at the cuts on this run.")
    if garbled:
        lines.append(f"{len(garbled)} more words at the cuts were misrecognised by naive chunks and right with "
                     f"overlap ({show.shorten(', '.join(garbled), 60)}).")
    verdict = "fewer" if overlap < naive else ("as many" if overlap == naive else "more")
    lines.append(f"WER: naive chunks {show.percent(naive)}, overlap merge {show.percent(overlap)} — the overlap "
                 f"made {verdict} errors.")
    numbers: dict[str, Any] = {"cuts": len(cuts), "cuts_in_speech": inside, "lost_words": lost,
                               "recovered_words": recovered, "garbled_fixed": garbled,
                               "repaired_words": recovered + garbled,
                               "naive_wer": naive, "overlap_wer": overlap}
    warning = _contention_line(cpu, "the long-audio methods")
    if warning:
        lines.append(warning)
    elif batched is not None:
        speedup = overlapped.compute_s / batched.compute_s
        numbers["batch_speedup"] = speedup
        windows = len(batched.chunks)
        if speedup > 1.1:
            lines.append(f"Batching {batched.batch_size} windows per decoder call ran the same {windows} windows "
                         f"{speedup:.1f}× faster than one at a time.")
        else:
            lines.append(f"Batching did not pay on this run ({speedup:.2f}× for {windows} windows).")
    return Findings("long audio", lines, numbers)


# --- section 8: model sizes ---------------------------------------------------------------------------------


def _wer_of(rows: Sequence[Any], noisy: bool | None = None) -> float:
    """Corpus WER over evaluation rows, optionally only the noisy (' + noise') or only the clean clips."""
    chosen = [r for r in rows if noisy is None or ("+ noise" in r.id) == noisy]
    words = sum(r.words for r in chosen)
    return sum(r.errors for r in chosen) / words if words else math.nan


def model_findings(comparison: Sequence[Any], cpu: CpuUse | None = None) -> Findings:
    """Which model made fewer errors on the hard clips (clean and noisy apart), and what it cost in time."""
    rows = [{"model": c.model, "wer": _wer_of(c.evaluation.rows), "clean": _wer_of(c.evaluation.rows, False),
             "noisy": _wer_of(c.evaluation.rows, True), "rtf": c.rtf} for c in comparison]
    clips = len(comparison[0].evaluation.rows) if comparison else 0
    lines = [f"{r['model']}: WER {show.percent(r['wer'])} (as recorded {show.percent(r['clean'])}, with noise "
             f"{show.percent(r['noisy'])}), RTF {show.rtf(r['rtf'])}." for r in rows]
    if len(rows) > 1:
        small, big = rows[0], rows[-1]
        if big["wer"] < small["wer"]:
            lines.append(f"{big['model']} made {small['wer'] / max(big['wer'], 1e-9):.1f}× fewer errors than "
                         f"{small['model']} on the same {clips} clips ({100 * (small['wer'] - big['wer']):.1f} "
                         "percentage points of WER).")
        else:
            lines.append(f"{big['model']} did not beat {small['model']} on these clips on this run.")
        warning = _contention_line(cpu, "the models")
        lines.append(warning or f"It took {big['rtf'] / small['rtf']:.1f}× the compute time per second of audio.")
    return Findings("model sizes", lines, {"models": rows, "clips": clips})


# --- section 9: threads and engines --------------------------------------------------------------------------


def engine_findings(runs: Sequence[Any], cpu: CpuUse | None = None) -> Findings:
    """Threads/precision/engine speed-ups, or a contention warning instead of a wrong lesson."""
    warning = _contention_line(cpu, "the engines")
    numbers = {"other_cores": None if cpu is None or math.isnan(cpu.other_cores) else cpu.other_cores}
    if warning:
        return Findings("faster inference", [warning], numbers)
    first, lines = runs[0], []
    for run in runs[1:]:
        faster = "faster" if run.speedup > 1 else "slower"
        factor = run.speedup if run.speedup > 1 else 1 / run.speedup
        same = "the same words" if run.text.split() == first.text.split() else "slightly different words"
        lines.append(f"{run.label}: {factor:.1f}× {faster} than {first.label}, {same} "
                     f"(WER {show.percent(run.wer)} vs {show.percent(first.wer)}).")
    return Findings("faster inference", lines, numbers)


# --- the numbers the claim test checks ---------------------------------------------------------------------


_CLAIM_LABELS = {
    "hallucinated_inputs": "wordless inputs that came back with words",
    "cuts_in_speech": "naive cuts inside speech",
    "cuts": "naive cuts",
    "recovered_words": "words naive chunks lost that the overlap kept",
    "repaired_words": "words naive chunks lost or misheard at the cuts that the overlap got right",
    "naive_wer": "naive chunks WER",
    "overlap_wer": "overlap merge WER",
    "hard_clips": "hard clips (FLEURS as recorded + noisy copies)",
    "hard_wer": "WER on the hard clips",
    "noisy_wer": "WER on their noisy copies",
}


class Claims(dict):
    """The lesson's checked claims: a table for people, JSON (CLAIMS_MIME) for the claim test."""

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        def cell(value: Any) -> str:
            if isinstance(value, float):
                return show.percent(value)
            if isinstance(value, dict):
                return ", ".join(f"{k} {cell(v)}" for k, v in value.items())
            if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
                return ", ".join(f"{name} {cell(rate)}" for name, rate in value)
            if isinstance(value, list):
                return f"{len(value)} ({show.shorten(', '.join(map(str, value)), 60)})" if value else "0"
            return str(value)

        table = "\n".join(["| claim | this run |", "|---|---|",
                           *(f"| {_CLAIM_LABELS.get(k, k)} | {cell(v)} |" for k, v in self.items())])
        return {"text/markdown": table, "text/plain": table, CLAIMS_MIME: dict(self)}


def lesson_claims(hallucination: Findings, long_audio: Findings, models: Findings) -> Claims:
    """The word counts behind the lesson's claims (deterministic on CPU), for the table and the claim test."""
    numbers = long_audio.numbers
    return Claims({
        "hallucinated_inputs": hallucination.numbers["hallucinated"],
        "cuts": numbers["cuts"],
        "cuts_in_speech": numbers["cuts_in_speech"],
        "recovered_words": numbers["recovered_words"],
        "repaired_words": numbers["repaired_words"],
        "naive_wer": round(numbers["naive_wer"], 4),
        "overlap_wer": round(numbers["overlap_wer"], 4),
        "hard_clips": models.numbers["clips"],
        "hard_wer": [[r["model"], round(r["wer"], 4)] for r in models.numbers["models"]],  # pairs: JSON keeps order
        "noisy_wer": [[r["model"], round(r["noisy"], 4)] for r in models.numbers["models"]],
    })


def claims_of(outputs: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The claims dict from a cell's outputs (nbformat output dicts), or None when the cell has none."""
    for output in outputs:
        data = output.get("data", {})
        if CLAIMS_MIME in data:
            return dict(data[CLAIMS_MIME])
    return None


# --- production considerations ------------------------------------------------------------------------------

# docs/benchmarks.md, round 1's decode path (commit 86d5889; stale for the VAD rows since issue 12's timestamped
# decoding): idle 2-core AMD EPYC (Zen 4), 254.5 s of English long form, greedy, median of 3 rounds:
# (model, method, precision, RTF, WER)
BENCHMARK_ROWS = (
    ("tiny.en", "openai-whisper transcribe (sequential)", "fp32", 0.080, 0.0522),
    ("tiny.en", "VAD windows, batch 16", "fp32", 0.023, 0.0538),
    ("tiny.en", "faster-whisper batched, batch 16", "int8", 0.018, 0.0489),
    ("base", "openai-whisper transcribe (sequential)", "fp32", 0.129, 0.0669),
    ("base", "VAD windows, batch 16", "fp32", 0.045, 0.0555),
    ("base", "faster-whisper batched, batch 16", "int8", 0.037, 0.0571),
)
BYTES_PER_WEIGHT = {"fp32": 4, "fp16": 2, "int8": 1, "int8_float16": 1}


def _weights_mb(parameters_m: float | None, precision: str) -> float | None:
    """Memory of the weights alone: parameters × bytes per weight (int8 keeps a few fp32 tensors: ≈)."""
    if parameters_m is None:
        return None
    return round(parameters_m * BYTES_PER_WEIGHT.get(precision, 4), 0)


def production_table(comparison: Sequence[Any], model: str, device: str, long: Any, methods: pd.DataFrame,
                     engines: Sequence[Any] = (), engines_audio: str = "LJ passage") -> pd.DataFrame:
    """Model × device × method → RTF, WER, weights memory: this run's rows, then docs/benchmarks.md's, marked.

    RTFs and WERs are comparable within one `audio`, not across (different recordings, different difficulty).
    """
    params = {c.model: c.parameters_m for c in comparison}
    rows = [{"model": c.model, "device": device, "method": "openai-whisper transcribe", "precision": "fp32",
             "audio": "hard clips (FLEURS, ± noise)", "RTF": c.rtf, "WER": c.wer} for c in comparison]
    long_s = float(getattr(long, "duration_s", 0.0)) or math.nan
    rows += [{"model": model, "device": device, "method": row["method"], "precision": "fp32",
              "audio": f"continuous speech, {long_s:.0f} s", "RTF": row["compute_s"] / long_s, "WER": row["wer"]}
             for _, row in methods.iterrows()]
    rows += [{"model": model, "device": device, "method": run.label, "precision": run.precision,
              "audio": engines_audio, "RTF": run.rtf, "WER": run.wer} for run in engines]
    for row in rows:
        row["source"] = "this run"
    rows += [{"model": name, "device": "cpu (2 cores)", "method": method, "precision": precision,
              "audio": "long form, 254.5 s", "RTF": rtf, "WER": wer, "source": "docs/benchmarks.md (round 1, idle)"}
             for name, method, precision, rtf, wer in BENCHMARK_ROWS]
    for row in rows:
        row["weights MB"] = _weights_mb(params.get(row["model"]), row["precision"])
    table = pd.DataFrame(rows)[["model", "device", "method", "precision", "audio", "RTF", "WER", "weights MB",
                                "source"]]
    table["RTF"] = table["RTF"].map(show.rtf)
    table["WER"] = table["WER"].map(show.percent)
    table["weights MB"] = table["weights MB"].map(lambda v: "n/a" if v is None or pd.isna(v) else f"{v:.0f}")
    return table


# --- takeaways ----------------------------------------------------------------------------------------------


def takeaways(model: str, device: str, jfk: Any, jfk_wer: float, sweep: Sequence[Any],
              findings: Sequence[Findings]) -> str:
    """The run's summary: JFK, short against long clips, then every section's findings."""
    speech = [p for p in sweep if p.signal == "speech"]
    short, full = speech[0], speech[-1]
    relation = "more" if short.rtf > full.rtf else "no more"
    lines = [f"Model {model} on {device}: JFK transcribed as “{jfk.text}”",
             f"JFK: RTF {show.rtf(jfk.rtf)}, WER {show.percent(jfk_wer)}",
             f"Short clips cost {relation} per second: RTF {show.rtf(short.rtf)} at {short.audio_s:.0f} s vs "
             f"{show.rtf(full.rtf)} at {full.audio_s:.0f} s of speech."]
    return "\n".join([*lines, *(str(f) for f in findings)])


MIN_MODEL_GAP = 0.05  # the bigger model must win by this much WER on the hard clips: a margin, not one word


def model_gap_problem(wers: Sequence[Sequence[Any]], what: str = "the hard clips",
                      min_gap: float = MIN_MODEL_GAP) -> str | None:
    """Why [model, WER] pairs (smallest model first) do not show the bigger model winning by `min_gap`; or None."""
    if len(wers) < 2:
        return f"need two models to compare on {what}, got {list(wers)}"
    (small, small_wer), (big, big_wer) = wers[0], wers[-1]
    if not big_wer <= small_wer - min_gap:
        return (f"{big} (WER {big_wer:.3f}) does not beat {small} (WER {small_wer:.3f}) by {min_gap:.0%} "
                f"on {what}")
    return None


def claim_problems(claims: dict[str, Any], min_recovered: int = 2) -> list[str]:
    """The lesson's claims that `claims` (from ``lesson_claims``) does not bear out; empty when all hold."""
    problems = []
    if claims.get("hallucinated_inputs", 0) < 1:
        problems.append("no wordless input came back with text (the hallucination demo shows nothing)")
    if claims.get("cuts", 0) < 1 or claims.get("cuts_in_speech") != claims.get("cuts"):
        problems.append(f"not every naive cut falls inside speech ({claims.get('cuts_in_speech')} of "
                        f"{claims.get('cuts')})")
    # dropped or misheard: which of the two a cut word suffers depends on the layout (both were seen on
    # several layouts of the same passage); that the overlap gets ≥ 2 of them right held on all of them
    repaired = claims.get("repaired_words", [])
    if len(repaired) < min_recovered:
        problems.append(f"naive cuts lost or misheard only {len(repaired)} reference words that the overlap got "
                        f"right (need ≥ {min_recovered}): {repaired}")
    if not claims.get("overlap_wer", 1.0) < claims.get("naive_wer", 0.0):
        problems.append(f"overlap WER {claims.get('overlap_wer')} is not below naive WER {claims.get('naive_wer')}")
    for key, what in (("hard_wer", "the hard clips"), ("noisy_wer", "their noisy copies")):
        problem = model_gap_problem(claims.get(key, []), what)  # [model, WER] in COMPARE_MODELS order
        if problem:
            problems.append(problem)
    return problems
