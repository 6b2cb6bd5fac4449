"""Device profiles: one YAML per device under ``devices/``, validated on load.

A bad profile fails with the file, the field path and the reason (and a fix where
one is obvious), never with a bare traceback.  Backend ``params`` and detector
``thresholds`` are checked against the backend's and detector's own schemas at
load time, so a typo is caught before any hardware is touched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from harness.errors import BadInput, ProfileError

DEVICES_DIR = Path(__file__).resolve().parent.parent / "devices"

# Canonical key names tests use; a profile maps each to its backend's code.
STANDARD_KEYS = (
    "POWER", "HOME", "BACK", "MENU", "OK", "UP", "DOWN", "LEFT", "RIGHT",
    "PLAY", "PAUSE", "PLAY_PAUSE", "STOP", "FAST_FORWARD", "REWIND", "SKIP_FORWARD",
    "SKIP_BACK", "VOLUME_UP", "VOLUME_DOWN", "MUTE", "CHANNEL_UP", "CHANNEL_DOWN",
    "INFO", "GUIDE", "SUBTITLES", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ControllerSpec(_Strict):
    type: str = Field(description="controller backend, e.g. mock, adb, serial, lirc, itach, roku, cec")
    params: dict[str, Any] = Field(default_factory=dict)
    keymap: dict[str, str] = Field(default_factory=dict,
                                   description="harness key name -> backend key code")
    inter_key_delay_s: float = Field(0.1, ge=0, le=10)
    io_timeout_s: float = Field(5.0, gt=0, le=120)
    retries: int = Field(2, ge=0, le=10)

    @field_validator("keymap", mode="before")
    @classmethod
    def _codes_as_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): (str(v) if isinstance(v, (int, float)) else v) for k, v in value.items()}
        return value


class VideoSpec(_Strict):
    type: str = Field(description="video source backend, e.g. mock, opencv, file")
    params: dict[str, Any] = Field(default_factory=dict)
    width: int = Field(1920, ge=16, le=8192)
    height: int = Field(1080, ge=16, le=8192)
    fps: float = Field(60.0, gt=0, le=240)
    buffer_frames: int = Field(60, ge=2, le=10000,
                               description="capture ring buffer size (1 s at 60 fps, ~370 MB at 1080p); "
                                           "overflow is counted as dropped")


class AudioSpec(_Strict):
    type: str = Field(description="audio source backend, e.g. mock, sounddevice, file")
    params: dict[str, Any] = Field(default_factory=dict)
    sample_rate: int = Field(48000, ge=8000, le=192000)
    channels: int = Field(2, ge=1, le=16)
    chunk_s: float = Field(0.02, gt=0, le=1.0)


class LatencySpec(_Strict):
    key_to_screen_ms: float = Field(150.0, ge=0, description="typical key-to-screen latency")
    max_key_to_screen_ms: float = Field(1000.0, gt=0, description="a slower reaction fails a step")
    capture_av_offset_ms: float = Field(0.0, description="the capture chain's own A/V offset, "
                                        "subtracted from reported offsets (set by calibration)")


class Profile(_Strict):
    name: str
    description: str = ""
    controller: ControllerSpec
    video: VideoSpec
    audio: AudioSpec | None = None
    latency: LatencySpec = Field(default_factory=LatencySpec)
    features: list[str] = Field(default_factory=list)
    thresholds: dict[str, dict[str, Any]] = Field(default_factory=dict,
                                                  description="detector name -> threshold overrides")
    sim: dict[str, Any] | None = Field(None, description="simulated-device settings (mock only)")

    # not part of the YAML: where it came from
    source: str = Field("", exclude=True)

    def has(self, feature: str) -> bool:
        return feature in self.features

    def detector_config(self, name: str, **overrides: Any) -> dict[str, Any]:
        merged = dict(self.thresholds.get(name, {}))
        merged.update(overrides)
        return merged


def profile_names(devices_dir: Path = DEVICES_DIR) -> list[str]:
    return sorted(p.stem for p in devices_dir.glob("*.yaml"))


def resolve_profile_path(name_or_path: str, devices_dir: Path = DEVICES_DIR) -> Path:
    """``mock`` -> devices/mock.yaml; a path (anything with / or .yaml) is taken as given."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or "/" in name_or_path or candidate.is_file():
        if not candidate.is_file():
            raise BadInput(f"device profile file {name_or_path} does not exist")
        return candidate
    path = devices_dir / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(profile_names(devices_dir)) or "(none)"
        raise BadInput(f"unknown device {name_or_path!r}; profiles in {devices_dir}: {known} "
                       f"(or pass a path to a profile YAML)")
    return path


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


_FIXES = {
    "extra_forbidden": "remove it, or check its spelling against the documented fields",
    "missing": "add it",
}


def problems_from(error: ValidationError, prefix: str = "") -> list[tuple[str, str, str]]:
    """``(where, what is wrong, fix)`` for each error of ``error``, ``where`` under ``prefix``."""
    problems = []
    for item in error.errors():
        path = _loc(tuple(item["loc"]))
        if prefix:
            path = f"{prefix}.{path}" if path else prefix
        reason = item["msg"]
        if item["type"] == "extra_forbidden":
            reason = "unknown field"
        problems.append((path, reason, _FIXES.get(item["type"], "")))
    return problems


def load_profile(name_or_path: str | Path, devices_dir: Path = DEVICES_DIR) -> Profile:
    """Load and fully validate a profile (schema, backend params, keymap, detector thresholds)."""
    path = resolve_profile_path(str(name_or_path), devices_dir)
    source = str(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ProfileError(source, [(where, f"not valid YAML: {getattr(exc, 'problem', exc)}",
                                     "fix the YAML syntax")]) from None
    except OSError as exc:
        raise ProfileError(source, [("", f"cannot read: {exc.strerror}", "")]) from None
    if not isinstance(data, dict):
        raise ProfileError(source, [("", "a profile is a YAML mapping", "start with `name: ...`")])
    data.setdefault("name", path.stem)
    try:
        profile = Profile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(source, problems_from(exc)) from None
    profile.source = source
    problems = check_bindings(profile)
    if problems:
        raise ProfileError(source, problems)
    return profile


def check_bindings(profile: Profile) -> list[tuple[str, str, str]]:
    """Backends exist, their params validate, keymaps cover the backend, thresholds fit detectors."""
    from detectors import base as detector_registry
    from harness.capture import audio_backend, video_backend
    from harness.control import controller_backend

    problems: list[tuple[str, str, str]] = []
    for section, lookup in (("controller", controller_backend), ("video", video_backend),
                            ("audio", audio_backend)):
        spec = getattr(profile, section)
        if spec is None:
            continue
        try:
            backend = lookup(spec.type)
        except BadInput as exc:
            problems.append((f"{section}.type", str(exc), "use one of the listed types"))
            continue
        try:
            backend.Params.model_validate(spec.params)
        except ValidationError as exc:
            problems.extend(problems_from(exc, f"{section}.params"))
    for key in profile.controller.keymap:
        if not key or not key.replace("_", "").isalnum():
            problems.append((f"controller.keymap.{key}", "key names are letters, digits and _",
                             "use a name such as OK or FAST_FORWARD"))
    for name, params in profile.thresholds.items():
        try:
            cls = detector_registry.detector_class(name)
        except BadInput as exc:
            problems.append((f"thresholds.{name}", str(exc), "use a registered detector name"))
            continue
        if not isinstance(params, dict):
            problems.append((f"thresholds.{name}", "must be a mapping of threshold -> value", ""))
            continue
        try:
            cls.Config.model_validate(params)
        except ValidationError as exc:
            problems.extend(problems_from(exc, f"thresholds.{name}"))
    if profile.sim is not None:
        from harness.sim.device import SimSettings
        try:
            SimSettings.model_validate(profile.sim)
        except ValidationError as exc:
            problems.extend(problems_from(exc, "sim"))
    return problems
