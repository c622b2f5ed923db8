"""The result of analysing one track: the typed value the rest of showctl reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ANALYSIS_VERSION", "TrackAnalysis"]

# Bump when the tracker changes what it returns: cached results from another version are recomputed.
ANALYSIS_VERSION = "2"


@dataclass(frozen=True)
class TrackAnalysis:
    """Tempo, beat grid and bars of one audio file. Times are seconds from the start of the file."""

    path: str
    duration: float
    tempo: float  # BPM
    beats: tuple[float, ...]
    downbeats: tuple[float, ...]
    confidence: float  # 0..1: how much to trust the grid
    beats_per_bar: int = 4
    version: str = field(default=ANALYSIS_VERSION)

    def to_json(self) -> dict[str, Any]:
        """The `showctl analyze --json` object (field names are a CLI contract)."""
        return {
            "path": self.path,
            "duration": round(self.duration, 6),
            "tempo": round(self.tempo, 3),
            "beats": [round(b, 6) for b in self.beats],
            "downbeats": [round(b, 6) for b in self.downbeats],
            "confidence": round(self.confidence, 4),
            "beats_per_bar": self.beats_per_bar,
            "version": self.version,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrackAnalysis:
        return cls(
            path=str(data["path"]),
            duration=float(data["duration"]),
            tempo=float(data["tempo"]),
            beats=tuple(float(b) for b in data["beats"]),
            downbeats=tuple(float(b) for b in data["downbeats"]),
            confidence=float(data["confidence"]),
            beats_per_bar=int(data.get("beats_per_bar", 4)),
            version=str(data.get("version", ANALYSIS_VERSION)),
        )
