"""Turning per-item decisions into episodes: the streaming core every event detector shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from detectors.base import Event, Region


@dataclass
class _Open:
    start_s: float
    last_s: float
    scores: list[float] = field(default_factory=list)
    evidence: Any = None
    evidence_score: float = -1.0
    details: dict[str, Any] = field(default_factory=dict)


class EpisodeTracker:
    """Collects contiguous runs of positive items into events.

    ``update(t, positive, score, ...)`` is called once per item in time order; an
    episode that ends is returned as an :class:`Event` if it lasted at least
    ``min_duration_s``.  An episode ends at the time of the first negative item
    (or, at ``finish``, one item interval after the last positive one), so a
    single-frame defect has ``end_s`` = the next frame's time.
    """

    def __init__(self, kind: str, detector: str, min_duration_s: float,
                 region: Region | None = None,
                 summarise: Callable[[list[float]], float] | None = None) -> None:
        self.kind = kind
        self.detector = detector
        self.min_duration_s = min_duration_s
        self.region = region
        self.summarise = summarise or (lambda scores: float(np.mean(scores)))
        self._open: _Open | None = None
        self._last_t: float | None = None
        self._interval: float | None = None

    @property
    def active_since(self) -> float | None:
        return None if self._open is None else self._open.start_s

    def update(self, t: float, positive: bool, score: float = 1.0, evidence: Any = None,
               details: dict[str, Any] | None = None) -> list[Event]:
        if self._last_t is not None and t > self._last_t:
            step = t - self._last_t
            self._interval = step if self._interval is None else 0.9 * self._interval + 0.1 * step
        self._last_t = t
        if positive:
            if self._open is None:
                self._open = _Open(start_s=t, last_s=t)
            episode = self._open
            episode.last_s = t
            episode.scores.append(score)
            if evidence is not None and score > episode.evidence_score:
                episode.evidence, episode.evidence_score = evidence, score
            if details:
                for key, value in details.items():
                    episode.details[key] = _merge(episode.details.get(key), value, key)
            return []
        return self._close(t)

    def finish(self) -> list[Event]:
        if self._open is None:
            return []
        return self._close(self._open.last_s + (self._interval or 0.0))

    def _close(self, end_s: float) -> list[Event]:
        episode, self._open = self._open, None
        if episode is None or end_s - episode.start_s < self.min_duration_s - 1e-9:
            return []
        return [Event(kind=self.kind, start_s=episode.start_s, end_s=end_s,
                      score=float(np.clip(self.summarise(episode.scores), 0.0, 1.0)),
                      detector=self.detector, region=self.region,
                      details=episode.details, frame=episode.evidence)]


def _merge(old: Any, new: Any, key: str) -> Any:
    """Details merge across an episode: ``max_*`` keep the max, ``min_*`` the min, others the last."""
    if old is None:
        return new
    if key.startswith("max") and isinstance(new, (int, float)):
        return max(old, new)
    if key.startswith("min") and isinstance(new, (int, float)):
        return min(old, new)
    return new
