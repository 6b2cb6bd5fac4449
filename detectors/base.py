"""The event every detector reports, the streaming detector interface and the registry.

A detector is a small class with ``feed(item) -> list[Event]`` and
``finish() -> list[Event]`` over timestamped :class:`~harness.media.Frame` or
:class:`~harness.media.AudioChunk` objects.  It knows nothing of pytest, Allure or
devices, so the same code runs on live capture and on files.  For one-off use
there is the plain-function form ``detect("freeze", frames=...)``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterable, Iterator, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from harness.errors import BadInput

Region = tuple[int, int, int, int]  # x, y, w, h in source pixels


@dataclass(eq=False)
class Event:
    """One episode of one defect kind, in the format of ``shared/DEFECTS.md``.

    Always truthy, so ``assert not events`` fails carrying them; ``frame`` (not
    serialised) holds the picture the detector saw, for evidence.
    """

    kind: str
    start_s: float
    end_s: float
    score: float
    detector: str
    region: Region | None = None
    details: dict[str, Any] = field(default_factory=dict)
    frame: np.ndarray | None = field(default=None, repr=False)

    def __bool__(self) -> bool:
        return True

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    def overlaps(self, start_s: float, end_s: float, tolerance_s: float = 0.0) -> bool:
        return self.start_s <= end_s + tolerance_s and self.end_s >= start_s - tolerance_s

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "start_s": round(float(self.start_s), 4),
            "end_s": round(float(self.end_s), 4),
            "score": round(float(self.score), 4),
            "detector": self.detector,
            "region": None if self.region is None else [int(v) for v in self.region],
            "details": _jsonable(self.details),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Event":
        region = data.get("region")
        return cls(
            kind=data["kind"],
            start_s=float(data["start_s"]),
            end_s=float(data["end_s"]),
            score=float(data.get("score", 1.0)),
            detector=data.get("detector", ""),
            region=None if region is None else tuple(int(v) for v in region),
            details=dict(data.get("details") or {}),
        )

    def shifted(self, offset_s: float) -> "Event":
        """The same event with times expressed relative to ``offset_s``."""
        return Event(self.kind, self.start_s - offset_s, self.end_s - offset_s, self.score,
                     self.detector, self.region, dict(self.details), self.frame)

    def describe(self, origin_s: float = 0.0, origin_name: str = "") -> str:
        """``freeze at 7.60-9.07 s into the step (1.47 s, score 1.00, detector freeze)``."""
        where = f" into {origin_name}" if origin_name else ""
        text = (f"{self.kind} at {self.start_s - origin_s:.2f}-{self.end_s - origin_s:.2f} s{where} "
                f"({self.duration_s:.2f} s, score {self.score:.2f}, detector {self.detector})")
        if self.region is not None:
            text += f" region {list(self.region)}"
        return text


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return round(float(value), 6)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    return value


class DetectorConfig(BaseModel):
    """Base of every detector's thresholds; unknown fields are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Detector:
    """Streaming detector. Subclasses set ``name``, ``kind``, ``media`` and ``Config``."""

    name: ClassVar[str]
    kind: ClassVar[str]
    media: ClassVar[Literal["video", "audio"]]
    Config: ClassVar[type[DetectorConfig]] = DetectorConfig
    #: the kinds it reports, where more than ``kind`` (a classifier of several defects)
    reports: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def kinds(cls) -> tuple[str, ...]:
        """Every kind this detector reports events of."""
        return cls.reports or (cls.kind,)

    def __init__(self, config: DetectorConfig | None = None, **overrides: Any) -> None:
        base = config.model_dump() if config is not None else {}
        base.update(overrides)
        self.config = self.Config.model_validate(base)

    def feed(self, item: Any) -> list[Event]:
        raise NotImplementedError

    def finish(self) -> list[Event]:
        return []

    @property
    def measurements(self) -> dict[str, Any]:
        """Figures over everything fed so far that are no event (the loudness detector's
        integrated loudness, loudness range, true peak against its target): ``harness analyze``
        writes them under ``measurements`` by detector name. Empty for most detectors."""
        return {}


# name -> "module:Class"; imported on first use so a registry lookup never pulls heavy deps.
_REGISTRY: dict[str, str] = {
    "black": "detectors.video.black:BlackDetector",
    "freeze": "detectors.video.freeze:FreezeDetector",
    "silence": "detectors.audio.silence:SilenceDetector",
    "clicks": "detectors.audio.clicks:ClicksDetector",
    "hum": "detectors.audio.hum:HumDetector",
    "hiss": "detectors.audio.hiss:HissDetector",
    "distortion": "detectors.audio.distortion:DistortionDetector",
    "loudness": "detectors.audio.loudness:LoudnessDetector",
    "channel": "detectors.audio.channel:ChannelDetector",
    "audio_artifacts": "detectors.audio.artifacts:ArtifactDetector",
    "stutter": "detectors.video.stutter:StutterDetector",
    "tearing": "detectors.video.tearing:TearingDetector",
    "no_signal": "detectors.video.no_signal:NoSignalDetector",
    "aspect": "detectors.video.aspect:AspectDetector",
    "block_corruption": "detectors.video.block_corruption:BlockCorruptionDetector",
    "block_corruption:dsp": "detectors.video.block_corruption:BlockCorruptionDetector",
    "block_corruption:v1": "detectors.video.block_cnn:BlockCorruptionCNNv1",
    "block_corruption:v2": "detectors.video.block_cnn:BlockCorruptionCNNv2",
    "blur": "detectors.video.blur:BlurDetector",
    "interlace": "detectors.video.interlace:InterlaceDetector",
    "color_range": "detectors.video.color_range:ColorRangeDetector",
}


def register(name: str, target: str) -> None:
    """Plug in a detector by name (``target`` is ``"package.module:Class"``)."""
    _REGISTRY[name] = target


def available() -> list[str]:
    return sorted(_REGISTRY)


def detector_class(name: str) -> type[Detector]:
    target = _REGISTRY.get(name)
    if target is None:
        raise BadInput(f"unknown detector {name!r}; available: {', '.join(available())}")
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def create(name: str, config: dict[str, Any] | None = None, **overrides: Any) -> Detector:
    cls = detector_class(name)
    params = dict(config or {})
    params.update(overrides)
    return cls(**params)


def resolve_names(spec: str | Iterable[str] | None, media: str | None = None) -> list[str]:
    """``"all"``, ``"black,freeze"`` or a list -> validated detector names (optionally one media)."""
    if spec is None or spec == "all" or spec == ["all"]:
        # every detector once: an alias (e.g. block_corruption:dsp) of a listed target is skipped
        # and variants ("block_corruption:v1") of a registered plain name are left to be named
        seen: set[str] = set()
        names = [n for n in available() if not (_REGISTRY[n] in seen or seen.add(_REGISTRY[n]))
                 and not (":" in n and n.partition(":")[0] in _REGISTRY)]
    elif isinstance(spec, str):
        names = [s.strip() for s in spec.split(",") if s.strip()]
        if not names:
            raise BadInput(f"no detector named in {spec!r} (fix: name some, or 'all'; "
                           f"`harness detectors` lists them)")
    else:
        names = list(spec)
    for name in names:
        detector_class(name)  # raises BadInput naming the unknown one
    if media is not None:
        names = [n for n in names if detector_class(n).media == media]
    return names


def detect(name: str, frames: Iterable[Any] | None = None, audio: Iterable[Any] | None = None,
           **params: Any) -> Iterator[Event]:
    """Plain-function form: ``for e in detect("freeze", frames=segment.frames): ...``."""
    detector = create(name, **params)
    items = frames if detector.media == "video" else audio
    if items is None:
        raise BadInput(f"detector {name!r} analyses {detector.media}; pass "
                       f"{'frames' if detector.media == 'video' else 'audio'}=")
    for item in items:
        yield from detector.feed(item)
    yield from detector.finish()
