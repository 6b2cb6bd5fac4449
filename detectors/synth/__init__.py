"""Defect synthesis shared by the simulated device, the evaluation corpus and training: the
injectors (:mod:`~detectors.synth.video`, :mod:`~detectors.synth.audio`,
:mod:`~detectors.synth.codec`), pristine content (:mod:`~detectors.synth.content`) and the corpus
builder (:mod:`~detectors.synth.corpus`)."""

from __future__ import annotations

from detectors.base import Event, Region

INJECTED = "injected"  # the detector name of ground-truth events


def truth(kind: str, start: float, end: float, severity: float, region: Region | None = None,
          **details: object) -> Event:
    """A ground-truth episode in the event format: detector ``"injected"``, score 1, the
    severity and ``details`` in its details."""
    return Event(kind, start, end, 1.0, INJECTED, region, {"severity": severity, **details})
