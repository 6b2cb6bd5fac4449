"""Defect detectors: one module per defect family, all speaking the event format of DEFECTS.md."""

from detectors.base import Detector, DetectorConfig, Event, available, create, detect, register

__all__ = ["Detector", "DetectorConfig", "Event", "available", "create", "detect", "register"]
