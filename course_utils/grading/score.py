"""Scores from a child's raw outputs, computed in the parent with the parent's own code and references.

The child only reports what the student's functions returned (language codes, text, numbers) and the parent
timed each call itself. Whatever the notebook patched in its own process (``course_utils``, ``jiwer``,
``time``) cannot change anything here. Every check has points and a sentence saying why points were lost.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..scoring import wer
from .hidden import Answers
from .records import CallRecord, ChildOutputs
from .reference import References

EXERCISES = {
    "ex1": ("Language identification", ("detect_language", "language_detection_accuracy")),
    "ex2": ("Overlapping windows", ("overlapping_transcription",)),
    "ex3": ("Throughput", ("measure_throughput",)),
}
THROUGHPUT_KEYS = ("audio_minutes", "compute_minutes", "audio_minutes_per_compute_minute")
TRANSCRIPTS_KEY = "transcripts"


@dataclass
class Check:
    """One scored property of an answer."""

    name: str
    points: float
    max_points: float
    detail: str


@dataclass
class ExerciseScore:
    """An exercise's checks and how its calls went ('ok', 'not implemented', 'error', 'timeout', ...)."""

    exercise: str
    title: str
    checks: list[Check] = field(default_factory=list)
    outcome: str = "ok"
    problem: str = ""  # the first call error, in words

    @property
    def points(self) -> float:
        return round(sum(c.points for c in self.checks), 1)

    @property
    def max_points(self) -> float:
        return round(sum(c.max_points for c in self.checks), 1)

    def summary(self) -> str:
        """What cost points, in one clause ('' when full marks)."""
        if self.points >= self.max_points:
            return ""
        if self.outcome != "ok":
            return f"{self.outcome}{': ' + self.problem if self.problem and self.outcome != 'not implemented' else ''}"
        lost = list(dict.fromkeys(c.detail for c in self.checks if c.points < c.max_points))
        return "; ".join(lost[:2])


def _outcome(calls: list[CallRecord | None]) -> tuple[str, str]:
    """How an exercise's calls went, worst first: timeout, memory, error, not implemented, not run."""
    errors = [c for c in calls if c is not None and c.error and c.error != "Skipped"]
    kinds = {c.error for c in errors}
    first = errors[0] if errors else None
    problem = f"{first.error}: {first.message}"[:200] if first else ""
    if "SoftTimeout" in kinds:
        return "timeout", problem
    if "MemoryError" in kinds:
        return "memory limit", problem
    if kinds - {"NotImplementedError", "NotDefined"}:
        return "error", problem
    if kinds:
        return "not implemented", problem
    if any(c is None for c in calls):
        return "not run", "the notebook process ended before this exercise was called"
    return "ok", ""


def _ok(call: CallRecord | None) -> bool:
    return call is not None and call.finished and not call.error


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(
        value) else None  # fmt: skip


def _close(a: float | None, b: float, tolerance: float = 1e-6) -> bool:
    return a is not None and abs(a - b) <= tolerance


def _half_points(points: float) -> float:
    return math.floor(points * 2) / 2


def _prediction(value: Any) -> tuple[str, float] | None:
    """A valid (code, probability) answer, else None."""
    if isinstance(value, (list, tuple)) and len(value) == 2 and isinstance(value[0], str):
        probability = _number(value[1])
        if probability is not None and 0 <= probability <= 1:
            return value[0].strip().lower(), probability
    return None


def _accuracy_tables(truth: list[str], predicted: list[str]) -> tuple[float, dict, dict]:
    """(overall, per language, confusion true → predicted → count) of predictions vs labels."""
    confusion: dict[str, Counter] = {}
    for t, p in zip(truth, predicted, strict=True):
        confusion.setdefault(t, Counter())[p] += 1
    per_language = {t: row[t] / sum(row.values()) for t, row in confusion.items()}
    overall = sum(row[t] for t, row in confusion.items()) / len(truth)
    return overall, per_language, {t: dict(row) for t, row in confusion.items()}


def _same_confusion(answer: Any, expected: dict) -> bool:
    """True when `answer` is `expected` as nested dicts, either true→predicted or predicted→true (pandas)."""
    if not isinstance(answer, dict):
        return False

    def counts(table: dict, transpose: bool) -> dict | None:
        out: dict[tuple[str, str], float] = {}
        for outer, row in table.items():
            if not isinstance(row, dict):
                return None
            for inner, count in row.items():
                number = _number(count)
                if number is None:
                    return None
                if number:
                    out[(inner, outer) if transpose else (outer, inner)] = number
        return out

    wanted = counts(expected, False)
    return any(counts(answer, transpose) == wanted for transpose in (False, True))


def score_ex1(outputs: ChildOutputs, references: References, labels: list[str]) -> ExerciseScore:
    """Ex. 1: valid answers (2), accuracy vs the reference (5), the accuracy report's three parts (3).

    Accuracy is against the true `labels`; the report is checked against the decoy labels its clips carried
    (``outputs.labels_given``) and the predictions, the submission's own or the reference's."""
    score = ExerciseScore("ex1", EXERCISES["ex1"][0])
    n = len(labels)
    detect = [outputs.call("detect_language", i) for i in range(n)]
    report_call = outputs.call("language_detection_accuracy")
    score.outcome, score.problem = _outcome([*detect, report_call])
    answers = [_prediction(c.value) if _ok(c) else None for c in detect]
    valid = sum(a is not None for a in answers)
    score.checks.append(Check("detect_language returns (code, probability)", 2 * valid / n, 2,
                              f"{valid}/{n} answers were a (language code, probability in [0, 1]) pair"))  # fmt: skip
    predicted = [a[0] if a else "" for a in answers]
    correct = sum(p == t for p, t in zip(predicted, labels, strict=True))
    slack = 1 / n
    accuracy, target = correct / n, references.lid_accuracy
    points = 5.0 if accuracy >= target - slack - 1e-9 else _half_points(5 * accuracy / max(target, 1e-9))
    score.checks.append(Check("accuracy on the hidden clips", points, 5,
                              f"accuracy {accuracy:.0%} ({correct}/{n}) vs the reference {target:.0%}"))  # fmt: skip
    report = report_call.value if _ok(report_call) else None
    given = outputs.labels_given if len(outputs.labels_given) == n else labels
    candidates = [_accuracy_tables(given, predicted)] if valid == n else []
    candidates.append(_accuracy_tables(given, references.lid_predictions))
    parts = [("overall", "overall accuracy"), ("per_language", "per-language accuracy"),
             ("confusion", "confusion matrix")]  # fmt: skip
    for index, (key, words) in enumerate(parts):
        got = report.get(key) if isinstance(report, dict) else None
        good = any(_report_part_matches(key, got, expected[index]) for expected in candidates)
        detail = f"'{key}' matches the labels and predictions" if good else (
            f"'{key}' is missing or does not match the clips' labels and the predictions" if isinstance(report, dict)
            else "language_detection_accuracy did not return a dict")  # fmt: skip
        score.checks.append(Check(f"{words} in the report", 1.0 if good else 0.0, 1, detail))
    return score


def _report_part_matches(key: str, got: Any, expected: Any) -> bool:
    if key == "overall":
        return _close(_number(got), expected)
    if key == "per_language":
        return isinstance(got, dict) and set(got) == set(expected) and all(
            _close(_number(got[k]), v) for k, v in expected.items())  # fmt: skip
    return _same_confusion(got, expected)


def score_ex2(outputs: ChildOutputs, references: References, reference_text: str) -> ExerciseScore:
    """Ex. 2: returns text (1), WER as good as the reference merge (9), as naive chunking (5), plausible (2)."""
    score = ExerciseScore("ex2", EXERCISES["ex2"][0])
    call = outputs.call("overlapping_transcription")
    score.outcome, score.problem = _outcome([call])
    text = call.value if _ok(call) and isinstance(call.value, str) else None
    has_text = bool(text and text.strip())
    detail = "returned a non-empty string" if has_text else "did not return a non-empty string"
    score.checks.append(Check("returns the transcript as a string", 1.0 if has_text else 0.0, 1, detail))
    if not has_text:
        score.checks.append(Check("word error rate", 0.0, 9, "no transcript to score"))
        return score
    error_rate = wer(reference_text, text)
    margin = max(0.01, 1.5 / max(references.reference_words, 1))  # about one and a half words
    ref, naive = references.overlap_wer, references.naive_wer
    if error_rate <= ref + margin:
        points, verdict = 9.0, "as good as the reference overlap merge"
    elif error_rate <= naive + margin:
        points, verdict = 5.0, "no better than naive chunking: words at the window edges are lost or doubled"
    elif error_rate <= max(2 * naive, 0.5):
        points, verdict = 2.0, "worse than naive chunking: check for doubled or dropped overlap words"
    else:
        points, verdict = 0.0, "the transcript does not match the audio"
    detail = f"WER {error_rate:.1%} vs reference {ref:.1%} and naive chunking {naive:.1%}: {verdict}"
    score.checks.append(Check("word error rate", points, 9, detail))
    return score


def _throughput_answer(value: Any, files: int) -> tuple[dict[str, float], list[str]] | None:
    """(the three numbers, one transcript per file) from a measure_throughput return value, else None."""
    if not isinstance(value, dict):
        return None
    numbers = {key: _number(value.get(key)) for key in THROUGHPUT_KEYS}
    transcripts = value.get(TRANSCRIPTS_KEY)
    if any(v is None for v in numbers.values()) or not isinstance(transcripts, list) or len(transcripts) != files \
            or not all(isinstance(text, str) for text in transcripts):  # fmt: skip
        return None
    return numbers, transcripts  # type: ignore[return-value]


def _transcripts_wer(truth: list[str], transcripts: list[str]) -> float:
    return wer(" ".join(truth), " ".join(transcripts))


def work_limit(references: References) -> float:
    """Above this WER the transcripts were not produced by transcribing the files: Ex. 3 scores nothing."""
    return max(2 * references.throughput_wer + 0.1, 0.35)


def score_ex3(outputs: ChildOutputs, references: References, truth: list[str]) -> ExerciseScore:
    """Ex. 3, graded on work: transcripts (3), audio minutes exact (2), compute minutes vs the parent's clock
    around the call (2), ratio (1), answer format (1), the batched call (1). Transcripts that do not match the
    audio void the whole exercise: without transcription there is no throughput to report."""
    score = ExerciseScore("ex3", EXERCISES["ex3"][0])
    first, batched = outputs.call("measure_throughput", 0), outputs.call("measure_throughput", 1)
    score.outcome, score.problem = _outcome([first, batched] if _ok(first) else [first])
    answer = _throughput_answer(first.value, len(truth)) if _ok(first) else None
    checks = [("answer format", 1), ("transcripts", 3), ("audio minutes", 2), ("compute minutes", 2), ("ratio", 1),
              ("batch_size > 1", 1)]  # fmt: skip
    if answer is None:
        detail = (f"did not return a dict with {', '.join(THROUGHPUT_KEYS)} as numbers and '{TRANSCRIPTS_KEY}': "
                  f"a list of {len(truth)} strings, one per file")  # fmt: skip
        score.checks = [Check(name, 0.0, most, detail if not i else "no answer to check")
                        for i, (name, most) in enumerate(checks)]  # fmt: skip
        return score
    (numbers, transcripts), limit = answer, work_limit(references)
    error_rate = _transcripts_wer(truth, transcripts)
    if error_rate > limit:
        detail = (f"the transcripts do not match the audio (WER {error_rate:.0%}, more than {limit:.0%}): without "
                  "transcribing the files there is no throughput to score")  # fmt: skip
        score.checks = [Check(name, 0.0, most, detail) for name, most in checks]
        return score
    score.checks.append(Check("answer format", 1.0, 1, "returned the three numbers and one transcript per file"))
    margin = max(0.02, 2 / max(references.throughput_words, 1))
    good = error_rate <= references.throughput_wer + margin
    score.checks.append(Check("transcripts", 3.0 if good else 1.5, 3,
                              f"WER {error_rate:.1%} vs the reference's {references.throughput_wer:.1%}"))  # fmt: skip
    audio, compute, ratio = (numbers[k] for k in THROUGHPUT_KEYS)
    expected = references.audio_minutes
    right = abs(audio - expected) <= 0.005 * expected
    hint = " (seconds instead of minutes?)" if abs(audio - 60 * expected) <= 0.005 * 60 * expected else ""
    score.checks.append(Check("audio minutes", 2.0 if right else 0.0, 2,
                              f"audio_minutes {audio:.4g} vs the files' {expected:.4g}{hint}"))  # fmt: skip
    score.checks.append(_compute_check(compute, first.seconds))
    consistent = compute > 0 and abs(ratio - audio / compute) <= 0.02 * abs(audio / compute)
    score.checks.append(Check("ratio", 1.0 if consistent else 0.0, 1,
                              f"audio_minutes_per_compute_minute {ratio:.4g} "
                              f"{'=' if consistent else '≠'} audio_minutes / compute_minutes"))  # fmt: skip
    second = _throughput_answer(batched.value, len(truth)) if _ok(batched) else None
    same = second is not None and abs(second[0]["audio_minutes"] - expected) <= 0.005 * expected and \
        _transcripts_wer(truth, second[1]) <= limit  # fmt: skip
    score.checks.append(Check("batch_size > 1", 1.0 if same else 0.0, 1,
                              "the batched call transcribed the files and reports the same audio minutes" if same
                              else "the call with batch_size > 1 failed, or its transcripts or audio minutes "
                              "differ"))  # fmt: skip
    return score


def _compute_check(compute: float, call_s: float | None) -> Check:
    """compute_minutes must agree with how long the call took by the trusted clock (both see the same load):
    not longer than the call, and most of it (loading the audio may come before the student's clock starts)."""
    if call_s is None:
        return Check("compute minutes", 0.0, 2, "the call was not timed")
    measured, claimed = call_s / 60, compute * 60
    if 0.5 * call_s - 2 <= claimed <= 1.05 * call_s + 1:
        return Check("compute minutes", 2.0, 2, f"compute_minutes {compute:.4g} vs the call's {measured:.4g}")
    hint = " (seconds instead of minutes?)" if abs(compute - call_s) <= 0.2 * call_s + 1 else ""
    return Check("compute minutes", 0.0, 2, f"compute_minutes {compute:.4g} but the call took {measured:.4g} "
                 f"minutes by the grader's clock{hint}")  # fmt: skip


def score_all(outputs: ChildOutputs, references: References, answers: Answers) -> list[ExerciseScore]:
    """The three exercise scores of one submission."""
    return [score_ex1(outputs, references, answers.languages), score_ex2(outputs, references, answers.longform),
            score_ex3(outputs, references, answers.throughput)]  # fmt: skip


def overall_status(outputs: ChildOutputs, scores: list[ExerciseScore]) -> tuple[str, str]:
    """(status, reason) for the CSV: crashed > timeout > memory limit > not implemented > error > ok."""
    cell_errors = [c for c in outputs.cells if c.error]
    kinds = {c.error for c in cell_errors}
    output_tail = outputs.output[-4000:]
    if outputs.ended == "crashed":
        memory = any(s in output_tail for s in ("MemoryError", "bad_alloc", "Cannot allocate memory"))
        return ("memory limit" if memory else "crashed"), outputs.detail
    if outputs.ended == "timeout":
        return "timeout", outputs.detail
    if outputs.ended in ("protocol", "refused", "invalid"):
        return {"protocol": "error", "refused": "refused", "invalid": "invalid notebook"}[outputs.ended], outputs.detail
    if outputs.ended == "fatal":
        return "error", f"grader could not start the notebook: {outputs.detail}"
    if "SoftTimeout" in kinds or any(s.outcome == "timeout" for s in scores):
        cell = next((c for c in cell_errors if c.error == "SoftTimeout"), None)
        where = f"code cell {cell.index + 1}" if cell else "an exercise call"
        return "timeout", f"{where} ran past the time limit and was interrupted"
    if "MemoryError" in kinds or any(s.outcome == "memory limit" for s in scores):
        cell = next((c for c in cell_errors if c.error == "MemoryError"), None)
        where = f"code cell {cell.index + 1}" if cell else "an exercise call"
        return "memory limit", f"{where} ran out of memory (the limit stopped it)"
    if all(s.outcome == "not implemented" for s in scores):
        return "not implemented", "no exercise is implemented yet (the functions raise NotImplementedError)"
    real_errors = [c for c in cell_errors if c.error not in ("NotImplementedError",)]
    if real_errors or any(s.outcome == "error" for s in scores):
        first = real_errors[0] if real_errors else None
        where = f"code cell {first.index + 1} raised {first.error}" if first else "an exercise function raised"
        return "error", where
    return "ok", ""


def reason_text(status_reason: str, scores: list[ExerciseScore], outputs: ChildOutputs) -> str:
    """One line for the CSV: the status reason, then what cost points per exercise."""
    parts = [status_reason] if status_reason else []
    void = outputs.ended in ("invalid", "refused", "protocol")  # nothing ran or nothing counts: the status says it
    if not void and not all(s.outcome == "not implemented" for s in scores):  # (or: nothing attempted)
        parts += [f"{s.exercise}: {s.summary()}" for s in scores if s.summary()]
    if outputs.output_bytes > len(outputs.output.encode(errors="replace")):
        parts.append(f"printed {outputs.output_bytes / 1e6:.1f} MB (kept the start and the end)")
    return " | ".join(parts)[:500]
