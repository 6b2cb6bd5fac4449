"""How much of the audio classifier's hum miss is hum the content masks.

For every hum segment of the held-out test splits (``test`` and ``test_music`` of
:mod:`detectors.training.audio_artifacts`, regenerated from their specs), the injected hum's
power in its strongest harmonic's 1-Hz bin over the clean content's power in the same bins
(+-1 Hz) -- known only because the data is synthetic -- against whether the classifier's argmax
says hum. Prints recall per margin band::

    python -m detectors.training.audio_hum_masking [--weights PATH] [--audible-db 10]

With ``--audible-db``, every segment of both splits is classified and each split's balanced
accuracy and confusion matrix are printed twice: as trained (every hum segment counts) and with
the hum segments whose margin is under that many dB left out -- the figure the test would give
if its hum were defined by audibility over the content rather than by what was injected.

Needs the training content (``scripts/setup.sh --training``); decoded sources are cached
where the training script caches them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from detectors.audio import artifacts as A
from detectors.training import audio_artifacts as T

EDGES_DB = (-np.inf, 0.0, 6.0, 10.0, 15.0, 20.0, 30.0, np.inf)
HARMONICS = 5


def hum_margin_db(clean: np.ndarray, damaged: np.ndarray, base_hz: float) -> float:
    """The hum's power over the content's at the best of the first harmonics (1-Hz bins of a
    1-s Hann window, the content's strongest of the bin and its neighbours)."""
    w = np.hanning(clean.shape[0])
    hum = np.abs(np.fft.rfft((damaged - clean)[:, 0].astype(np.float64) * w)) ** 2
    content = np.abs(np.fft.rfft(clean[:, 0].astype(np.float64) * w)) ** 2
    hz_per_bin = T.RATE / clean.shape[0]
    bins = [int(round(k * base_hz / hz_per_bin)) for k in range(1, HARMONICS + 1)]
    return max(10 * np.log10(hum[b] / (content[b - 1:b + 2].max() + 1e-20)) for b in bins)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m detectors.training.audio_hum_masking",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", type=Path, default=None, help="classifier weights (default: committed)")
    p.add_argument("--test-size", type=int, default=5000, help="segments per test split, as trained")
    p.add_argument("--cache", type=Path, default=Path("/tmp/avharness-audio-artifacts"))
    p.add_argument("--audible-db", type=float, default=None,
                   help="also score both splits with hum under this margin left out")
    p.add_argument("--jobs", type=int, default=2, help="processes rendering the splits")
    args = p.parse_args(argv)
    missing = sorted({src.package for src in T.EXTRA_SOURCES if not src.path.is_file()})
    if missing:
        print(f"error: training content is not installed: {', '.join(missing)} "
              f"(fix: scripts/setup.sh --training)", file=sys.stderr)
        return 2
    args.cache.mkdir(parents=True, exist_ok=True)
    lib = T.Library(args.cache)
    clf = A.ArtifactClassifier.load(args.weights)
    shares = {"none": 0.4, **{c: 0.15 for c in A.DEFECTS}}
    margins, found = [], []
    scored: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # split -> true, pred, margin
    for split in ("test", "test_music"):
        specs = T.make_specs(split, args.test_size, 0, lib, shares)
        margin = np.full(len(specs), np.inf)
        for i, spec in enumerate(specs):
            if spec.label != "hum":
                continue
            clean = T.shaped(spec, lib)
            damaged = T.inject(spec, clean)
            margin[i] = hum_margin_db(clean, damaged, float(spec.mode))
            margins.append(margin[i])
            found.append(int(clf.classify(damaged, T.RATE)[0].argmax()) == A.CLASSES.index("hum"))
        if args.audible_db is not None:
            # every segment as the training script renders it (Opus batches included)
            feats, _ = T.render(specs, lib, jobs=args.jobs)
            pred = clf.probabilities(feats.astype(np.float32)).argmax(axis=1)
            scored[split] = (np.array([A.CLASSES.index(s.label) for s in specs]), pred, margin)
    m, ok = np.array(margins), np.array(found)
    print(f"hum segments {len(m)}, recall {ok.mean():.3f}, missed {int((~ok).sum())}")
    print(f"{'hum over content':>18s} {'segments':>9s} {'share':>6s} {'recall':>7s} {'missed':>7s}")
    for lo, hi in zip(EDGES_DB[:-1], EDGES_DB[1:]):
        sel = (m >= lo) & (m < hi)
        label = f"{lo:g}..{hi:g} dB"
        recall = f"{ok[sel].mean():.3f}" if sel.any() else "-"
        print(f"{label:>18s} {int(sel.sum()):9d} {sel.mean():6.3f} {recall:>7s} {int((~ok[sel]).sum()):7d}")
    if args.audible_db is not None:
        hum = A.CLASSES.index("hum")
        for split, (y, pred, margin) in scored.items():
            keep = (y != hum) | (margin >= args.audible_db)
            for name, sel in (("as trained", np.ones_like(keep)), (
                    f"hum under {args.audible_db:g} dB left out ({int((~keep).sum())})", keep)):
                m = T.confusion(y[sel], pred[sel])
                print(f"{split} {name}: balanced accuracy {T.balanced_accuracy(m):.4f}, "
                      f"recall {np.round(np.diag(m) / m.sum(axis=1), 3).tolist()}, "
                      f"confusion {m.tolist()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
