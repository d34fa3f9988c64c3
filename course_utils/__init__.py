"""Helpers for the lesson "ASR with Whisper", laid out along the data's path.

audio → mel → model → text → metrics → plots: ``audio`` and ``data`` give 16 kHz speech, ``models`` loads
Whisper (offline too), ``longform`` transcribes long audio, ``metrics`` measures, ``plots`` and ``widgets`` show.
"""

from .models import (
    ModelNotAvailableError,
    available_models,
    ct2_model_dir,
    default_device,
    describe_model,
    load_model,
    loadable_models,
)

__version__ = "0.1.0"
