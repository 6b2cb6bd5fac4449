"""The scorer of ``harness eval`` on hand-made cases: the DEFECTS.md matching rule with its
tolerance, partial overlaps, false positives, clean time and the n/a cases."""

from __future__ import annotations

import json

import pytest

from detectors.base import Event
from detectors.evaluate import KindScore, SweepPoint, match, plot, score, table


def ev(kind: str, start: float, end: float, detector: str = "x") -> Event:
    return Event(kind, start, end, 1.0, detector)


def test_overlap_with_tolerance_is_a_hit():
    truth = [ev("freeze", 2.0, 3.0, "injected")]
    cases = {  # prediction -> is it a true positive?
        (2.5, 2.7): True,     # inside
        (1.0, 2.1): True,     # partial overlap at the start
        (2.9, 4.0): True,     # partial overlap at the end
        (1.0, 5.0): True,     # covers it
        (1.5, 1.85): True,    # ends 0.15 s before: within the 0.2 s tolerance
        (3.19, 3.5): True,    # starts 0.19 s after
        (1.0, 1.75): False,   # 0.25 s before
        (3.25, 3.6): False,   # 0.25 s after
    }
    for (a, b), expected in cases.items():
        hits, false, missed = match(truth, [ev("freeze", a, b)])
        assert bool(hits) == expected and bool(false) != expected, (a, b)
        assert bool(missed) != expected


def test_several_predictions_and_episodes():
    truth = [ev("black", 1.0, 2.0), ev("black", 5.0, 6.0), ev("black", 9.0, 9.5)]
    predicted = [ev("black", 1.1, 1.3), ev("black", 1.6, 1.9),  # two on one episode: both TP
                 ev("black", 4.0, 7.0),                         # one spanning an episode
                 ev("black", 7.5, 8.0)]                          # nowhere near: FP
    hits, false, missed = match(truth, predicted)
    assert len(hits) == 3 and [(e.start_s, e.end_s) for e in false] == [(7.5, 8.0)]
    assert [(e.start_s, e.end_s) for e in missed] == [(9.0, 9.5)]
    hits, false, missed = match(truth, [ev("black", 0.0, 10.0)])  # one long one touches all
    assert len(hits) == 1 and not false and not missed


def _manifest(clean: dict[str, float], kinds: list[str]) -> dict:
    return {"seed": 0, "size": "hand", "command": "by hand", "kinds": kinds,
            "files": [{"media": "media/a.mp4"}, {"media": "media/b.mp4"}],
            "totals": {"files": 2, "duration_s": 7200.0, "clean_s": clean}}


def test_scores_per_kind_with_clean_time_and_na():
    kinds = ["black", "freeze", "silence", "made_up"]
    manifest = _manifest({"black": 3600.0, "freeze": 1800.0, "silence": 7200.0, "made_up": 7200.0},
                         kinds)
    truths = [[ev("black", 1, 2, "injected"), ev("black", 10, 11, "injected"),
               ev("freeze", 5, 6, "injected"), ev("made_up", 3, 4, "injected")],
              [ev("freeze", 20, 22, "injected")]]
    predictions = [[ev("black", 1.1, 1.9, "black"), ev("black", 30, 31, "black"),
                    ev("black", 40, 41, "black"), ev("freeze", 5.5, 6.5, "freeze")],
                   [ev("black", 3, 4, "black"), ev("silence", 0, 1, "silence")]]
    report = score(manifest, truths, predictions, ["black", "freeze", "silence"])
    rows = {k.kind: k for k in report.kinds}
    black = rows["black"]
    assert (black.episodes, black.predicted, black.true_positives, black.false_positives,
            black.found) == (2, 4, 1, 3, 1)
    assert black.precision == 0.25 and black.recall == 0.5
    assert black.f1 == pytest.approx(2 * 0.25 * 0.5 / 0.75) and black.fp_per_hour == 3.0
    freeze = rows["freeze"]
    assert (freeze.precision, freeze.recall, freeze.fp_per_hour) == (1.0, 0.5, 0.0)
    silence = rows["silence"]     # no ground truth, one prediction: precision 0, recall n/a
    assert silence.precision == 0.0 and silence.recall is None and silence.f1 == 0.0
    assert silence.fp_per_hour == 0.5
    unknown = rows["made_up"]  # a kind no registered detector reports
    assert unknown.status == "no detector yet" and unknown.episodes == 1
    assert unknown.precision is None
    assert [(m["media"], m["kind"]) for m in report.mistakes] == [
        ("media/a.mp4", "black"), ("media/b.mp4", "black"), ("media/b.mp4", "freeze"),
        ("media/b.mp4", "silence")]


def test_nothing_to_divide_by_is_na_not_one():
    row = KindScore("tearing", ["tearing"], "scored", clean_s=0.0)
    assert (row.precision, row.recall, row.f1, row.fp_per_hour) == (None, None, None, None)
    missed_all = KindScore("clicks", ["clicks"], "scored", episodes=3, clean_s=60.0)
    assert missed_all.precision is None and missed_all.recall == 0.0 and missed_all.f1 == 0.0
    manifest = _manifest({"black": 60.0, "made_up": 60.0}, ["black", "made_up"])
    text = table(score(manifest, [[], []], [[], []], ["freeze"]))
    assert "| black | not run | 0 |" in text and "| made_up | no detector yet | 0 |" in text
    report = score(_manifest({"freeze": 60.0}, ["freeze"]), [[], []], [[], []], ["freeze"])
    assert "| freeze | freeze | 0 | 0 | 0 | 0 | 0 | n/a | n/a | n/a | 0.0 |" in table(report)


def test_plot_writes_a_png(tmp_path):
    curves = {"black": [SweepPoint(16, 1.0, 0.5, 0.0), SweepPoint(32, 0.8, 1.0, 12.0),
                        SweepPoint(64, None, None, None)]}
    out = tmp_path / "pr.png"
    plot(curves, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_damaged_manifest_is_a_clear_error_naming_the_field(tmp_path):
    from detectors.evaluate import load_manifest
    from harness.errors import BadInput

    good = {"seed": 0, "size": "tiny", "command": "harness corpus build x", "kinds": ["black"],
            "files": [{"media": "media/a.mp4", "truth": "media/a.truth.json"}],
            "totals": {"duration_s": 1.0, "clean_s": {}, "files": 1}}
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "a.mp4").write_bytes(b"")
    (tmp_path / "media" / "a.truth.json").write_text("{}")
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(good))
    assert load_manifest(tmp_path) == good
    for broken, message in (
            ({k: v for k, v in good.items() if k != "files"}, "field 'files' is missing"),
            ({**good, "totals": {"files": 1}}, "field 'totals.duration_s' is missing"),
            ({**good, "files": [{"media": "media/b.mp4", "truth": "media/a.truth.json"}]},
             "files[0].media names media/b.mp4, which is not in the corpus"),
            ({**good, "files": [{"media": "media/a.mp4"}]}, "files[0].truth is missing")):
        manifest.write_text(json.dumps(broken))
        with pytest.raises(BadInput, match="harness corpus build") as err:
            load_manifest(tmp_path)
        assert message in str(err.value) and str(manifest) in str(err.value)
    manifest.write_text("{")
    with pytest.raises(BadInput, match="not a readable corpus manifest"):
        load_manifest(tmp_path)
    # a truth file without its events
    from detectors.evaluate import _truths
    with pytest.raises(BadInput, match=r"a\.truth\.json: not a readable truth file \(KeyError"):
        _truths(tmp_path, good)
