"""What the long-form methods return: one record per decoded window and the whole result."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class ChunkRecord:
    """One decoded window: where it lies in the audio, what it produced, what it covered and what it cost."""

    index: int
    start_s: float
    end_s: float
    text: str  # this window's own transcript, before any merge
    n_tokens: int  # text tokens decoded in this window
    tokens_kept: int  # of those, how many made it into the final transcript (all but overlap duplicates)
    compute_s: float  # this window's share of its batches' encode + decode time
    rtf: float  # compute_s / window duration
    covered_s: float = 0.0  # seconds from the window's start that decoding went through (all of it, normally)
    uncovered_speech_s: float = 0.0  # seconds of VAD speech in the window that no decoded segment covers
    passes: int = 1  # decode passes: more than 1 when Whisper stopped early and the rest was decoded again
    skipped: str = ""  # why part of the window has no text (e.g. "no speech (p=0.93, logprob=-1.20)")

    def to_dict(self) -> dict[str, Any]:
        """Plain fields, for JSON and DataFrames."""
        return asdict(self)


@dataclass
class LongformResult:
    """A long-form transcript with the per-window records, what it left uncovered, and the total cost."""

    text: str
    language: str
    chunks: list[ChunkRecord]
    audio_s: float
    compute_s: float  # wall time of the whole call: mel, VAD, encode, decode, merge
    rtf: float
    method: str  # "chunked", "overlapping", "vad", "fast" or "long"
    batch_size: int = 1
    profile: dict[str, float] = field(default_factory=dict)  # seconds per stage: mel, vad, encode, decode
    speech_s: float | None = None  # seconds of speech found by VAD (None: coverage not checked)
    uncovered: list[tuple[float, float, str]] = field(default_factory=list)  # (start_s, end_s, reason)

    @property
    def rtfx(self) -> float:
        """Seconds of audio per compute second (1 / RTF)."""
        return float("inf") if self.rtf == 0 else 1.0 / self.rtf

    @property
    def faster_than_realtime(self) -> bool:
        """True when the transcript took less time than the audio lasts."""
        return self.rtf < 1.0

    @property
    def uncovered_speech_s(self) -> float:
        """Seconds of VAD speech that no decoded text covers (0 when everything was transcribed)."""
        return sum(end - start for start, end, _ in self.uncovered)

    def to_dict(self) -> dict[str, Any]:
        """Plain fields (chunks as a list of dicts), for JSON."""
        return asdict(self)

    def table(self) -> pd.DataFrame:
        """One row per window: start, end, text, tokens, time, RTF, coverage."""
        import pandas as pd  # pandas only for this table view

        return pd.DataFrame([chunk.to_dict() for chunk in self.chunks])
