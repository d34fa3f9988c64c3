"""Audio in, 16 kHz mono float32 out: file and array decoding and a test tone.

This is the only module that knows about sample rates and file formats; everything downstream receives
the float32 arrays at ``SAMPLE_RATE`` that Whisper expects. Speech synthesis lives in ``tts``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import soxr

SAMPLE_RATE = 16000  # what Whisper's feature extractor expects (whisper.audio.SAMPLE_RATE)

AudioSource = str | os.PathLike | np.ndarray | Any  # Any: a torch.Tensor (torch is imported lazily)

_MAX_CHANNELS = 16  # a 2-D array with no axis this small is not (frames, channels) audio
MIN_RATE_HZ, MAX_RATE_HZ = 1_000, 768_000  # outside these a "sample rate" is a broken header, not audio
MAX_DURATION_S = 4 * 3600.0  # default cap on one decoded recording (4 h at 16 kHz = 0.9 GB of float32)
# Integer PCM widths, narrowest first: wide integer arrays are scaled by the width their values actually use.
_PCM_BITS = (16, 24, 32)


def load_audio(
    source: AudioSource,
    sr: int = SAMPLE_RATE,
    source_sr: int | None = None,
    max_duration_s: float | None = MAX_DURATION_S,
) -> np.ndarray:
    """Decode a file or convert an array/tensor to C-contiguous mono float32 at `sr`: the one loader for all.

    `source` is a path (WAV, FLAC, Ogg Vorbis/Opus, AIFF, MP3 via soundfile; other formats via ffmpeg when it
    is installed) or a 1-D/2-D numpy array or torch tensor; anything else (a list, bytes, None) is a TypeError.
    For arrays `source_sr` is their sample rate; when it is None the array is assumed to be at `sr` already
    (Whisper's convention for arrays). Sample rates must lie in 1 kHz–768 kHz.

    Orientation of 2-D arrays: the shorter axis holds the channels (at most 16), which are averaged; a square
    array is (frames, channels) as soundfile returns it. So (1, n) and (n, 1) are both one channel of n samples.

    Integer PCM is scaled to [-1, 1] by its width: int8/int16 (and uint8) by their dtype's range; int32/int64
    by the narrowest of 16, 24 or 32 bits that holds their values (an int64 array of int16 samples is 16-bit
    audio, not near-silence); values beyond 32 bits are refused. The result may not exceed `max_duration_s`
    seconds (4 h by default; None lifts the cap), checked before any large allocation.
    """
    check_sample_rate(sr, "sr")
    if source_sr is not None:
        check_sample_rate(source_sr, "source_sr")
    if isinstance(source, (str, os.PathLike)):
        if source_sr is not None:
            raise ValueError(
                f"source_sr={source_sr} was given for the file {source!s}, but files carry their own sample "
                "rate; drop source_sr (it is only for arrays)"
            )
        what = f"audio file {source!s}"
        audio, rate = _decode_file(Path(source), sr, max_duration_s)  # (frames, ch) from soundfile, 1-D ffmpeg
        channel_axis = 1
    else:
        what = "audio array"
        audio, rate = _to_float_array(source), source_sr or sr
        channel_axis = _channel_axis(audio, what) if audio.ndim == 2 else None
    if audio.size == 0:
        raise ValueError(f"{what} is empty (0 samples); pass a recording that has sound in it")
    _check_duration(audio.shape[channel_axis - 1] if audio.ndim == 2 else len(audio), rate, max_duration_s, what)
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
    check_sample_rate(sr, "sr")
    return len(audio) / sr


def check_sample_rate(rate: Any, name: str = "sample rate") -> None:
    """Reject rates that are not integers in 1 kHz–768 kHz before they reach soxr or ffmpeg."""
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or rate <= 0:
        raise ValueError(f"{name} must be a positive integer sample rate in Hz (e.g. 16000), got {rate!r}")
    if not MIN_RATE_HZ <= rate <= MAX_RATE_HZ:
        raise ValueError(
            f"{name}={rate} Hz is not an audio sample rate (expected {MIN_RATE_HZ}–{MAX_RATE_HZ} Hz, e.g. 16000); "
            "for a file this means a broken header: re-export it"
        )


def _check_duration(frames: int, rate: int, max_duration_s: float | None, what: str) -> None:
    """Refuse recordings longer than `max_duration_s` before resampling allocates their output."""
    if max_duration_s is not None and frames / rate > max_duration_s:
        raise ValueError(
            f"{what} lasts {frames / rate / 3600:.1f} h ({frames} frames at {rate} Hz), over the "
            f"{max_duration_s / 3600:.1f} h limit; cut it into parts, or pass max_duration_s=None if you "
            "really mean it and have the memory"
        )


def _integer_scale(source: np.ndarray) -> float:
    """The full-scale value of integer PCM: the dtype's range up to 16 bits, else the width the values use."""
    if source.dtype.itemsize <= 2:
        return float(2 ** (8 * source.dtype.itemsize - 1))
    peak = int(np.abs(source.astype(np.int64, copy=False)).max(initial=0)) if source.size else 0
    for bits in _PCM_BITS:
        if peak <= 2 ** (bits - 1):
            return float(2 ** (bits - 1))
    raise ValueError(
        f"integer audio of dtype {source.dtype} has samples up to {peak}, beyond 32-bit PCM; scale it to "
        "float in [-1, 1] yourself (e.g. audio / np.abs(audio).max())"
    )


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
        return (source / _integer_scale(source)).astype(np.float32)
    if kind == "u":
        if source.dtype.itemsize > 1:
            raise ValueError(
                f"audio array has dtype {source.dtype}; unsigned PCM is only standard as 8-bit (uint8): "
                "convert to a signed integer or float array first"
            )
        return ((source - 128.0) / 128.0).astype(np.float32)
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


def _decode_file(path: Path, sr: int, max_duration_s: float | None) -> tuple[np.ndarray, int]:
    """Read a file with soundfile, or with ffmpeg when soundfile cannot and ffmpeg is on PATH."""
    if not path.exists():
        raise FileNotFoundError(f"audio file not found: {path}; check the path (relative to {Path.cwd()})")
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not an audio file; pass one of the files inside it")
    try:
        with open(path, "rb") as probe:
            empty = not probe.read(1)
    except PermissionError:
        raise PermissionError(
            f"audio file {path} cannot be read: permission denied; fix its permissions (chmod +r) or copy it"
        ) from None
    if empty:
        raise ValueError(f"audio file {path} is empty (0 bytes); re-export or re-download it")
    try:
        return _read_soundfile(path, max_duration_s)
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


def _read_soundfile(path: Path, max_duration_s: float | None) -> tuple[np.ndarray, int]:
    """Decode with libsndfile; refuse absurd header rates, over-long files and headers promising missing data."""
    with sf.SoundFile(path) as f:
        rate, expected = f.samplerate, f.frames
        check_sample_rate(rate, f"the sample rate in the header of {path}")
        _check_duration(expected, rate, max_duration_s, f"audio file {path}")
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
    check_sample_rate(sr, "sr")
    if not np.isfinite(duration_s) or duration_s <= 0 or round(duration_s * sr) < 1:
        raise ValueError(f"duration_s must be a positive number of seconds (e.g. 2.0), got {duration_s!r}")
    t = np.arange(round(duration_s * sr)) / sr
    tones = 0.5 * np.sin(2 * np.pi * 220 * t) + 0.3 * np.sin(2 * np.pi * 440 * t)
    tones += 0.2 * np.sin(2 * np.pi * 880 * t)
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t)  # 0.5 Hz swell: audible as "breathing", not a click
    noise = 0.02 * np.random.default_rng(seed).standard_normal(len(t))
    signal = tones * envelope + noise
    return (0.9 * signal / np.abs(signal).max()).astype(np.float32)
