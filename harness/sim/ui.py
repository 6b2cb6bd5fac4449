"""The simulated TV's user interface: launcher, app catalogues and the player's overlays.

The UI is an immutable :class:`UiState`; :func:`apply_key` and :func:`apply_text` return the
state an input produces.  Times in the state are *output frame indices*: inputs take effect on
frame boundaries, as on a real display, so positions and animations are exact integers.

:class:`UiRenderer` draws the screens.  Everything static (backgrounds, tiles, posters, the
catalogue grids) is drawn once and copied per frame; only the moving focus highlight, texts that
change and overlays are drawn live.  :meth:`UiRenderer.frame_key` names what a frame shows, so
the device can reuse the previous picture while nothing changes.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable
from dataclasses import dataclass, replace
from typing import Literal

import cv2
import numpy as np

from harness.sim.content import procedural_texture

Screen = Literal["home", "catalogue", "player", "off"]
BGR = tuple[int, int, int]
Rect = tuple[tuple[int, int], tuple[int, int]]

NEVER = -(1 << 40)  # a frame index long before anything happened

HOME_COLS, HOME_ROWS = 6, 2
CAT_COLS, CAT_ROWS = 6, 3
MAX_VOLUME = 20
SEEK_S = 10.0           # one seek step
OSD_S = 3.0             # the progress bar stays this long after a key ...
OSD_FADE_S = 0.3        # ... the last part of it fading out
VOLUME_OSD_S = 2.0
FOCUS_ANIM_S = 0.2      # the focus highlight slides between tiles this long
CLOCK_START_MIN = 20 * 60 + 15  # the launcher clock reads 20:15 at t = 0

_FONT = cv2.FONT_HERSHEY_DUPLEX
_FONT_LIGHT = cv2.FONT_HERSHEY_SIMPLEX
_AA = cv2.LINE_AA
_WHITE: BGR = (255, 255, 255)
_GREY: BGR = (170, 170, 170)
_DIM: BGR = (120, 120, 125)


# --------------------------------------------------------------------------- the app model
@dataclass(frozen=True)
class Item:
    title: str
    year: int
    genre: str
    duration_s: float
    blurb: str

    @property
    def meta(self) -> str:
        minutes = round(self.duration_s / 60)
        length = f"{minutes // 60}h {minutes % 60:02d}m" if minutes >= 60 else f"{minutes} min"
        return f"{self.year}   |   {length}   |   {self.genre}   |   HD"


@dataclass(frozen=True)
class App:
    name: str
    colour: BGR
    rows: tuple[str, str, str]
    items: tuple[Item, ...]
    playable: bool = True


_APPS: tuple[tuple[str, BGR, tuple[str, ...]], ...] = (
    ("StreamFlix", (40, 30, 205), ("Drama", "Thriller", "Comedy", "Crime")),
    ("Tube", (45, 45, 225), ("Vlog", "Music video", "How-to", "Gaming")),
    ("Sports+", (60, 165, 45), ("Football", "Tennis", "Cycling", "Motorsport")),
    ("Music", (175, 60, 150), ("Concert", "Live session", "Festival", "Jazz")),
    ("Kids", (30, 150, 245), ("Animation", "Family", "Adventure", "Learning")),
    ("News", (175, 105, 30), ("World", "Business", "Science", "Weather")),
    ("Movies", (40, 175, 215), ("Action", "Sci-fi", "Romance", "Western")),
    ("Docs", (150, 145, 35), ("History", "Science", "Travel", "Biography")),
    ("Nature", (70, 135, 55), ("Wildlife", "Oceans", "Planet", "Mountains")),
    ("Anime", (160, 95, 235), ("Shonen", "Fantasy", "Mecha", "Slice of life")),
    ("Live TV", (125, 70, 40), ("Live", "Talk show", "Quiz", "Reality")),
)
_ADJECTIVES = ("Midnight", "Silent", "Golden", "Broken", "Hidden", "Northern", "Last", "Crimson",
               "Electric", "Distant", "Wild", "Frozen", "Burning", "Lost", "Secret", "Iron",
               "Velvet", "Endless", "Hollow", "Bright")
_NOUNS = ("Harbor", "Signal", "Empire", "Horizon", "Garden", "Circuit", "River", "Kingdom",
          "Echo", "Frontier", "Island", "Compass", "Orbit", "Canyon", "Lantern", "Summit",
          "Tide", "Station", "Archive", "Meadow")
_BLURBS = ("A story of courage, friendship and one impossible choice.",
           "Nothing is what it seems when the lights go out.",
           "Big dreams, small town, and a summer that changes everything.",
           "The truth was hidden in plain sight all along.",
           "Breathtaking footage from the places few have seen.",
           "One team, one season, everything on the line.")
_SETTINGS = ("Picture", "Sound", "Network", "Accessibility", "Apps", "System", "Display",
             "Audio output", "Wi-Fi", "Captions", "Storage", "About", "HDMI-CEC", "Remote",
             "Language", "Time zone", "Parental control", "Software update")
_DURATIONS_MIN = (22, 25, 42, 45, 58, 95, 102, 118, 131)


def build_apps() -> tuple[App, ...]:
    """The launcher's apps and their catalogues (fixed: the same on every simulated device)."""
    apps = []
    for index, (name, colour, genres) in enumerate(_APPS):
        rng = random.Random(index)
        titles: list[str] = []
        while len(titles) < CAT_COLS * CAT_ROWS:
            title = f"The {rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
            if title not in titles:
                titles.append(title)
        items = tuple(Item(title, rng.randint(1998, 2024), rng.choice(genres),
                           60.0 * rng.choice(_DURATIONS_MIN), rng.choice(_BLURBS))
                      for title in titles)
        apps.append(App(name, colour, ("Continue watching", "Trending now", "New releases"),
                        items))
    apps.append(App("Settings", (110, 110, 110), ("Device", "Connections", "Preferences"),
                    tuple(Item(name, 0, "Settings", 0.0, "Adjust how this device works.")
                          for name in _SETTINGS), playable=False))
    return tuple(apps)


# --------------------------------------------------------------------------- state machine
@dataclass(frozen=True)
class UiState:
    """What the device is doing; frame fields are output frame indices."""

    screen: Screen = "home"
    home_focus: int = 0
    app: int = 0
    cat_focus: int = 0
    focus_from: int = 0          # the highlight slides from this tile (on the current screen) ...
    moved_at: int = NEVER        # ... starting at this frame
    query: str = ""              # text typed into the catalogue's search box
    item: int = 0                # what the player plays (an index into the app's items)
    playing: bool = False
    anchor_frame: int = 0        # at this output frame ...
    anchor_pos: int = 0          # ... the programme was at this position (in frames)
    duration: int = 1            # programme length in frames
    osd_until: int = NEVER       # the progress bar shows until this frame
    volume: int = MAX_VOLUME
    muted: bool = False
    volume_until: int = NEVER    # the volume bar shows until this frame

    def position(self, frame: int) -> int:
        """Programme position in frames at output ``frame`` (the programme loops at its end)."""
        if not self.playing:
            return self.anchor_pos
        return (self.anchor_pos + frame - self.anchor_frame) % self.duration


def _grid_move(index: int, key: str, cols: int, rows: int) -> int:
    row, col = divmod(index, cols)
    if key == "LEFT":
        col = max(0, col - 1)
    elif key == "RIGHT":
        col = min(cols - 1, col + 1)
    elif key == "UP":
        row = max(0, row - 1)
    elif key == "DOWN":
        row = min(rows - 1, row + 1)
    return row * cols + col


_ARROWS = ("LEFT", "RIGHT", "UP", "DOWN")
_FORWARD = ("FAST_FORWARD", "SKIP_FORWARD", "RIGHT")
_BACKWARD = ("REWIND", "SKIP_BACK", "LEFT")


def apply_key(state: UiState, key: str, frame: int, apps: tuple[App, ...], fps: float) -> UiState:
    """The state after ``key`` takes effect at ``frame``; unknown keys change nothing."""
    if key == "POWER":
        if state.screen == "off":
            return UiState(home_focus=state.home_focus, focus_from=state.home_focus,
                           volume=state.volume, muted=state.muted)
        return replace(state, screen="off", playing=False)
    if state.screen == "off":
        return state
    if key in ("VOLUME_UP", "VOLUME_DOWN", "MUTE"):
        shown = frame + round(VOLUME_OSD_S * fps)
        if key == "MUTE":
            return replace(state, muted=not state.muted, volume_until=shown)
        step = 1 if key == "VOLUME_UP" else -1
        return replace(state, volume=min(MAX_VOLUME, max(0, state.volume + step)), muted=False,
                       volume_until=shown)
    if key == "HOME":
        return _to_home(state)
    if state.screen == "home":
        return _home_key(state, key, frame)
    if state.screen == "catalogue":
        return _catalogue_key(state, key, frame, apps, fps)
    return _player_key(state, key, frame, fps)


def apply_text(state: UiState, text: str, frame: int, apps: tuple[App, ...]) -> UiState:
    """Typed text goes to the catalogue's search box; focus jumps to the first matching title."""
    if state.screen != "catalogue":
        return state
    query = (state.query + text)[-28:]
    needle = query.strip().lower()
    titles = [item.title.lower() for item in apps[state.app].items]
    match = next((i for i, title in enumerate(titles) if needle and needle in title), None)
    if match is None or match == state.cat_focus:
        return replace(state, query=query)
    return replace(state, query=query, cat_focus=match, focus_from=state.cat_focus, moved_at=frame)


def _to_home(state: UiState) -> UiState:
    return replace(state, screen="home", playing=False, query="", focus_from=state.home_focus,
                   moved_at=NEVER)


def _home_key(state: UiState, key: str, frame: int) -> UiState:
    if key in _ARROWS:
        target = _grid_move(state.home_focus, key, HOME_COLS, HOME_ROWS)
        if target == state.home_focus:
            return state
        return replace(state, home_focus=target, focus_from=state.home_focus, moved_at=frame)
    if key == "OK":
        return replace(state, screen="catalogue", app=state.home_focus, cat_focus=0, focus_from=0,
                       moved_at=NEVER, query="")
    return state


def _catalogue_key(state: UiState, key: str, frame: int, apps: tuple[App, ...],
                   fps: float) -> UiState:
    if key in _ARROWS:
        target = _grid_move(state.cat_focus, key, CAT_COLS, CAT_ROWS)
        if target == state.cat_focus:
            return state
        return replace(state, cat_focus=target, focus_from=state.cat_focus, moved_at=frame)
    if key in ("OK", "PLAY", "PLAY_PAUSE") and apps[state.app].playable:
        item = apps[state.app].items[state.cat_focus]
        return replace(state, screen="player", item=state.cat_focus, playing=True,
                       anchor_frame=frame, anchor_pos=0,
                       duration=max(1, round(item.duration_s * fps)), osd_until=NEVER)
    if key == "BACK":
        return _to_home(state)
    return state


def _player_key(state: UiState, key: str, frame: int, fps: float) -> UiState:
    osd = frame + round(OSD_S * fps)
    position = state.position(frame)
    if key in ("BACK", "STOP"):
        return replace(state, screen="catalogue", playing=False, focus_from=state.cat_focus,
                       moved_at=NEVER)
    pause = (key == "PAUSE" or key == "PLAY_PAUSE") and state.playing
    resume = (key == "PLAY" or key == "PLAY_PAUSE") and not state.playing
    if pause or resume:
        return replace(state, playing=resume, anchor_frame=frame, anchor_pos=position,
                       osd_until=osd)
    if key in _FORWARD or key in _BACKWARD:
        step = round(SEEK_S * fps) * (1 if key in _FORWARD else -1)
        target = min(state.duration - 1, max(0, position + step))
        return replace(state, anchor_frame=frame, anchor_pos=target, osd_until=osd)
    if key in ("OK", "INFO"):
        return replace(state, osd_until=osd)
    return state


# --------------------------------------------------------------------------- drawing helpers
def rounded_rect(img: np.ndarray, p0: tuple[int, int], p1: tuple[int, int], radius: int,
                 colour: BGR, thickness: int = -1) -> None:
    """A rectangle with rounded corners, filled (``thickness`` < 0) or outlined, in place."""
    (x0, y0), (x1, y1) = p0, p1
    r = max(1, min(radius, (x1 - x0) // 2, (y1 - y0) // 2))
    if thickness < 0:
        cv2.rectangle(img, (x0 + r, y0), (x1 - r, y1), colour, -1)
        cv2.rectangle(img, (x0, y0 + r), (x1, y1 - r), colour, -1)
        for cx, cy in ((x0 + r, y0 + r), (x1 - r, y0 + r), (x0 + r, y1 - r), (x1 - r, y1 - r)):
            cv2.circle(img, (cx, cy), r, colour, -1, _AA)
        return
    for a, b in (((x0 + r, y0), (x1 - r, y0)), ((x0 + r, y1), (x1 - r, y1)),
                 ((x0, y0 + r), (x0, y1 - r)), ((x1, y0 + r), (x1, y1 - r))):
        cv2.line(img, a, b, colour, thickness, _AA)
    for (cx, cy), start in (((x0 + r, y0 + r), 180), ((x1 - r, y0 + r), 270),
                            ((x1 - r, y1 - r), 0), ((x0 + r, y1 - r), 90)):
        cv2.ellipse(img, (cx, cy), (r, r), start, 0, 90, colour, thickness, _AA)


def _gradient(h: int, w: int, top: BGR, bottom: BGR, tint: BGR | None = None,
              tint_at: tuple[float, float] = (0.2, 0.0)) -> np.ndarray:
    """A vertical gradient, optionally with a soft coloured glow centred at ``tint_at``."""
    ramp = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    img = (1 - ramp) * np.array(top, np.float32) + ramp * np.array(bottom, np.float32)
    img = np.broadcast_to(img, (h, w, 3)).copy()
    if tint is not None:
        ys, xs = np.ogrid[0:h, 0:w]
        d = np.hypot((xs / w - tint_at[0]) * 1.6, ys / h - tint_at[1])
        glow = np.clip(1.0 - d / 0.9, 0.0, 1.0)[..., None] ** 2 * 0.45
        img = img * (1 - glow) + glow * np.array(tint, np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def _lighter(colour: BGR, amount: float = 0.35) -> BGR:
    return tuple(int(c + (255 - c) * amount) for c in colour)  # type: ignore[return-value]


def _ease(p: float) -> float:
    return p * p * (3.0 - 2.0 * p)


def _clock_text(minute: int) -> str:
    minute %= 24 * 60
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _hms(frames: int, fps: float) -> str:
    s = int(frames / fps)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


# --------------------------------------------------------------------------- the renderer
class UiRenderer:
    """Draws the launcher, the catalogues and the player's overlays at the output size.

    Layout is designed on a 1280x720 canvas and scaled.  Returned pictures are fresh arrays the
    caller owns; overlays draw in place.
    """

    def __init__(self, width: int, height: int, fps: float, apps: tuple[App, ...]) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.apps = apps
        self._sx, self._sy = width / 1280.0, height / 720.0
        self._s = min(self._sx, self._sy)
        self._anim_frames = max(1, round(FOCUS_ANIM_S * fps))
        self._fade_frames = max(1, round(OSD_FADE_S * fps))
        self._home_base: np.ndarray | None = None
        self._home_clock: tuple[int, np.ndarray] | None = None
        self._catalogues: dict[int, np.ndarray] = {}
        self._posters: dict[int, list[np.ndarray]] = {}
        self._osd_shade: np.ndarray | None = None
        self._black = np.zeros((height, width, 3), np.uint8)
        self._black.flags.writeable = False

    # -- geometry (design coordinates are 1280x720)
    def _pt(self, x: float, y: float) -> tuple[int, int]:
        return int(round(x * self._sx)), int(round(y * self._sy))

    def _text(self, img: np.ndarray, text: str, x: float, y: float, scale: float,
              colour: BGR = _WHITE, thickness: int = 1, font: int = _FONT,
              right: bool = False) -> None:
        size = scale * self._s
        weight = max(1, round(thickness * self._s))
        org = self._pt(x, y)
        if right:
            (w, _), _ = cv2.getTextSize(text, font, size, weight)
            org = (org[0] - w, org[1])
        cv2.putText(img, text, org, font, size, colour, weight, _AA)

    def _tile_rect(self, index: int, top: float, pitch: float, h: float) -> Rect:
        row, col = divmod(index, HOME_COLS)
        x, y = 48 + col * 200, top + row * pitch
        return self._pt(x, y), self._pt(x + 184, y + h)

    def _home_tile(self, index: int) -> Rect:
        return self._tile_rect(index, 392, 142, 118)

    def _card(self, index: int) -> Rect:
        return self._tile_rect(index, 252, 160, 96)

    # -- what a frame shows
    def frame_key(self, state: UiState, frame: int) -> Hashable | None:
        """A value equal for two frames exactly when they look the same; None while content
        plays."""
        if state.screen == "off":
            return ("off",)
        if state.screen == "player":
            if state.playing:
                return None
            return ("paused", state.app, state.item, state.anchor_pos, state.volume, state.muted,
                    frame < state.volume_until)
        since = frame - state.moved_at
        anim = since if since < self._anim_frames else -1
        minute = self._minute(frame) if state.screen == "home" else None
        return (state.screen, state.app, state.home_focus, state.cat_focus, state.focus_from, anim,
                state.query, minute)

    def _minute(self, frame: int) -> int:
        return CLOCK_START_MIN + int(frame / self.fps // 60)

    def off(self) -> np.ndarray:
        """Standby: black (a shared read-only picture)."""
        return self._black

    def home(self, state: UiState, frame: int) -> np.ndarray:
        minute = self._minute(frame)
        if self._home_clock is None or self._home_clock[0] != minute:
            base = self._home_background().copy()
            self._text(base, _clock_text(minute), 1232, 46, 0.9, _WHITE, 1, right=True)
            self._home_clock = (minute, base)
        img = self._home_clock[1].copy()
        self._focus(img, self._home_tile, state.focus_from, state.home_focus, state.moved_at, frame)
        return img

    def catalogue(self, state: UiState, frame: int) -> np.ndarray:
        app = self.apps[state.app]
        img = self._catalogue_background(state.app).copy()
        item = app.items[state.cat_focus]
        self._text(img, item.title, 48, 130, 1.05, _WHITE, 2)
        meta = item.meta if app.playable else "Settings"
        self._text(img, meta, 48, 160, 0.52, _GREY, 1, _FONT_LIGHT)
        self._text(img, item.blurb, 48, 188, 0.55, (200, 200, 200), 1, _FONT_LIGHT)
        (x0, y0), (x1, y1) = self._pt(1000, 84), self._pt(1232, 206)
        img[y0:y1, x0:x1] = cv2.resize(self._poster_art(state.app)[state.cat_focus],
                                       (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
        if state.query:
            (bx0, by0), (bx1, by1) = self._pt(930, 24), self._pt(1232, 68)
            rounded_rect(img, (bx0, by0), (bx1, by1), int(10 * self._s), (58, 56, 64))
            self._magnifier(img, 952, 46)
            self._text(img, state.query + "_", 978, 55, 0.62, _WHITE, 1, _FONT_LIGHT)
        self._focus(img, self._card, state.focus_from, state.cat_focus, state.moved_at, frame)
        return img

    def player_overlay(self, img: np.ndarray, state: UiState, frame: int) -> None:
        """Progress bar (after a key, fading out; always while paused), pause icon, volume bar
        (after a volume key) and mute badge.  The launcher and catalogues show no volume UI."""
        if state.playing:
            left = state.osd_until - frame
            if left > 0:
                alpha = min(1.0, left / self._fade_frames)
                self._osd(img, state, frame, alpha)
        else:
            self._osd(img, state, frame, 1.0)
            self._pause_icon(img)
        if state.muted:
            (x0, y0), (x1, y1) = self._pt(1104, 22), self._pt(1232, 62)
            rounded_rect(img, (x0, y0), (x1, y1), int(8 * self._s), (40, 40, 170))
            self._text(img, "MUTED", 1126, 50, 0.6, _WHITE, 1)
        if frame < state.volume_until:
            (x0, y0), (x1, y1) = self._pt(1176, 190), self._pt(1224, 500)
            rounded_rect(img, (x0, y0), (x1, y1), int(12 * self._s), (30, 30, 34))
            (bx0, by0), (bx1, by1) = self._pt(1193, 212), self._pt(1207, 452)
            cv2.rectangle(img, (bx0, by0), (bx1, by1), (80, 80, 80), -1)
            level = 0 if state.muted else state.volume
            fill = by1 - int((by1 - by0) * level / MAX_VOLUME)
            cv2.rectangle(img, (bx0, fill), (bx1, by1), _WHITE, -1)
            self._text_at(img, 0, str(level), 1200, 484, 0.6, _WHITE, 1, centre=True)

    # -- pieces
    def _focus(self, img: np.ndarray, rect: Callable[[int], Rect], start: int, target: int,
               moved_at: int, frame: int) -> None:
        """The focus highlight, sliding from tile ``start`` to ``target`` after ``moved_at``."""
        p = _ease(min(1.0, max(0.0, (frame - moved_at + 1) / self._anim_frames)))
        (a0, a1), (b0, b1) = rect(start), rect(target)
        pad = int(6 * self._s)
        x0 = round(a0[0] + (b0[0] - a0[0]) * p) - pad
        y0 = round(a0[1] + (b0[1] - a0[1]) * p) - pad
        x1 = round(a1[0] + (b1[0] - a1[0]) * p) + pad
        y1 = round(a1[1] + (b1[1] - a1[1]) * p) + pad
        rounded_rect(img, (x0, y0), (x1, y1), int(14 * self._s), _WHITE,
                     max(2, round(4 * self._s)))

    def _magnifier(self, img: np.ndarray, x: float, y: float) -> None:
        c = self._pt(x, y - 3)
        r = max(3, int(8 * self._s))
        cv2.circle(img, c, r, _GREY, max(1, round(2 * self._s)), _AA)
        cv2.line(img, (c[0] + int(r * 0.7), c[1] + int(r * 0.7)),
                 (c[0] + int(r * 1.5), c[1] + int(r * 1.5)), _GREY, max(1, round(2 * self._s)), _AA)

    def _home_background(self) -> np.ndarray:
        if self._home_base is not None:
            return self._home_base
        img = _gradient(self.height, self.width, (46, 26, 22), (12, 8, 8), (120, 60, 30),
                        (0.85, 0.1))
        # title bar: logo and a status glyph; the clock is drawn per minute
        cv2.circle(img, self._pt(62, 36), int(11 * self._s), (60, 140, 255), -1, _AA)
        self._text(img, "nova", 82, 48, 1.15, _WHITE, 2)
        self._text(img, "tv", 170, 48, 1.15, (60, 140, 255), 2)
        # featured banner
        (x0, y0), (x1, y1) = self._pt(48, 78), self._pt(1232, 330)
        banner = procedural_texture("terrain", y1 - y0, x1 - x0, np.random.default_rng(7))
        shade = np.linspace(0.25, 1.0, x1 - x0, dtype=np.float32)[None, :, None]
        banner = (banner * np.minimum(1.0, shade * 1.3)).astype(np.uint8)
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        rounded_rect(mask, (0, 0), (x1 - x0 - 1, y1 - y0 - 1), int(18 * self._s), (255, 255, 255))
        region = img[y0:y1, x0:x1]
        region[mask > 0] = banner[mask > 0]
        self._text(img, "FEATURED", 82, 236, 0.55, (60, 140, 255), 1)
        self._text(img, "The Midnight Signal", 80, 282, 1.35, _WHITE, 2)
        self._text(img, "New episodes every Friday on StreamFlix", 82, 314, 0.6, (225, 225, 225), 1,
                   _FONT_LIGHT)
        self._text(img, "Apps", 48, 376, 0.7, _GREY, 1)
        for index, app in enumerate(self.apps):
            self._draw_tile(img, index, app)
        self._text(img, "OK  open      < > ^ v  move      HOME  back here", 48, 706, 0.45, _DIM,
                   1, _FONT_LIGHT)
        self._home_base = img
        return img

    def _draw_tile(self, img: np.ndarray, index: int, app: App) -> None:
        (x0, y0), (x1, y1) = self._home_tile(index)
        w, h = x1 - x0, y1 - y0
        tile = _gradient(h, w, _lighter(app.colour, 0.25), tuple(int(c * 0.55) for c in app.colour))
        mask = np.zeros((h, w), np.uint8)
        rounded_rect(mask, (0, 0), (w - 1, h - 1), int(12 * self._s), (255, 255, 255))
        # a simple glyph per app, then its name
        centre, r = (w // 2, int(h * 0.40)), int(h * 0.2)
        glyph = index % 4
        if glyph == 0:
            cv2.circle(tile, centre, r, _WHITE, -1, _AA)
        elif glyph == 1:
            pts = np.array([[centre[0] - r, centre[1] - r], [centre[0] + r, centre[1]],
                            [centre[0] - r, centre[1] + r]], np.int32)
            cv2.fillPoly(tile, [pts], _WHITE, _AA)
        elif glyph == 2:
            cv2.rectangle(tile, (centre[0] - r, centre[1] - r), (centre[0] + r, centre[1] + r),
                          _WHITE, max(2, r // 4), _AA)
        else:
            cv2.circle(tile, centre, r, _WHITE, max(2, r // 4), _AA)
            cv2.circle(tile, centre, r // 3, _WHITE, -1, _AA)
        size = 0.62 * self._s
        (tw, _), _ = cv2.getTextSize(app.name, _FONT, size, 1)
        cv2.putText(tile, app.name, ((w - tw) // 2, int(h * 0.86)), _FONT, size, _WHITE,
                    max(1, round(self._s)), _AA)
        region = img[y0:y1, x0:x1]
        region[mask > 0] = tile[mask > 0]

    def _poster_art(self, app_index: int) -> list[np.ndarray]:
        posters = self._posters.get(app_index)
        if posters is None:
            (x0, y0), (x1, y1) = self._card(0)
            app = self.apps[app_index]
            posters = [self._poster(y1 - y0, x1 - x0, app_index, k) for k in range(len(app.items))]
            self._posters[app_index] = posters
        return posters

    def _poster(self, h: int, w: int, app_index: int, k: int) -> np.ndarray:
        app = self.apps[app_index]
        rng = np.random.default_rng([app_index, k])
        hue = int(rng.integers(0, 180))
        second = cv2.cvtColor(np.uint8([[[hue, 200, 200]]]), cv2.COLOR_HSV2BGR)[0, 0]
        art = _gradient(h, w, _lighter(app.colour, 0.1), tuple(int(c) for c in second))
        texture = procedural_texture(("clouds", "plasma", "terrain", "city")[k % 4], h, w, rng)
        art = cv2.addWeighted(art, 0.45, texture, 0.55, 0)
        r = int(h * rng.uniform(0.25, 0.45))
        centre = (int(w * rng.uniform(0.25, 0.75)), int(h * rng.uniform(0.3, 0.7)))
        cv2.circle(art, (centre[0] + 3, centre[1] + 3), r, (20, 20, 20), -1, _AA)
        cv2.circle(art, centre, r, tuple(int(c) for c in rng.integers(60, 256, 3)), -1, _AA)
        initials = "".join(word[0] for word in app.items[k].title.split()[1:])
        size = 1.1 * self._s
        cv2.putText(art, initials, (int(w * 0.06), int(h * 0.9)), _FONT, size, (20, 20, 20),
                    max(2, round(3 * self._s)) + 2, _AA)
        cv2.putText(art, initials, (int(w * 0.06), int(h * 0.9)), _FONT, size, _WHITE,
                    max(2, round(3 * self._s)), _AA)
        return art

    def _catalogue_background(self, app_index: int) -> np.ndarray:
        img = self._catalogues.get(app_index)
        if img is not None:
            return img
        app = self.apps[app_index]
        img = _gradient(self.height, self.width, (26, 20, 20), (10, 8, 8), app.colour, (0.05, 0.0))
        self._text(img, app.name, 48, 62, 1.25, _lighter(app.colour, 0.45), 2)
        (bx0, by0), (bx1, by1) = self._pt(930, 24), self._pt(1232, 68)
        rounded_rect(img, (bx0, by0), (bx1, by1), int(10 * self._s), (48, 46, 52))
        self._magnifier(img, 952, 46)
        self._text(img, "Search", 978, 55, 0.62, _DIM, 1, _FONT_LIGHT)
        for row, label in enumerate(app.rows):
            self._text(img, label, 48, 234 + row * 160, 0.62, (225, 225, 225), 1)
        for k, (item, art) in enumerate(zip(app.items, self._poster_art(app_index))):
            (x0, y0), (x1, y1) = self._card(k)
            mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
            rounded_rect(mask, (0, 0), (x1 - x0 - 1, y1 - y0 - 1), int(10 * self._s),
                         (255, 255, 255))
            region = img[y0:y1, x0:x1]
            region[mask > 0] = art[mask > 0]
            title = item.title if len(item.title) <= 22 else item.title[:21] + "."
            self._text(img, title, 48 + (k % CAT_COLS) * 200, 372 + (k // CAT_COLS) * 160, 0.45,
                       _GREY, 1, _FONT_LIGHT)
        self._catalogues[app_index] = img
        return img

    def _osd(self, img: np.ndarray, state: UiState, frame: int, alpha: float) -> None:
        top = self._pt(0, 540)[1]
        target = img[top:]
        if self._osd_shade is None:
            ramp = np.linspace(1.0, 0.22, target.shape[0], dtype=np.float32)
            self._osd_shade = np.ascontiguousarray(np.broadcast_to(
                (ramp * 255).astype(np.uint8)[:, None, None], target.shape))
        layer = cv2.multiply(target, self._osd_shade, scale=1 / 255.0)
        app = self.apps[state.app]
        item = app.items[state.item]
        self._text_at(layer, top, app.name.upper(), 64, 596, 0.55, _lighter(app.colour, 0.5), 1)
        self._text_at(layer, top, item.title, 64, 632, 0.95, _WHITE, 2)
        position = state.position(frame)
        (x0, y0), (x1, y1) = self._pt(64, 656), self._pt(1216, 662)
        y0, y1 = y0 - top, y1 - top
        cv2.rectangle(layer, (x0, y0), (x1, y1), (95, 95, 95), -1)
        xp = x0 + int((x1 - x0) * position / max(1, state.duration))
        cv2.rectangle(layer, (x0, y0), (xp, y1), _lighter(app.colour, 0.3), -1)
        cv2.circle(layer, (xp, (y0 + y1) // 2), max(4, int(9 * self._s)), _WHITE, -1, _AA)
        self._text_at(layer, top, _hms(position, self.fps), 64, 694, 0.55, _WHITE, 1)
        self._text_at(layer, top, _hms(state.duration, self.fps), 1216, 694, 0.55, _GREY, 1,
                      right=True)
        self._text_at(layer, top, "PLAYING" if state.playing else "PAUSED", 640, 694, 0.5,
                      _GREY, 1, centre=True)
        if alpha >= 1.0:
            target[:] = layer
        else:
            cv2.addWeighted(layer, alpha, target, 1.0 - alpha, 0, dst=target)

    def _text_at(self, layer: np.ndarray, top: int, text: str, x: float, y: float, scale: float,
                 colour: BGR, thickness: int, right: bool = False, centre: bool = False) -> None:
        """Text on a horizontal band of the picture that starts at row ``top``."""
        size = scale * self._s
        weight = max(1, round(thickness * self._s))
        px, py = self._pt(x, y)
        if right or centre:
            (w, _), _ = cv2.getTextSize(text, _FONT, size, weight)
            px -= w if right else w // 2
        cv2.putText(layer, text, (px, py - top), _FONT, size, colour, weight, _AA)

    def _pause_icon(self, img: np.ndarray) -> None:
        cx, cy = self._pt(640, 330)
        r = int(58 * self._s)
        cv2.circle(img, (cx, cy), r, (30, 30, 30), -1, _AA)
        cv2.circle(img, (cx, cy), r, _WHITE, max(2, round(3 * self._s)), _AA)
        bw, bh, gap = int(12 * self._s), int(44 * self._s), int(10 * self._s)
        cv2.rectangle(img, (cx - gap - bw, cy - bh // 2), (cx - gap, cy + bh // 2), _WHITE, -1)
        cv2.rectangle(img, (cx + gap, cy - bh // 2), (cx + gap + bw, cy + bh // 2), _WHITE, -1)
