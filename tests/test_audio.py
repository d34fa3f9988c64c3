"""audio.py: every way in gives 16 kHz mono float32, and every bad input says what is wrong."""

import os
import stat
import sys
import threading

import numpy as np
import pytest
import soundfile as sf
import torch

from course_utils import audio
from course_utils.audio import SAMPLE_RATE, duration_s, load_audio, synth_tone
from course_utils.tts import speech_languages, synth_speech


def stereo_tone(seconds: float = 1.0, sr: int = 44100, freq: float = 440.0) -> np.ndarray:
    """A (frames, 2) test signal: the same tone at two levels, so the downmix is easy to predict."""
    t = np.arange(round(seconds * sr)) / sr
    mono = 0.5 * np.sin(2 * np.pi * freq * t)
    return np.stack([mono, 0.5 * mono], axis=1).astype(np.float32)


def peak_hz(x: np.ndarray, sr: int) -> float:
    """The strongest frequency in `x` (Hann-windowed FFT)."""
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / sr)[spectrum.argmax()])


@pytest.fixture
def wav_path(tmp_path):
    """A valid 1 s 44.1 kHz stereo WAV file."""
    path = tmp_path / "tone.wav"
    sf.write(path, stereo_tone(), 44100, subtype="PCM_16")
    return path


# --- formats ----------------------------------------------------------------------------------------------

FORMATS = [("wav", "WAV", "PCM_16"), ("flac", "FLAC", "PCM_24"), ("ogg", "OGG", "VORBIS"),
           ("opus", "OGG", "OPUS"), ("aiff", "AIFF", "PCM_16"), ("mp3", "MP3", "MPEG_LAYER_III")]  # fmt: skip


@pytest.mark.parametrize(("ext", "fmt", "subtype"), FORMATS, ids=[f[0] + "-" + f[2] for f in FORMATS])
def test_formats_decode_to_16k_mono_float32(tmp_path, ext, fmt, subtype):
    if subtype not in sf.available_subtypes(fmt):
        pytest.skip(f"this libsndfile cannot write {fmt}/{subtype}")
    path = tmp_path / f"tone.{'ogg' if ext == 'opus' else ext}"
    sr = 48000 if subtype == "OPUS" else 44100  # Opus only encodes at 8/12/16/24/48 kHz
    sf.write(path, stereo_tone(1.0, sr), sr, format=fmt, subtype=subtype)
    x = load_audio(path)
    assert x.dtype == np.float32 and x.ndim == 1 and x.flags["C_CONTIGUOUS"]
    assert abs(len(x) / SAMPLE_RATE - 1.0) < 0.06  # MP3/Opus add or drop a few ms of padding
    assert abs(peak_hz(x, SAMPLE_RATE) - 440) < 5
    assert 0.3 < np.abs(x).max() < 0.45  # mean of the 0.5 and 0.25 channels


def test_wav_downmix_is_channel_mean(wav_path):
    x = load_audio(wav_path, sr=44100)  # no resampling: compare samples directly
    expected = stereo_tone().mean(axis=1)
    assert len(x) == 44100
    np.testing.assert_allclose(x, expected, atol=1e-4)


def test_accepts_str_path_and_custom_rate(wav_path):
    x = load_audio(str(wav_path), sr=8000)
    assert len(x) == 8000


def test_ffmpeg_fallback_when_soundfile_cannot_read(tmp_path, monkeypatch):
    """A format libsndfile does not know goes through ffmpeg (a stand-in script here) with whisper's flags."""
    if os.name != "posix":
        pytest.skip("the stand-in ffmpeg is a shell script")
    fake = tmp_path / "bin" / "ffmpeg"
    fake.parent.mkdir()
    log = tmp_path / "args.txt"
    fake.write_text(
        f'#!/bin/sh\necho "$@" > {log}\n'
        f'exec {sys.executable} -c "import sys, numpy as n; '
        f'sys.stdout.buffer.write((n.ones(1600) * 16384).astype(n.int16).tobytes())"\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    video = tmp_path / "clip.m4a"
    video.write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(64))
    x = load_audio(video)
    assert x.shape == (1600,) and x.dtype == np.float32
    np.testing.assert_allclose(x, 0.5)
    assert "-ar 16000" in log.read_text() and "-ac 1" in log.read_text()


# --- arrays and tensors -----------------------------------------------------------------------------------


def test_int16_array_is_scaled_to_unit_range():
    pcm = np.array([0, 16384, -32768, 32767], dtype=np.int16)
    x = load_audio(pcm)
    np.testing.assert_allclose(x, [0.0, 0.5, -1.0, 32767 / 32768], rtol=1e-6)
    assert x.dtype == np.float32


def test_uint8_and_int32_arrays_are_scaled():
    np.testing.assert_allclose(load_audio(np.array([128, 255, 0], np.uint8)), [0, 127 / 128, -1])
    np.testing.assert_allclose(load_audio(np.array([2**30], np.int32)), [0.5])


def test_array_without_source_sr_is_taken_as_target_rate():
    x = np.linspace(-0.5, 0.5, 1000)
    np.testing.assert_allclose(load_audio(x), x.astype(np.float32))


def test_resampling_keeps_frequency_and_duration():
    sr = 44100
    tone = np.sin(2 * np.pi * 440 * np.arange(2 * sr) / sr).astype(np.float32)
    x = load_audio(tone, source_sr=sr)
    assert len(x) == 2 * SAMPLE_RATE
    assert abs(peak_hz(x, SAMPLE_RATE) - 440) < 1
    assert abs(np.sqrt(np.mean(x**2)) - np.sqrt(0.5)) < 0.01  # HQ resampling keeps the level


def test_channels_first_and_torch_tensor():
    stereo = stereo_tone(0.5, 16000)
    expected = stereo.mean(axis=1)
    np.testing.assert_allclose(load_audio(stereo.T.copy()), expected, atol=1e-6)  # (channels, frames)
    np.testing.assert_allclose(load_audio(torch.from_numpy(stereo)), expected, atol=1e-6)


def test_output_is_c_contiguous_for_strided_input():
    x = load_audio(np.zeros((2, 4000), np.float32)[:, ::2].T)
    assert x.flags["C_CONTIGUOUS"] and x.shape == (2000,)


# --- bad input: type AND message --------------------------------------------------------------------------


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.wav"
    with pytest.raises(FileNotFoundError, match="audio file not found") as error:
        load_audio(missing)
    assert str(missing) in str(error.value)


def test_text_file_named_wav(tmp_path, monkeypatch):
    monkeypatch.setattr(audio.shutil, "which", lambda name: None)  # same message whether or not ffmpeg exists
    fake = tmp_path / "notes.wav"
    fake.write_text("this is not audio\n" * 20)
    with pytest.raises(ValueError, match=r"notes\.wav is not an audio file.*convert it or install ffmpeg"):
        load_audio(fake)


def test_wav_cut_inside_header(tmp_path, wav_path, monkeypatch):
    monkeypatch.setattr(audio.shutil, "which", lambda name: None)
    cut = tmp_path / "cut_header.wav"
    cut.write_bytes(wav_path.read_bytes()[:30])
    with pytest.raises(ValueError, match=r"cut_header\.wav is truncated or corrupt.*re-download"):
        load_audio(cut)


def test_wav_header_claims_more_data_than_file_has(tmp_path, wav_path):
    """libsndfile silently reads what is there; the loader must notice the header's promise was broken."""
    cut = tmp_path / "cut_data.wav"
    data = wav_path.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    assert sf.info(cut).frames > 0  # soundfile alone would accept it
    with pytest.raises(ValueError, match=r"cut_data\.wav is truncated or corrupt"):
        load_audio(cut)


def test_truncated_flac(tmp_path, monkeypatch):
    monkeypatch.setattr(audio.shutil, "which", lambda name: None)
    path = tmp_path / "full.flac"
    sf.write(path, stereo_tone(), 44100)
    cut = tmp_path / "cut.flac"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"cut\.flac is truncated or corrupt"):
        load_audio(cut)


def test_empty_file(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.wav is empty \(0 bytes\)"):
        load_audio(empty)


def test_wav_with_zero_samples(tmp_path):
    path = tmp_path / "silent.wav"
    sf.write(path, np.zeros((0, 1), np.float32), 16000)
    with pytest.raises(ValueError, match=r"silent\.wav is empty \(0 samples\)"):
        load_audio(path)


@pytest.mark.parametrize("empty", [np.zeros(0, np.float32), np.zeros((0, 2), np.float32), torch.zeros(0)])
def test_empty_array(empty):
    with pytest.raises(ValueError, match=r"audio array is empty \(0 samples\); pass a recording"):
        load_audio(empty)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_samples(bad):
    x = np.zeros(100, np.float32)
    x[50] = bad
    with pytest.raises(ValueError, match="contains NaN or infinite samples; clean it first"):
        load_audio(x)


def test_nan_in_file(tmp_path):
    path = tmp_path / "nan.wav"
    sf.write(path, np.array([0.0, np.nan, 0.1], np.float32), 16000, subtype="FLOAT")
    with pytest.raises(ValueError, match=r"nan\.wav contains NaN or infinite samples"):
        load_audio(path)


def test_wrong_shapes():
    with pytest.raises(ValueError, match=r"shape \(1, 2, 100\).*select the batch item"):
        load_audio(np.zeros((1, 2, 100), np.float32))
    with pytest.raises(ValueError, match=r"shape \(100, 100\), which does not look like"):
        load_audio(np.zeros((100, 100), np.float32))
    with pytest.raises(TypeError, match="expects a file path, numpy array or torch tensor, got list"):
        load_audio([0.0, 0.1])


BAD_RATES = [
    ({"sr": 0}, "sr"),
    ({"sr": -16000}, "sr"),
    ({"source_sr": 0}, "source_sr"),
    ({"sr": 16000.5}, "sr"),
]


@pytest.mark.parametrize(("kwargs", "name"), BAD_RATES)
def test_non_positive_rates(kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name} must be a positive integer sample rate"):
        load_audio(np.zeros(10, np.float32), **kwargs)


def test_source_sr_with_a_file_is_refused(wav_path):
    with pytest.raises(ValueError, match="files carry their own sample rate"):
        load_audio(wav_path, source_sr=44100)


def test_directory_is_not_audio(tmp_path):
    with pytest.raises(ValueError, match="is a directory, not an audio file"):
        load_audio(tmp_path)


# --- synth_tone -------------------------------------------------------------------------------------------


def test_synth_tone_shape_and_level():
    x = synth_tone(2.0)
    assert x.dtype == np.float32 and x.shape == (32000,)
    assert 0.85 < np.abs(x).max() <= 0.9 + 1e-6
    assert duration_s(x) == 2.0
    assert abs(peak_hz(x, SAMPLE_RATE) - 220) < 2  # the loudest of the three tones


def test_synth_tone_is_deterministic_and_seed_dependent():
    np.testing.assert_array_equal(synth_tone(1.0, seed=3), synth_tone(1.0, seed=3))
    assert not np.array_equal(synth_tone(1.0, seed=3), synth_tone(1.0, seed=4))


def test_synth_tone_custom_rate():
    assert synth_tone(0.5, sr=8000).shape == (4000,)


@pytest.mark.parametrize("bad", [0, -1.0, float("nan")])
def test_synth_tone_rejects_bad_duration(bad):
    with pytest.raises(ValueError, match="duration_s must be a positive number of seconds"):
        synth_tone(bad)


# --- synth_speech -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("The quick brown fox jumps over the lazy dog.", "en"),
        ("Guten Morgen, wie geht es Ihnen heute?", "de"),
    ],
)
def test_synth_speech_is_plausible_speech(text, language):
    x = synth_speech(text, language)
    assert x.dtype == np.float32 and x.ndim == 1
    assert 0.5 < duration_s(x) < 10
    assert np.sqrt(np.mean(x**2)) > 0.01
    assert np.abs(x).max() <= 1.0
    frames = x[: len(x) // 400 * 400].reshape(-1, 400)  # 25 ms frames: speech has pauses and loud parts
    energy = np.sqrt(np.mean(frames**2, axis=1))
    assert energy.max() > 10 * np.percentile(energy, 10)


def test_synth_speech_rate_and_sample_rate():
    text = "One two three four five six seven eight nine ten."
    slow, fast = synth_speech(text, rate_wpm=100), synth_speech(text, rate_wpm=300)
    assert len(slow) > 1.8 * len(fast)
    at_22k = synth_speech(text, sr=22050, rate_wpm=100)
    assert abs(len(at_22k) / 22050 - len(slow) / SAMPLE_RATE) < 0.05


def test_synth_speech_language_code_without_voice_name_and_voice_override():
    assert (
        duration_s(synth_speech("你好，世界。", "zh")) > 0.3
    )  # espeak names the voice 'cmn'; 'zh' is a language
    assert "zh" in speech_languages() and "en" in speech_languages()
    assert duration_s(synth_speech("Hello there.", voice="en+f3")) > 0.3


def test_synth_speech_unknown_language():
    with pytest.raises(ValueError, match=r"no voice for 'xx-klingon'.*speech_languages\(\)"):
        synth_speech("Hello.", "xx-klingon")


@pytest.mark.parametrize("text", ["", "   \n"])
def test_synth_speech_empty_text(text):
    with pytest.raises(ValueError, match="text to speak is empty"):
        synth_speech(text)


def test_synth_speech_bad_rate():
    with pytest.raises(ValueError, match="rate_wpm must be 80-450"):
        synth_speech("Hello.", rate_wpm=10)


def test_synth_speech_many_calls_and_threads():
    """One initialisation serves many calls; concurrent calls are serialised and each gets only its text."""
    short, long = "Yes.", "This sentence is a good deal longer than the other one."
    n_short, n_long = len(synth_speech(short)), len(synth_speech(long))
    results: dict[int, int] = {}

    def speak(i: int) -> None:
        results[i] = len(synth_speech(short if i % 2 else long))

    threads = [threading.Thread(target=speak, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, n in results.items():  # a few samples of jitter: espeak's pitch flutter carries over between calls
        assert abs(n - (n_short if i % 2 else n_long)) < 400
    assert len(results) == 16
    for _ in range(50):
        assert len(synth_speech(short)) > 0


# --- edge cases from the input audit (issue 12 item 7) ------------------------------------------------------


def test_wide_integer_arrays_are_scaled_by_the_width_their_values_use():
    samples = np.array([0, 16384, -32768, 32767])
    expected = samples / 32768.0
    np.testing.assert_allclose(load_audio(samples.astype(np.int64)), expected)  # int16 values in an int64 array
    np.testing.assert_allclose(load_audio(samples.astype(np.int32)), expected)
    np.testing.assert_allclose(load_audio(np.array([2**22, -(2**23)], np.int64)), [0.5, -1.0])  # 24-bit
    np.testing.assert_allclose(load_audio(np.array([2**30], np.int64)), [0.5])  # 32-bit
    with pytest.raises(ValueError, match=r"beyond 32-bit PCM"):
        load_audio(np.array([2**40], np.int64))
    with pytest.raises(ValueError, match=r"uint16.*only standard as 8-bit"):
        load_audio(np.array([1, 2], np.uint16))


def test_absurd_header_rate_is_refused_before_allocating(tmp_path):
    path = tmp_path / "one-hertz.wav"
    sf.write(path, np.zeros(20_000, np.int16), 1000, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    data[24:28] = (1).to_bytes(4, "little")  # fmt chunk: sample rate = 1 Hz
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"sample rate in the header of .*=1 Hz is not an audio sample rate"):
        load_audio(path)


@pytest.mark.parametrize("rate", [1, 999, 768_001])
def test_array_rates_outside_audio_range(rate):
    with pytest.raises(ValueError, match=r"is not an audio sample rate"):
        load_audio(np.zeros(100, np.float32), source_sr=rate)


def test_over_long_recordings_are_refused_unless_asked(tmp_path):
    path = tmp_path / "long.wav"
    sf.write(path, np.zeros(8000 * 10, np.int16), 8000, subtype="PCM_16")  # 10 s
    with pytest.raises(ValueError, match=r"over the 0\.0 h limit.*max_duration_s=None"):
        load_audio(path, max_duration_s=5)
    with pytest.raises(ValueError, match=r"over the .* limit"):
        load_audio(np.zeros(16000 * 10, np.float32), max_duration_s=5)
    assert len(load_audio(path, max_duration_s=None)) == 16000 * 10


def test_unreadable_file_says_permission_denied(wav_path, monkeypatch):
    real_open = open

    def deny(file, *args, **kwargs):
        if str(file) == str(wav_path):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", deny)
    with pytest.raises(PermissionError, match=r"permission denied; fix its permissions"):
        load_audio(wav_path)


@pytest.mark.parametrize("shape", [(1, 5), (5, 1)])
def test_orientation_rule_shorter_axis_is_channels(shape):
    audio = np.arange(5, dtype=np.float32).reshape(shape) / 10
    np.testing.assert_allclose(load_audio(audio), np.arange(5) / 10)  # one channel of five samples either way


def test_square_arrays_are_frames_by_channels():
    audio = np.array([[0.2, 0.4], [0.6, 0.8]], np.float32)
    np.testing.assert_allclose(load_audio(audio), [0.3, 0.7])


@pytest.mark.parametrize("bad", [[0.1, 0.2], b"RIFF", None])
def test_non_arrays_are_type_errors(bad):
    with pytest.raises(TypeError, match=r"expects a file path, numpy array or torch tensor"):
        load_audio(bad)
