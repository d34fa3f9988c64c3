"""Offline speech synthesis with espeak-ng: test speech with a known transcript, no internet needed.

A small ctypes binding to libespeak-ng as shipped by the ``espeakng-loader`` wheel (no system package needed).
It lives apart from ``audio`` because it is the one place that talks to a C library; ``audio`` only decodes.
"""

from __future__ import annotations

import ctypes
import difflib
import threading
from typing import Any

import numpy as np

from .audio import SAMPLE_RATE, check_sample_rate, load_audio

_AUDIO_OUTPUT_SYNCHRONOUS = 2  # espeak_Synth returns when done; audio goes to the callback, not a device
_INITIALIZE_DONT_EXIT = 0x8000  # report data-path errors instead of calling exit()
_CHARS_UTF8, _POS_CHARACTER, _PARAM_RATE, _EE_OK = 1, 1, 1, 0
_MIN_WPM, _MAX_WPM = 80, 450  # espeakRATE_MINIMUM / espeakRATE_MAXIMUM

_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class _Voice(ctypes.Structure):
    """espeak_VOICE from speak_lib.h; `languages` is a packed list of (priority byte, NUL-terminated code)."""

    _fields_ = [("name", ctypes.c_char_p), ("languages", ctypes.c_void_p), ("identifier", ctypes.c_char_p),
                ("gender", ctypes.c_ubyte), ("age", ctypes.c_ubyte), ("variant", ctypes.c_ubyte),
                ("xx1", ctypes.c_ubyte), ("score", ctypes.c_int), ("spare", ctypes.c_void_p)]  # fmt: skip


class _Espeak:
    """The process-wide libespeak-ng handle: loaded and initialised once, used under a lock."""

    def __init__(self) -> None:
        try:  # imported here: the package works without it (e.g. on the GPU check machine) until TTS is used
            import espeakng_loader
        except ImportError as error:
            raise ImportError(
                "synth_speech needs the espeakng-loader package: `pip install espeakng-loader`"
            ) from error
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByProperties.argtypes = [ctypes.POINTER(_Voice)]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        # espeak_Synth(text, size, position, position_type, end_position, flags, unique_id, user_data)
        lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int]
        lib.espeak_Synth.argtypes += [ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        data_path = espeakng_loader.get_data_path().encode()
        self.rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, _INITIALIZE_DONT_EXIT)
        if self.rate <= 0:
            raise RuntimeError(
                f"libespeak-ng failed to start with data at {data_path.decode()}; reinstall espeakng-loader"
            )
        self.lib = lib
        self.chunks: list[np.ndarray] = []
        self.callback = _SynthCallback(self._collect)  # kept on self: ctypes must not free it
        lib.espeak_SetSynthCallback(self.callback)
        self.languages = self._list_languages()

    def _collect(self, wav: Any, n: int, events: Any) -> int:
        """Synth callback: copy each int16 block out of espeak's buffer; returning 0 means 'continue'."""
        if n > 0 and wav:
            self.chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0

    def _list_languages(self) -> list[str]:
        """Every language code some installed voice speaks (e.g. 'en', 'en-us', 'de', 'cmn', 'zh')."""
        codes, voices, i = set(), self.lib.espeak_ListVoices(None), 0
        while voices[i]:
            pointer = voices[i].contents.languages
            while pointer and ctypes.string_at(pointer, 1) != b"\0":
                code = ctypes.string_at(pointer + 1)
                codes.add(code.decode())
                pointer += 2 + len(code)
            i += 1
        return sorted(codes)

    def set_voice(self, name: str) -> None:
        """Select a voice by name ('en', 'en+f3') or, failing that, by language code ('zh' -> Mandarin)."""
        if self.lib.espeak_SetVoiceByName(name.encode()) == _EE_OK:
            return
        code = ctypes.c_char_p(name.encode())
        spec = _Voice(languages=ctypes.cast(code, ctypes.c_void_p))
        if name and self.lib.espeak_SetVoiceByProperties(ctypes.byref(spec)) == _EE_OK:
            return
        close = difflib.get_close_matches(name, self.languages, n=5)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(
            f"espeak-ng has no voice for {name!r}.{hint} See all codes with "
            "course_utils.tts.speech_languages(); note Whisper-only codes like 'jw' or 'tl' have no voice"
        )

    def synth(self, text: str, voice: str, rate_wpm: int) -> np.ndarray:
        """Speak `text` and return espeak's int16 samples at `self.rate`."""
        self.set_voice(voice)
        self.lib.espeak_SetParameter(_PARAM_RATE, rate_wpm, 0)
        data = text.encode("utf-8")
        self.chunks = []
        status = self.lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        self.lib.espeak_Synchronize()
        if status != _EE_OK:
            raise RuntimeError(f"espeak_Synth failed with status {status}; try a shorter text")
        return np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)


_espeak: _Espeak | None = None
_espeak_lock = threading.Lock()  # libespeak-ng keeps global state: one synthesis at a time per process


def _get_espeak() -> _Espeak:
    """Return the process-wide espeak handle, initialising it on first use (caller holds the lock)."""
    global _espeak
    if _espeak is None:
        _espeak = _Espeak()
    return _espeak


def speech_languages() -> list[str]:
    """Language codes synth_speech accepts (from the installed espeak-ng voices), to pick a `language`."""
    with _espeak_lock:
        return list(_get_espeak().languages)


def synth_speech(
    text: str, language: str = "en", sr: int = SAMPLE_RATE, rate_wpm: int = 160, voice: str | None = None
) -> np.ndarray:
    """Speak `text` offline with espeak-ng, return mono float32 at `sr`: test speech with a known transcript.

    `language` is an espeak-ng language code (see speech_languages()); `voice` overrides it with an espeak
    voice name such as 'en-us' or 'en+f3'. `rate_wpm` is the speaking rate in words per minute (80-450).
    Repeated calls are not bit-identical: espeak-ng carries its pitch "flutter" phase over from the previous
    utterance, so lengths vary by a few samples. Calls are serialised by a lock, so threads may share it.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text to speak is empty ({text!r}); pass a sentence, e.g. 'Hello world.'")
    check_sample_rate(sr, "sr")
    if not _MIN_WPM <= rate_wpm <= _MAX_WPM:
        raise ValueError(
            f"rate_wpm must be {_MIN_WPM}-{_MAX_WPM} words per minute (160 is natural), got {rate_wpm}"
        )
    with _espeak_lock:
        engine = _get_espeak()
        samples = engine.synth(text, voice or language, int(rate_wpm))
        espeak_rate = engine.rate
    if samples.size == 0:
        raise ValueError(f"espeak-ng produced no audio for {text!r}; pass text with speakable words")
    return load_audio(samples, sr=sr, source_sr=espeak_rate)
