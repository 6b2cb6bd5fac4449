"""Attach evidence to the running Allure test (no-ops, and no work done, without a report)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import allure
import cv2
import numpy as np
from allure_commons import plugin_manager


def reporting() -> bool:
    """True when an Allure results writer is listening (pytest ran with an Allure results dir)."""
    return any(type(p).__name__ == "AllureFileLogger" for p in plugin_manager.get_plugins())


def attach_image(name: str, image: np.ndarray, quality: int = 85) -> None:
    if not reporting():
        return
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if ok:
        allure.attach(buf.tobytes(), name=name, attachment_type=allure.attachment_type.JPG)


def attach_json(name: str, data: Any) -> None:
    if reporting():
        allure.attach(json.dumps(data, indent=2, default=str), name=name,
                      attachment_type=allure.attachment_type.JSON)


def attach_text(name: str, text: str) -> None:
    if reporting():
        allure.attach(text, name=name, attachment_type=allure.attachment_type.TEXT)


def attach_file(name: str, path: Path) -> None:
    """A device log or other text file."""
    if reporting():
        allure.attach.file(str(path), name=name, attachment_type=allure.attachment_type.TEXT)


def attach_clip(name: str, segment, start_s: float, end_s: float) -> str | None:
    """Encode part of a Segment to MP4 and attach it; returns an error text instead of raising."""
    if not reporting():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = segment.write_clip(Path(tmp) / "clip.mp4", start_s, end_s)
        except Exception as exc:  # noqa: BLE001 - a clip is evidence, never the verdict
            attach_text(f"{name} (not written)", f"clip could not be written: {exc}")
            return str(exc)
        allure.attach.file(str(path), name=name, attachment_type=allure.attachment_type.MP4)
    return None
