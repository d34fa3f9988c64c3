"""Audio in, 16 kHz mono float32 out: file and array decoding, a test tone and offline speech synthesis.

This is the only module that knows about sample rates and file formats; everything downstream receives
the float32 arrays at ``SAMPLE_RATE`` that Whisper expects.
"""

from __future__ import annotations

import ctypes
import difflib
import os
import re
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import soxr

SAMPLE_RATE = 16000  # what Whisper's feature extractor expects (whisper.audio.SAMPLE_RATE)

AudioSource = str | os.PathLike | np.ndarray | Any  # Any: a torch.Tensor (torch is imported lazily)

_MAX_CHANNELS = 16  # a 2-D array with no axis this small is not (frames, channels) audio


def load_audio(source: AudioSource, sr: int = SAMPLE_RATE, source_sr: int | None = None) -> np.ndarray:
    """Decode a file or convert an array/tensor to C-contiguous mono float32 at `sr`: the one loader for all.

    `source` is a path (WAV, FLAC, Ogg Vorbis/Opus, AIFF, MP3 via soundfile; other formats via ffmpeg when it
    is installed) or a 1-D/2-D numpy array or torch tensor. For arrays `source_sr` is their sample rate; when
    it is None the array is assumed to be at `sr` already (Whisper's convention for arrays). 2-D arrays may be
    (frames, channels) or (channels, frames); channels are averaged. Integer PCM is scaled to [-1, 1].
    """
    _check_rate(sr, "sr")
    if source_sr is not None:
        _check_rate(source_sr, "source_sr")
    if isinstance(source, (str, os.PathLike)):
        if source_sr is not None:
            raise ValueError(
                f"source_sr={source_sr} was given for the file {source!s}, but files carry their own sample "
                "rate; drop source_sr (it is only for arrays)"
            )
        what = f"audio file {source!s}"
        audio, rate = _decode_file(Path(source), sr)  # (frames, channels) from soundfile, 1-D from ffmpeg
        channel_axis = 1
    else:
        what = "audio array"
        audio, rate = _to_float_array(source), source_sr or sr
        channel_axis = _channel_axis(audio, what) if audio.ndim == 2 else None
    if audio.size == 0:
        raise ValueError(f"{what} is empty (0 samples); pass a recording that has sound in it")
    if audio.ndim == 2:
        audio = audio.mean(axis=channel_axis, dtype=np.float32)
    if not np.isfinite(audio).all():
        raise ValueError(
            f"{what} contains NaN or infinite samples; clean it first (e.g. np.nan_to_num) or re-export it"
        )
    if rate != sr:
        audio = soxr.resample(audio, rate, sr, quality="HQ")
    return np.ascontiguousarray(audio, dtype=np.float32)


def duration_s(audio: np.ndarray, sr: int = SAMPLE_RATE) -> float:
    """Length of a mono array in seconds, so callers never divide by a hard-coded rate."""
    _check_rate(sr, "sr")
    return len(audio) / sr


def _check_rate(rate: Any, name: str) -> None:
    """Reject sample rates that are not positive integers before they reach soxr or ffmpeg."""
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or rate <= 0:
        raise ValueError(f"{name} must be a positive integer sample rate in Hz (e.g. 16000), got {rate!r}")


def _to_float_array(source: Any) -> np.ndarray:
    """Turn an array or torch tensor into float32 with integer PCM scaled to [-1, 1]."""
    if type(source).__module__.startswith("torch"):
        source = source.detach().cpu().numpy()
    if not isinstance(source, np.ndarray):
        raise TypeError(
            f"load_audio expects a file path, numpy array or torch tensor, got {type(source).__name__}; "
            "pass a path to an audio file or an array of samples"
        )
    if source.ndim > 2 or source.ndim == 0:
        raise ValueError(
            f"audio array has shape {source.shape}; expected 1-D mono samples or 2-D (frames, channels); "
            "squeeze or select the batch item first, e.g. audio[0]"
        )
    kind = source.dtype.kind
    if kind == "f":
        return source.astype(np.float32, copy=False)
    if kind == "i":
        return (source / float(2 ** (8 * source.dtype.itemsize - 1))).astype(np.float32)
    if kind == "u":
        half = float(2 ** (8 * source.dtype.itemsize - 1))
        return ((source - half) / half).astype(np.float32)
    raise ValueError(f"audio array has dtype {source.dtype}; expected float or integer PCM samples")


def _channel_axis(audio: np.ndarray, what: str) -> int:
    """Pick the channel axis of a 2-D array: the short one (soundfile is (frames, ch), torch (ch, frames))."""
    rows, cols = audio.shape
    if min(rows, cols) > _MAX_CHANNELS:
        raise ValueError(
            f"{what} has shape {audio.shape}, which does not look like (frames, channels) audio; "
            "pass 1-D mono samples or a 2-D array with at most 16 channels"
        )
    return 1 if cols <= rows else 0


def _decode_file(path: Path, sr: int) -> tuple[np.ndarray, int]:
    """Read a file with soundfile, or with ffmpeg when soundfile cannot and ffmpeg is on PATH."""
    if not path.exists():
        raise FileNotFoundError(f"audio file not found: {path}; check the path (relative to {Path.cwd()})")
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not an audio file; pass one of the files inside it")
    if path.stat().st_size == 0:
        raise ValueError(f"audio file {path} is empty (0 bytes); re-export or re-download it")
    try:
        return _read_soundfile(path)
    except sf.LibsndfileError as error:
        if shutil.which("ffmpeg"):
            return _read_ffmpeg(path, sr), sr
        if "not recognised" in str(error).lower():
            raise ValueError(
                f"{path} is not an audio file soundfile can read ({error.error_string}); supported are "
                "WAV, FLAC, Ogg Vorbis/Opus, AIFF and MP3; convert it or install ffmpeg for other formats"
            ) from None
        raise ValueError(
            f"audio file {path} is truncated or corrupt ({error.error_string}); re-export or re-download it"
        ) from None


def _read_soundfile(path: Path) -> tuple[np.ndarray, int]:
    """Decode with libsndfile and refuse files whose header promises more audio than the file holds."""
    with sf.SoundFile(path) as f:
        rate, expected = f.samplerate, f.frames
        header_log = f.extra_info
        audio = f.read(dtype="float32", always_2d=True)
    if len(audio) < expected or _header_claims_more_data(header_log):
        raise ValueError(
            f"audio file {path} is truncated or corrupt (its header promises more audio than the file "
            f"holds; {len(audio)} frames readable); re-export or re-download it"
        )
    return audio, rate


def _header_claims_more_data(header_log: str) -> bool:
    """True when libsndfile's header log says the data chunk is shorter than declared (a cut WAV/AIFF)."""
    for line in header_log.splitlines():
        name, _, rest = line.strip().partition(":")
        if name.strip() in ("data", "SSND") and "(should be" in rest:
            declared, actual = (int(n) for n in re.findall(r"\d+", rest)[:2])
            streaming_placeholder = declared in (0xFFFFFFFF, 0x7FFFFFFF)  # writers that never patch sizes
            if declared > actual and not streaming_placeholder:
                return True
    return False


def _read_ffmpeg(path: Path, sr: int) -> np.ndarray:
    """Decode any format ffmpeg knows to mono 16-bit PCM at `sr`, as whisper.audio.load_audio does."""
    cmd = ["ffmpeg", "-nostdin", "-threads", "0", "-i", str(path), "-f", "s16le", "-ac", "1",
           "-acodec", "pcm_s16le", "-ar", str(sr), "-"]  # fmt: skip
    result = subprocess.run(cmd, capture_output=True)
    if result.returncode != 0:
        last = result.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        raise ValueError(
            f"{path} is not audio that soundfile or ffmpeg can decode (it may be truncated or corrupt; "
            f"ffmpeg: {last[0]}); check the file or re-export it as WAV or FLAC"
        )
    return np.frombuffer(result.stdout, np.int16).astype(np.float32) / 32768.0


def synth_tone(duration_s: float, sr: int = SAMPLE_RATE, seed: int = 0) -> np.ndarray:
    """The lesson's test signal: 220/440/880 Hz tones under a slow envelope plus seeded noise, peak 0.9."""
    _check_rate(sr, "sr")
    if not np.isfinite(duration_s) or duration_s <= 0 or round(duration_s * sr) < 1:
        raise ValueError(f"duration_s must be a positive number of seconds (e.g. 2.0), got {duration_s!r}")
    t = np.arange(round(duration_s * sr)) / sr
    tones = 0.5 * np.sin(2 * np.pi * 220 * t) + 0.3 * np.sin(2 * np.pi * 440 * t)
    tones += 0.2 * np.sin(2 * np.pi * 880 * t)
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t)  # 0.5 Hz swell: audible as "breathing", not a click
    noise = 0.02 * np.random.default_rng(seed).standard_normal(len(t))
    signal = tones * envelope + noise
    return (0.9 * signal / np.abs(signal).max()).astype(np.float32)


# --- offline speech synthesis via libespeak-ng (shipped by the espeakng-loader wheel) -----------------------

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
        try:
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
            "course_utils.audio.speech_languages(); note Whisper-only codes like 'jw' or 'tl' have no voice"
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
    _check_rate(sr, "sr")
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
