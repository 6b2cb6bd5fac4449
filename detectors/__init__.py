"""Defect detectors: one module per defect family, all speaking the event format of DEFECTS.md."""

import harness  # noqa: F401  (first: its math-thread defaults, harness/threads.py, before numpy loads)
from detectors.base import Detector, DetectorConfig, Event, available, create, detect, register

__all__ = ["Detector", "DetectorConfig", "Event", "available", "create", "detect", "register"]
