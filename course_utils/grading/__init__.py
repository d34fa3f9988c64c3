"""Grading for the lesson's exercises: student release, isolated execution, parent-side scoring, reports.

``python -m course_utils.grading SUBMISSIONS_DIR --out grades.csv`` grades a folder of notebooks;
``python -m course_utils.grading.release solutions --out notebooks`` writes the student notebooks.
``--scheduler tcp://HOST:8786`` runs the children on a Dask cluster (``cluster``), ``--resume`` keeps finished rows.
``HELD_OUT_IDS`` are the corpus clips kept for grading: lessons and solutions must not use them.
The grading process itself never imports torch or Whisper (it stays near 100 MB): models load only in the
sandboxed children and in a helper process for staging and reference results (``offload``).
See docs/instructors.md.
"""

from .batch import GradingConfig, grade_submissions
from .hidden import DEFAULT_SELECTION, HELD_OUT_IDS, Selection, read_hidden_set
from .records import Limits
from .release import release, student_version

__all__ = [
    "DEFAULT_SELECTION", "HELD_OUT_IDS", "GradingConfig", "Limits", "Selection", "grade_submissions",
    "read_hidden_set", "release", "student_version",
]  # fmt: skip
