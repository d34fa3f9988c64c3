"""Grading for the lesson's exercises: student release, isolated execution, scoring, reports."""

from .hidden import HELD_OUT_IDS

__all__ = ["HELD_OUT_IDS"]
