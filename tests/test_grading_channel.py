"""The result channel, submission discovery and text sanitising, without a model or a sandboxed child: fast."""

from __future__ import annotations

import json
import os
import resource
import threading
import time

import pytest

from course_utils.grading.channel import (
    MAX_DEPTH,
    MAX_MESSAGE_BYTES,
    MessageReader,
    PlannedCall,
    Protocol,
    Violation,
    nesting_depth,
    parse_line,
)
from course_utils.grading.sandbox import decoy_labels, exercise_plan
from course_utils.grading.sanitize import clean_text, csv_cell, markdown_block, safe_id
from course_utils.grading.submissions import InvalidNotebook, discover, notebook_cells


def _messages(cells: int, lid: int = 2) -> list[dict]:
    """What an honest harness sends for `cells` cells and `lid` Ex. 1 clips."""
    out = [{"kind": "ready", "isolation": []}]
    for i in range(cells):
        out += [{"kind": "cell_start", "index": i}, {"kind": "cell_end", "index": i}]
    for call in exercise_plan(lid):
        key = {"exercise": call.exercise, "function": call.function, "item": call.item}
        out += [{"kind": "call_start", **key}, {"kind": "call_end", **key, "value": 1}]
    return [*out, {"kind": "done"}]


def _check_all(protocol: Protocol, messages: list[dict]) -> None:
    for message in messages:
        protocol.check(message)


def test_an_honest_run_follows_the_protocol_even_with_10001_cells():
    _check_all(Protocol(10_001, exercise_plan(2)), _messages(10_001))


def test_skipped_calls_and_an_early_end_after_the_first_ex3_call_are_allowed():
    protocol = Protocol(0, exercise_plan(2))
    protocol.check({"kind": "ready"})
    key = {"exercise": "ex1", "function": "detect_language"}
    protocol.check({"kind": "call_end", **key, "item": 0, "error": "NotDefined"})
    protocol.check({"kind": "call_end", **key, "item": 1, "error": "Skipped"})
    for function, exercise in (("language_detection_accuracy", "ex1"), ("overlapping_transcription", "ex2"),
                               ("measure_throughput", "ex3")):  # fmt: skip
        protocol.check({"kind": "call_end", "exercise": exercise, "function": function, "item": 0,
                        "error": "NotDefined"})  # fmt: skip
    protocol.check({"kind": "done"})


@pytest.mark.parametrize("forged", [
    {"kind": "call_start", "exercise": "ex1", "function": "detect_language", "item": 2},  # an item not asked for
    {"kind": "call_end", "exercise": "ex1", "function": "detect_language", "item": 0, "value": ["de", 1]},
    {"kind": "need_labels"},  # the old label request
    {"kind": "done"},  # an early end
    {"kind": "cell_end", "index": 5},
    {"kind": "ready"},
    {"kind": "call_start", "exercise": "ex3", "function": "measure_throughput", "item": 0},
])  # fmt: skip
def test_messages_out_of_place_are_violations(forged):
    protocol = Protocol(3, exercise_plan(2))
    _check_all(protocol, _messages(3)[:4])  # inside cell 2
    with pytest.raises(Violation):
        protocol.check(forged)


def test_a_forged_call_end_before_the_harness_breaks_the_protocol():
    """A student function that answers for the harness: the harness's own call_end is then out of place."""
    protocol = Protocol(0, [PlannedCall("ex3", "measure_throughput", 0)])
    key = {"exercise": "ex3", "function": "measure_throughput", "item": 0}
    _check_all(protocol, [{"kind": "ready"}, {"kind": "call_start", **key}, {"kind": "call_end", **key}])
    with pytest.raises(Violation):
        protocol.check({"kind": "call_end", **key})


@pytest.mark.parametrize("line", [
    b"[" * 100_000, b'{"kind": "x", "v": ' + b"[" * 40 + b"]" * 40 + b"}", b"{" * 20 + b'"a"',
])  # fmt: skip
def test_deep_nesting_is_refused_before_parsing(line):
    with pytest.raises(Violation, match="nested deeper"):
        parse_line(line)


def test_brackets_inside_strings_do_not_count_and_sizes_are_bounded():
    assert nesting_depth(b'{"kind": "cell_end", "message": "[[[[[[[[[[[[[[[[[[[[[[[[[[ \\" [[["}') == 1
    assert nesting_depth(b'{"a": [[1], {"b": [2]}]}') == 4
    with pytest.raises(Violation, match="KiB"):
        parse_line(b'{"kind": "x", "v": "' + b"a" * MAX_MESSAGE_BYTES + b'"}')
    for bad in (b"not json", b"[1, 2]", b'{"kind": 5}', b'{"kind": "x", "n": ' + b"9" * 5000 + b"}"):
        with pytest.raises(Violation):
            parse_line(bad)
    assert MAX_DEPTH >= 4


def _feed(chunks: list[bytes]) -> list:
    read_fd, write_fd = os.pipe()
    reader = MessageReader(read_fd)
    reader.start()

    def write() -> None:
        with open(write_fd, "wb") as f:
            for chunk in chunks:
                try:
                    f.write(chunk)
                    f.flush()
                except OSError:
                    return

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    items = []
    while True:
        _, item = reader.messages.get(timeout=30)
        items.append(item)
        if item is None or isinstance(item, Violation):
            break
    reader.stop()
    return items


def test_the_reader_reports_violations_instead_of_dying():
    items = _feed([b'{"kind": "ready"}\n', b"[" * 200_000 + b"\n"])
    assert items[0] == {"kind": "ready"} and isinstance(items[1], Violation)
    items = _feed([b"x" * (MAX_MESSAGE_BYTES + 100)])  # no newline at all
    assert isinstance(items[-1], Violation)


def test_a_flood_is_bounded_in_memory_by_back_pressure():
    """A child that writes far faster than anyone reads: the queue stays bounded, the writer blocks."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    read_fd, write_fd = os.pipe()
    reader = MessageReader(read_fd)
    reader.start()
    line = (json.dumps({"kind": "call_start", "exercise": "ex1", "function": "detect_language", "item": 0,
                        "pad": "x" * 100_000}) + "\n").encode()  # fmt: skip
    stop = time.monotonic() + 3
    os.set_blocking(write_fd, False)
    pending = b""
    while time.monotonic() < stop:
        pending = pending or line
        try:
            pending = pending[os.write(write_fd, pending):]  # whole lines only: a cut line is a violation
        except BlockingIOError:
            time.sleep(0.01)
    assert reader.messages.qsize() <= reader.messages.maxsize
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    reader.stop()
    os.close(write_fd)
    reader.join(timeout=5)
    assert grown_mb < 150, f"reader grew by {grown_mb:.0f} MB"


def test_decoy_labels_do_not_depend_on_the_truth():
    assert decoy_labels(5, b"a") == decoy_labels(5, b"a")
    assert len({tuple(decoy_labels(10, bytes([i]))) for i in range(20)}) > 1


def test_text_from_submissions_is_made_safe():
    assert clean_text("caf\udce9\x1b[31m\r\x00 ok\u202e") == "caf\ufffd[31m ok"
    clean_text("caf\udce9").encode("utf-8")  # encodable now
    assert csv_cell("=1+1") == "'=1+1" and csv_cell("a\nb") == "a b"
    assert markdown_block("``` x ````").startswith("`````\n")
    assert safe_id("../../etc/passwd") == "etc_passwd" and safe_id("-rf") == "rf" and safe_id("\udce9") == "submission"


def test_ids_are_unique_after_sanitising_and_links_are_refused(tmp_path):
    for name in ("_i_col.ipynb", "i_col.ipynb", "a b.ipynb", "a_b.ipynb", "A_B.ipynb"):
        (tmp_path / name).write_text("{}")
    (tmp_path / "k_copycat.ipynb").symlink_to(tmp_path / "i_col.ipynb")
    (tmp_path / "linked").symlink_to(tmp_path, target_is_directory=True)
    os.link(tmp_path / "a_b.ipynb", tmp_path / "hard.ipynb")
    os.mkfifo(tmp_path / "fifo.ipynb")
    (tmp_path / "dir.ipynb").mkdir()
    found = {s.student_id: s for s in discover(tmp_path)}
    assert len(found) == 10  # one submission per entry
    assert {"A_B", "i_col", "i_col-2", "a_b-2", "a_b-3"} <= set(found)  # case-folded clashes count too
    assert "was taken" in found["i_col-2"].warning and not found["i_col"].warning
    assert "symbolic link" in found["k_copycat"].refused
    assert "symbolic link" in found["linked"].refused
    assert "hard link" in found["hard"].refused and not found["a_b-3"].refused
    assert "not a regular file" in found["fifo"].refused and "folder" in found["dir"].refused
    with pytest.raises(InvalidNotebook):
        notebook_cells(tmp_path / "k_copycat.ipynb", {})  # never followed, even if asked directly


def test_null_tags_and_odd_metadata_do_not_break_reading(tmp_path):
    cells = [{"cell_type": "code", "source": "x = 1", "metadata": {"tags": None}, "outputs": [],
              "execution_count": None},
             {"cell_type": "code", "source": "y = 2", "metadata": {"tags": ["parameters", 5]}, "outputs": [],
              "execution_count": None}]  # fmt: skip
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 4}))
    assert notebook_cells(path, {"Q": 1}) == ["x = 1", "y = 2", "# Parameters injected by the grader\nQ = 1\n"]
    path.write_text("[" * 100_000)
    with pytest.raises(InvalidNotebook):
        notebook_cells(path, {})
