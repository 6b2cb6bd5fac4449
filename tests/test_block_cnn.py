"""The block-corruption CNN: map shapes, committed weights, determinism, events, evidence."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from detectors import base as registry
from detectors.synth import content
from detectors.synth import video as fx
from detectors.video import block_cnn
from detectors.video.block_cnn import BlockCNN, load_model, map_shape, predict, weights_path
from harness.errors import BadInput
from harness.media import Frame

torch.set_num_threads(1)


@pytest.mark.parametrize("size, cells", [((224, 224), (7, 7)), ((1080, 1920), (34, 60))])
def test_map_has_the_published_shape(size, cells):
    torch.manual_seed(0)
    model = BlockCNN("v2").eval()
    assert map_shape(*size) == cells
    with torch.inference_mode():
        logits, frame = model(torch.zeros(1, 3, *size))
    assert tuple(logits.shape) == (1, 1, *cells)
    assert tuple(frame.shape) == (1,)


def _photo_frame() -> np.ndarray:
    fmt = content.FORMATS["360p25"]
    return content.still(content.source("photo_fruits"), fmt, 0.04, np.random.default_rng(0))[0]


@pytest.fixture(scope="module")
def pictures():
    try:
        clean = _photo_frame()
    except Exception as exc:  # noqa: BLE001 (content not installed)
        pytest.skip(f"corpus content not installed: {exc}")
    bad, region = fx.corrupt_blocks(clean, np.random.default_rng(3), 0.8, 16,
                                    (160, 96, 256, 160), ("flat", "displaced", "false_colour"))
    return clean, bad, region


_RANDOM: dict[str, Path] = {}


def random_weights(version: str) -> Path:
    """fp16 weights of a seeded, untrained model (for what does not depend on training)."""
    if version not in _RANDOM:
        torch.manual_seed(0)
        path = Path(tempfile.mkdtemp()) / f"random_{version}.pt"
        torch.save({k: v.half() for k, v in BlockCNN(version).state_dict().items()}, path)
        _RANDOM[version] = path
    return _RANDOM[version]


def _needs_weights(version: str) -> None:
    """The trained weights are not committed until a training run beats the DSP detector
    (detectors/models/README.md); tests of what they do run where they have been trained."""
    if not weights_path(version).is_file():
        pytest.skip(f"block_corruption_{version}.pt not trained here: python -m "
                    f"detectors.training.block_corruption --model {version} --out build/block_cnn")


V2_WEAK = pytest.param("block_corruption:v2", marks=pytest.mark.xfail(
    reason="v2 is under-trained (CPU run): its decision head false-alarms on clean frames; "
           "see detectors/models/block_corruption_v2.json", strict=False))


@pytest.mark.parametrize("name", ["block_corruption:v1", V2_WEAK])
def test_committed_weights_flag_a_corrupted_frame_and_pass_its_original(name, pictures):
    clean, bad, region = pictures
    _needs_weights(name[-2:])
    assert weights_path(name[-2:]).stat().st_size > 10e6      # fp16 ResNet18, ~22 MB
    detector = registry.create(name)
    assert detector.analyse(bad)[0]
    assert not detector.analyse(clean)[0]


def test_cpu_inference_is_deterministic(pictures):
    _, bad, _ = pictures
    model = load_model(random_weights("v2"), "v2")
    a_map, a_frame = predict(model, bad)
    b_map, b_frame = predict(model, bad.copy())
    assert np.array_equal(a_map, b_map) and np.array_equal(a_frame, b_frame)


@pytest.mark.parametrize("name", ["block_corruption:v1", V2_WEAK])
def test_stream_reports_one_episode_with_cells(name, pictures):
    clean, bad, (x, y, w, h) = pictures
    _needs_weights(name[-2:])
    images = [clean] * 5 + [bad] * 4 + [clean] * 10
    frames = [Frame(k / 25, k, img) for k, img in enumerate(images)]
    events = list(registry.detect(name, frames=frames))
    assert len(events) == 1
    event = events[0]
    assert event.kind == "block_corruption" and event.detector == name
    assert 0.15 <= event.start_s <= 0.25 and event.end_s <= 0.45
    ex, ey, ew, eh = event.region
    assert ex < x + w and ey < y + h and ex + ew > x and ey + eh > y    # overlaps the damage
    assert event.details["model"] == name[-2:] and event.details["cells"]
    assert 0 < event.details["area_ratio"] <= 1 and event.frame is not None


def test_every_n_analyses_a_share_of_frames(pictures, monkeypatch):
    clean, bad, _ = pictures
    detector = registry.create("block_corruption:v1", every_n=3, weights=str(random_weights("v1")))
    seen = []
    monkeypatch.setattr(detector, "analyse", lambda image: seen.append(1) or (False, 0.0, None, 0.0))
    for k in range(9):
        detector.feed(Frame(k / 25, k, clean))
    assert len(seen) == 3


def test_missing_weights_are_a_clear_error(tmp_path):
    with pytest.raises(BadInput, match="no weights.*detectors.training.block_corruption"):
        registry.create("block_corruption:v1", weights=str(tmp_path / "none.pt"))


def test_evidence_draws_the_cells(pictures):
    from harness.vision import draw_cells

    clean, _, _ = pictures
    drawn = draw_cells(clean, [[1, 2], [3, 4]], [32, 32])
    assert drawn.shape == clean.shape and not np.array_equal(drawn, clean)
    assert np.array_equal(drawn[200:, 300:], clean[200:, 300:])


def test_registry_keeps_the_implementations_selectable():
    names = registry.available()
    for name in ("block_corruption", "block_corruption:dsp", "block_corruption:v1",
                 "block_corruption:v2"):
        assert name in names
    assert registry.resolve_names("all").count("block_corruption") == 1
    assert not [n for n in registry.resolve_names("all") if n.startswith("block_corruption:")]
    assert block_cnn.BlockCorruptionCNNv2.Config().threshold > 0


@pytest.mark.slow
def test_tiny_training_run_is_resumable(tmp_path):
    from detectors.training import block_corruption as training

    args = ["--model", "v1", "--out", str(tmp_path), "--seed", "7", "--reduced", "--no-export",
            "--jobs", "1"]
    assert training.main(args) == 0
    first = torch.load(tmp_path / "final-v1.pt", weights_only=True)
    assert training.main(args + ["--resume"]) == 0          # resumes at the last step: same model
    again = torch.load(tmp_path / "final-v1.pt", weights_only=True)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert training.main(["--model", "v2", "--out", str(tmp_path), "--seed", "7", "--reduced",
                          "--no-export", "--jobs", "1"]) == 0
    assert (tmp_path / "final-v2.pt").is_file()
