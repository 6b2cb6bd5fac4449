"""Merging events of one kind from several detectors (e.g. a DSP detector and a classifier).

:func:`merge_events` joins events of the *same kind* whose spans overlap (or lie within
``gap_s`` of each other) into one event per episode: the union of their spans, the highest
score, the detector names joined with ``+`` in order of first appearance (``hum+audio_artifacts``)
and the details merged (a key two detectors both report with different values is kept under
each detector's name: ``{"hum": {...}, "audio_artifacts": {...}}``).  Events of different kinds
are never merged into one; but an event that another kind's episode explains is folded into it
(:func:`explains`): clipping and bit-crushing square the waveform off (clicks), round quiet
passages to zero (silence) and add quantisation noise (hiss), so a clicks, silence or hiss event
lying within a distortion episode is listed in that episode's ``details["explains"]`` rather
than reported as a second defect (session 7: 6 of the 11 false positives of a fresh corpus
draw).  A crushed quiet passage stays digital zero until the crushing ends, and zeros show no
distortion, so the episode's reported end can come up to one classifier segment early: silence
that starts within a distortion episode and ends at most :data:`_ZEROS_PAST_S` after it is
folded too.  An inverted channel cancels the content common to both channels in their mean, the
signal the lossy-codec check reads (and a mono downmix plays), leaving a band-limited remainder:
a lossy-mode distortion event within a channel-inversion episode is folded into it (session 8:
the two false positives of seed 3's large corpus were these).  The result is sorted by start
time, then kind.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from detectors.base import Event


def _merge_details(events: list[Event]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    clashes: set[str] = set()
    for event in events:
        for key, value in event.details.items():
            if key in merged and merged[key] != value:
                clashes.add(key)
            merged.setdefault(key, value)
    if not clashes:
        return merged
    out = {k: v for k, v in merged.items() if k not in clashes}
    for event in events:
        own = {k: v for k, v in event.details.items() if k in clashes}
        if own:
            slot = out.setdefault(event.detector or "detector", {})
            if isinstance(slot, dict):
                slot.update(own)
    return out


def _join(group: list[Event]) -> Event:
    if len(group) == 1:
        return group[0]
    names: list[str] = []
    for event in group:
        for name in (event.detector or "").split("+"):
            if name and name not in names:
                names.append(name)
    best = max(group, key=lambda e: e.score)
    regions = {e.region for e in group if e.region is not None}
    return Event(kind=group[0].kind, start_s=min(e.start_s for e in group),
                 end_s=max(e.end_s for e in group), score=max(e.score for e in group),
                 detector="+".join(names), region=best.region if len(regions) <= 1 else None,
                 details=_merge_details(group), frame=best.frame)


# kind -> the kinds its episodes can explain (:func:`explains` says when)
EXPLAINED_BY: dict[str, tuple[str, ...]] = {"distortion": ("clicks", "silence", "hiss"),
                                            "channel": ("distortion",)}
_WITHIN_S = 0.1      # an explained event may stick out this far either side
_ZEROS_PAST_S = 1.0  # crushed-to-zero silence may run on this far past a distortion episode


def explains(host: Event, event: Event) -> bool:
    """Whether ``host``'s episode explains ``event`` (see the module's docstring)."""
    if event.kind not in EXPLAINED_BY.get(host.kind, ()):
        return False
    starts_within = event.start_s >= host.start_s - _WITHIN_S and event.start_s <= host.end_s
    if host.kind == "channel":
        if host.details.get("fault") != "invert" or event.details.get("mode") != "lossy":
            return False
    elif event.kind == "silence":
        return starts_within and event.end_s <= host.end_s + _ZEROS_PAST_S
    return starts_within and event.end_s <= host.end_s + _WITHIN_S


def fold_explained(events: list[Event]) -> list[Event]:
    """``events`` with those another kind's episode explains (:func:`explains`) folded into
    it: listed under its ``details["explains"]`` (kind, span, score, detector)."""
    out = list(events)
    for kind in EXPLAINED_BY:
        hosts = [e for e in out if e.kind == kind]
        inner: dict[int, list[Event]] = {id(h): [] for h in hosts}
        rest: list[Event] = []
        for event in out:
            host = next((h for h in hosts if explains(h, event)), None)
            (rest if host is None else inner[id(host)]).append(event)
        out = [replace(e, details={**e.details, "explains": e.details.get("explains", []) + [
                   {"kind": x.kind, "start_s": round(x.start_s, 3), "end_s": round(x.end_s, 3),
                    "score": round(x.score, 4), "detector": x.detector} for x in inner[id(e)]]})
               if inner.get(id(e)) else e for e in rest]
    return out


def merge_events(events: list[Event], gap_s: float = 0.0) -> list[Event]:
    """One event per episode per kind: overlapping (or ``gap_s``-close) events of a kind merged,
    then the events another kind's episode explains folded into it (:func:`fold_explained`)."""
    by_kind: dict[str, list[Event]] = {}
    for event in events:
        by_kind.setdefault(event.kind, []).append(event)
    out: list[Event] = []
    for kind_events in by_kind.values():
        kind_events.sort(key=lambda e: (e.start_s, e.end_s))
        group: list[Event] = []
        reach = float("-inf")
        for event in kind_events:
            if group and event.start_s <= reach + gap_s:
                group.append(event)
                reach = max(reach, event.end_s)
            else:
                if group:
                    out.append(_join(group))
                group, reach = [event], event.end_s
        if group:
            out.append(_join(group))
    return sorted(fold_explained(out), key=lambda e: (e.start_s, e.kind))
