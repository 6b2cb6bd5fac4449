"""Scoring detectors on a corpus (``harness eval``), by the rule of ``DEFECTS.md``.

A predicted event of a kind that overlaps a ground-truth episode of that kind, with
:data:`TOLERANCE_S` on each side, is a true positive; other predictions are false positives; a
ground-truth episode that no prediction touches is a miss.  Per kind: precision (true-positive
predictions over predictions), recall (episodes touched over episodes), F1, and false positives
per hour of clean content (the seconds of the corpus free of that kind's ground truth, from the
manifest, so clean files and the clean stretches of damaged ones both count).  A figure with
nothing to divide by is ``None`` (printed ``n/a``), never a flattering 1.0.

Predictions come from :func:`harness.analyze.analyze_file`, the code behind ``harness
analyze``, one process per file.  :func:`sweep` reruns the detectors with their main threshold
(:data:`SWEEPS`) set to each of a range of values, for precision-recall curves (:func:`plot`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from detectors import base as registry
from detectors.base import Event
from harness.analyze import analyze_file
from harness.errors import BadInput, StreamMissing

TOLERANCE_S = 0.2

# Each detector's main threshold and the values a sweep tries (the default among them).
SWEEPS: dict[str, tuple[str, tuple[float, ...]]] = {
    "black": ("pixel_threshold", (8, 16, 24, 32, 48, 64, 96)),
    "freeze": ("change_threshold", (2, 3, 4, 6, 8, 12, 16)),
    "silence": ("threshold_db", (-90, -80, -70, -60, -50, -40, -30)),
}


# --------------------------------------------------------------------------- matching
def match(truth: Sequence[Event], predicted: Sequence[Event],
          tolerance_s: float = TOLERANCE_S) -> tuple[list[Event], list[Event], list[Event]]:
    """One kind in one file: ``(true-positive predictions, false-positive predictions, missed
    truth episodes)``."""
    hits = [p for p in predicted if any(p.overlaps(t.start_s, t.end_s, tolerance_s) for t in truth)]
    false = [p for p in predicted if p not in hits]
    missed = [t for t in truth if not any(p.overlaps(t.start_s, t.end_s, tolerance_s)
                                          for p in predicted)]
    return hits, false, missed


@dataclass
class KindScore:
    """The counts and figures of one kind over a corpus."""

    kind: str
    detectors: list[str]          # evaluated detectors reporting this kind
    status: str                   # "scored", "no detector yet" or "not run"
    episodes: int = 0             # ground-truth episodes
    predicted: int = 0
    true_positives: int = 0       # predictions matching an episode
    false_positives: int = 0
    found: int = 0                # episodes touched by a prediction
    clean_s: float = 0.0          # seconds of content free of this kind's ground truth

    @property
    def precision(self) -> float | None:
        return self.true_positives / self.predicted if self.predicted else None

    @property
    def recall(self) -> float | None:
        return self.found / self.episodes if self.episodes else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None:
            return 0.0 if (p == 0.0 or r == 0.0) else None
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def fp_per_hour(self) -> float | None:
        return self.false_positives / (self.clean_s / 3600.0) if self.clean_s > 0 else None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "precision": _round(self.precision), "recall": _round(self.recall),
                "f1": _round(self.f1), "fp_per_hour": _round(self.fp_per_hour)}


@dataclass
class Report:
    """Scores of a set of detectors on a corpus."""

    corpus: dict[str, Any]        # seed, size, files, hours, command
    detectors: list[str]
    kinds: list[KindScore]
    mistakes: list[dict[str, Any]] = field(default_factory=list)  # per file: fp and missed

    def to_json(self) -> dict[str, Any]:
        return {"corpus": self.corpus, "tolerance_s": TOLERANCE_S, "detectors": self.detectors,
                "kinds": [k.to_json() for k in self.kinds], "mistakes": self.mistakes}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


# --------------------------------------------------------------------------- running
def load_manifest(corpus: str | Path) -> dict[str, Any]:
    path = Path(corpus) / "manifest.json"
    if not path.is_file():
        raise BadInput(f"{corpus}: not a corpus (no manifest.json); build one with "
                       f"'harness corpus build {corpus}'")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"{path}: not a readable corpus manifest ({exc}); rebuild it with "
                       f"'harness corpus build {corpus}'") from None
    if not isinstance(manifest, dict):
        manifest = {}
    for key in ("seed", "size", "command", "kinds", "files", "totals.duration_s",
                  "totals.clean_s", "totals.files"):
        head, _, tail = key.partition(".")
        value = manifest.get(head)
        if tail:
            value = value.get(tail) if isinstance(value, dict) else None
        if value is None:
            raise BadInput(f"{path}: field '{key}' is missing; the manifest is damaged or "
                           f"from another tool (fix: rebuild it with 'harness corpus build "
                           f"{corpus}')")
    for k, entry in enumerate(manifest["files"]):
        for key in ("media", "truth"):
            if not isinstance(entry, dict) or not isinstance(entry.get(key), str):
                raise BadInput(f"{path}: files[{k}].{key} is missing (fix: rebuild the corpus "
                               f"with 'harness corpus build {corpus}')")
            if not (Path(corpus) / entry[key]).is_file():
                raise BadInput(f"{path}: files[{k}].{key} names {entry[key]}, which is not "
                               f"in the corpus (fix: rebuild it with 'harness corpus build "
                               f"{corpus}')")
    return manifest


def _analyze(job: tuple[str, list[str], dict[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    path, names, thresholds = job
    try:
        return analyze_file(path, names, thresholds)["events"]
    except StreamMissing:
        return []   # video detectors on a corpus's audio-only file: nothing of theirs to judge


def predict(corpus: str | Path, manifest: dict[str, Any], names: list[str],
            thresholds: dict[str, dict[str, Any]] | None = None,
            jobs: int | None = None) -> list[list[Event]]:
    """The events of detectors ``names`` on every file of the corpus, in manifest order."""
    jobs_list = [(str(Path(corpus) / f["media"]), names, thresholds or {})
                 for f in manifest["files"]]
    workers = max(1, min(jobs or min(2, os.cpu_count() or 1), len(jobs_list)))
    if workers == 1:
        results = [_analyze(job) for job in jobs_list]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_analyze, jobs_list))
    return [[Event.from_json(e) for e in events] for events in results]


def _truths(corpus: str | Path, manifest: dict[str, Any]) -> list[list[Event]]:
    """The ground truth of every file of the corpus, in manifest order."""
    out = []
    for entry in manifest["files"]:
        path = Path(corpus) / entry["truth"]
        try:
            out.append([Event.from_json(e) for e in json.loads(path.read_text())["events"]])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BadInput(f"{path}: not a readable truth file ({type(exc).__name__}: {exc}); "
                           f"rebuild the corpus with 'harness corpus build {corpus}'") from None
    return out


def score(manifest: dict[str, Any], truths: Sequence[Sequence[Event]],
          predictions: Sequence[Sequence[Event]], names: Iterable[str]) -> Report:
    """Score ``predictions`` (per file, from detectors ``names``) against ``truths``."""
    names = list(names)
    by_kind: dict[str, list[str]] = {}
    for name in names:
        for kind in registry.detector_class(name).kinds():
            by_kind.setdefault(kind, []).append(name)
    registered = {kind for n in registry.available() for kind in registry.detector_class(n).kinds()}
    kinds = list(manifest["kinds"]) + sorted(set(by_kind) - set(manifest["kinds"]))
    rows = {}
    for kind in kinds:
        status = "scored" if kind in by_kind else \
            ("not run" if kind in registered else "no detector yet")
        rows[kind] = KindScore(kind, by_kind.get(kind, []), status,
                               clean_s=float(manifest["totals"]["clean_s"].get(kind, 0.0)))
    mistakes = []
    for entry, truth, predicted in zip(manifest["files"], truths, predictions):
        for kind, row in rows.items():
            expected = [t for t in truth if t.kind == kind]
            row.episodes += len(expected)
            if row.status != "scored":
                continue
            found = [p for p in predicted if p.kind == kind]
            hits, false, missed = match(expected, found)
            row.predicted += len(found)
            row.true_positives += len(hits)
            row.false_positives += len(false)
            row.found += len(expected) - len(missed)
            if false or missed:
                mistakes.append({"media": entry["media"], "kind": kind,
                                 "false_positives": [e.to_json() for e in false],
                                 "missed": [e.to_json() for e in missed]})
    total_s = float(manifest["totals"]["duration_s"])
    corpus = {"seed": manifest["seed"], "size": manifest["size"],
              "files": manifest["totals"]["files"], "hours": round(total_s / 3600.0, 4),
              "command": manifest["command"]}
    return Report(corpus, names, list(rows.values()), mistakes)


def evaluate(corpus: str | Path, detectors: str | list[str] | None = "all",
             jobs: int | None = None) -> Report:
    """Run the detectors over the corpus and score them."""
    manifest = load_manifest(corpus)
    names = registry.resolve_names(detectors)
    return score(manifest, _truths(corpus, manifest), predict(corpus, manifest, names, jobs=jobs),
                 names)


# --------------------------------------------------------------------------- sweeps
@dataclass(frozen=True)
class SweepPoint:
    value: float
    precision: float | None
    recall: float | None
    fp_per_hour: float | None


def sweep(corpus: str | Path, detectors: str | list[str] | None = "all",
          jobs: int | None = None) -> dict[str, list[SweepPoint]]:
    """For each detector with a :data:`SWEEPS` entry, its kind's figures at every value of its
    main threshold (one corpus pass per step, all swept detectors together)."""
    manifest = load_manifest(corpus)
    names = [n for n in registry.resolve_names(detectors) if n in SWEEPS]
    truths = _truths(corpus, manifest)
    curves: dict[str, list[SweepPoint]] = {n: [] for n in names}
    steps = max((len(SWEEPS[n][1]) for n in names), default=0)
    for step in range(steps):
        active = [n for n in names if step < len(SWEEPS[n][1])]
        thresholds = {n: {SWEEPS[n][0]: SWEEPS[n][1][step]} for n in active}
        report = score(manifest, truths, predict(corpus, manifest, active, thresholds, jobs),
                       active)
        for name in active:
            row = next(k for k in report.kinds if name in k.detectors)
            curves[name].append(SweepPoint(SWEEPS[name][1][step], row.precision, row.recall,
                                           row.fp_per_hour))
    return curves


def plot(curves: dict[str, list[SweepPoint]], path: str | Path) -> None:
    """Precision-recall curves, one panel per swept detector, each point labelled with its
    threshold value and the detector's default ringed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = max(1, len(curves))
    fig, axes = plt.subplots(1, count, figsize=(4.2 * count, 4.0), squeeze=False)
    for ax, (name, points) in zip(axes[0], curves.items()):
        field_name = SWEEPS[name][0]
        default = registry.detector_class(name).Config.model_fields[field_name].default
        xs = [p.recall if p.recall is not None else 0.0 for p in points]
        ys = [p.precision if p.precision is not None else 0.0 for p in points]
        ax.plot(xs, ys, "o-", color="tab:blue")
        for p, x, y in zip(points, xs, ys):
            ax.annotate(f"{p.value:g}", (x, y), textcoords="offset points", xytext=(4, 4),
                        fontsize=7)
            if p.value == default:
                ax.plot([x], [y], "o", ms=12, mfc="none", mec="tab:red")
        ax.set_xlim(-0.05, 1.05)
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_title(f"{name}: {field_name}", fontsize=9)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# --------------------------------------------------------------------------- tables
def _fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def table(report: Report) -> str:
    """The per-kind table, as Markdown."""
    lines = ["| kind | detector | episodes | predicted | TP | FP | missed | precision | recall "
             "| F1 | FP/h clean | clean h |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for k in report.kinds:
        clean_h = f"{k.clean_s / 3600.0:.3f}"
        if k.status != "scored":
            lines.append(f"| {k.kind} | {k.status} | {k.episodes} | | | | | | | | | {clean_h} |")
            continue
        lines.append(f"| {k.kind} | {', '.join(k.detectors)} | {k.episodes} | {k.predicted} | "
                     f"{k.true_positives} | {k.false_positives} | {k.episodes - k.found} | "
                     f"{_fmt(k.precision)} | {_fmt(k.recall)} | {_fmt(k.f1)} | "
                     f"{_fmt(k.fp_per_hour, 1)} | {clean_h} |")
    return "\n".join(lines)


def sweep_table(curves: dict[str, list[SweepPoint]]) -> str:
    """The sweeps as Markdown: one row per detector and threshold value."""
    lines = ["| detector | threshold | value | precision | recall | FP/h clean |",
             "|---|---|---:|---:|---:|---:|"]
    for name, points in curves.items():
        for p in points:
            lines.append(f"| {name} | {SWEEPS[name][0]} | {p.value:g} | {_fmt(p.precision)} | "
                         f"{_fmt(p.recall)} | {_fmt(p.fp_per_hour, 1)} |")
    return "\n".join(lines)


def markdown(report: Report, manifest: dict[str, Any], command: str,
             curves: dict[str, list[SweepPoint]] | None = None,
             plot_path: str | None = None) -> str:
    """A whole accuracy page: how it was made, what the corpus holds, the table and the
    sweeps."""
    totals = manifest["totals"]
    sources = sorted({s for f in manifest["files"] for s in f["sources"]})
    negatives = sorted({n for f in manifest["files"] if f["variant"] is None
                        for n in f["negatives"]})
    clean_files = sum(1 for f in manifest["files"] if f["variant"] is None)
    episodes = ", ".join(f"{kind} {n}" for kind, n in totals["episodes"].items() if n)
    parts = [
        "# Detector accuracy",
        "",
        "Produced by one command (the corpus is deterministic, so the numbers are reproducible):",
        "",
        "```sh",
        f"{manifest['command']} && {command}",
        "```",
        "",
        f"Corpus: seed {manifest['seed']}, size `{manifest['size']}`, {totals['files']} files "
        f"({clean_files} clean), {totals['duration_s'] / 60.0:.1f} min of content. "
        f"Ground-truth episodes: {episodes}.",
        "",
        f"Real sources: {', '.join(sources)}.",
        "",
        f"Hard negatives in the clean files: {', '.join(negatives)}.",
        "",
        f"Scoring (DEFECTS.md): a prediction overlapping a ground-truth episode of its kind with "
        f"{TOLERANCE_S:g} s tolerance is a true positive, other predictions are false positives, "
        f"an episode no prediction touches is missed. FP/h is per hour of content free of that "
        f"kind's ground truth (clean files and the clean parts of damaged ones). `n/a`: nothing "
        f"to divide by. Caption kinds are not simulated.",
        "",
        table(report),
    ]
    if curves:
        parts += ["", "## Threshold sweeps", "",
                  "Each detector's main threshold swept over the same corpus "
                  "(the default ringed in the plot).", ""]
        if plot_path:
            parts += [f"![precision-recall per detector]({Path(plot_path).name})", ""]
        parts.append(sweep_table(curves))
    return "\n".join(parts) + "\n"
