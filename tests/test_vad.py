"""Silero VAD as the long-form methods load it: torch's thread count, the same timestamps as with one thread."""

from __future__ import annotations

import numpy as np
import torch

from course_utils.audio import SAMPLE_RATE
from course_utils.longform import vad


def test_vad_uses_torchs_threads_and_keeps_its_timestamps() -> None:
    """The ONNX session gets torch's threads (silero-vad opens it with one); the speech found does not change."""
    from course_utils.corpus import load_clip

    threads = torch.get_num_threads()
    model, _ = vad.load_vad()
    assert torch.get_num_threads() == threads  # silero_vad's import must not leave torch on one thread
    if threads > 1:
        assert model.session.get_session_options().intra_op_num_threads == threads
    audio, _ = load_clip("jfk")
    audio = np.concatenate([audio, np.zeros(2 * SAMPLE_RATE, np.float32), audio])
    many = vad.speech_timestamps(audio)
    session = model.session
    try:
        vad._use_threads(model, 1)  # one thread: the session stays as it is
        assert model.session is session
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        model.session = onnxruntime.InferenceSession(session._model_path, sess_options=options,
                                                     providers=["CPUExecutionProvider"])
        assert vad.speech_timestamps(audio) == many and len(many) >= 2
    finally:
        model.session = session
