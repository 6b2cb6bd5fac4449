"""Capture backends: one module per source type, looked up by the profile's ``type``."""

from __future__ import annotations

import importlib

from harness.capture.base import AudioSource, EndOfStream, VideoSource
from harness.errors import BadInput

VIDEO_BACKENDS: dict[str, str] = {
    "mock": "harness.capture.mock:MockVideoSource",
    "file": "harness.capture.file:FileVideoSource",
    "opencv": "harness.capture.opencv:OpenCVVideoSource",
}
AUDIO_BACKENDS: dict[str, str] = {
    "mock": "harness.capture.mock:MockAudioSource",
    "file": "harness.capture.file:FileAudioSource",
    "sounddevice": "harness.capture.sounddevice_source:SoundDeviceAudioSource",
}


def _lookup(table: dict[str, str], kind: str, type_name: str):
    target = table.get(type_name)
    if target is None:
        raise BadInput(f"unknown {kind} source type {type_name!r}; known: {', '.join(sorted(table))}")
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def video_backend(type_name: str) -> type[VideoSource]:
    return _lookup(VIDEO_BACKENDS, "video", type_name)


def audio_backend(type_name: str) -> type[AudioSource]:
    return _lookup(AUDIO_BACKENDS, "audio", type_name)


__all__ = ["AUDIO_BACKENDS", "AudioSource", "EndOfStream", "VIDEO_BACKENDS", "VideoSource",
           "audio_backend", "video_backend"]
