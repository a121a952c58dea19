"""The demucs adapter: local folder listing, loading (and refusing) files, separating."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from residue.dsp.progress import CancelToken
from residue.errors import JobCancelled, ModelUnavailableError, ParameterError
from residue.models import demucs

SR = 22050


@pytest.fixture(scope="module")
def model() -> demucs.LoadedModel:
    return demucs.get_test_model()


@pytest.fixture
def audio(rng: np.random.Generator) -> np.ndarray:
    """One second of stereo noise (the model's cost grows with length; 1 s tests the path)."""
    return (0.1 * rng.standard_normal((2, SR))).astype(np.float32)


def save_model(folder: Path, name: str) -> Path:
    """Write demucs_unittest as a real weight file, the way demucs packages models."""
    from demucs.states import get_state

    torch.manual_seed(0)
    m = demucs.get_test_model().model
    args, kwargs = m._init_args_kwargs
    package = {"klass": type(m), "args": args, "kwargs": kwargs, "state": get_state(m, None)}  # type: ignore[no-untyped-call]
    path = folder / f"{name}.th"
    torch.save(package, path)
    return path


def test_unittest_model_separates_two_seconds(
    model: demucs.LoadedModel, rng: np.random.Generator
) -> None:
    audio = (0.1 * rng.standard_normal((2, 2 * SR))).astype(np.float32)
    seen: list[float] = []
    out = demucs.separate(model, audio, SR, shifts=0, progress=lambda f, s: seen.append(f))
    assert list(out) == ["drums", "bass", "other", "vocals"]
    for stem, y in out.items():
        assert y.shape == audio.shape and y.dtype == np.float32, stem
        assert np.all(np.isfinite(y)), stem
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)
    assert model.samplerate == 44100  # 22050 Hz went through soxr both ways


@pytest.mark.parametrize("shape", [(SR // 2,), (1, SR // 2)])
def test_mono_comes_back_mono(model: demucs.LoadedModel, shape: tuple[int, ...]) -> None:
    y = np.random.default_rng(1).standard_normal(shape).astype(np.float32) * 0.1
    out = demucs.separate(model, y, SR, shifts=0)
    assert all(v.shape == shape for v in out.values())


def test_shifts_are_seeded_and_leave_random_alone(
    model: demucs.LoadedModel, audio: np.ndarray
) -> None:
    random.seed(123)
    expected = random.random()
    random.seed(123)
    a = demucs.separate(model, audio, SR, shifts=1, seed=7)
    after = random.random()
    b = demucs.separate(model, audio, SR, shifts=1, seed=7)
    assert after == expected
    for stem in a:
        np.testing.assert_array_equal(a[stem], b[stem])


def test_cancel(model: demucs.LoadedModel, audio: np.ndarray) -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(JobCancelled):
        demucs.separate(model, audio, SR, cancel=token)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"shifts": 21}, r"shifts=21 must be in \[0, 20\]"),
        ({"overlap": 0.99}, r"overlap=0.99 must be in"),
        ({"segment": 0.5}, r"segment=0.5 must be in"),
    ],
)
def test_separate_validation(
    model: demucs.LoadedModel, audio: np.ndarray, kwargs: dict[str, float], match: str
) -> None:
    with pytest.raises(ParameterError, match=match):
        demucs.separate(model, audio, SR, **kwargs)  # type: ignore[arg-type]


def test_more_than_two_channels_is_refused(model: demucs.LoadedModel) -> None:
    with pytest.raises(ParameterError, match="mono or stereo"):
        demucs.separate(model, np.zeros((3, 1000), np.float32), SR)


def test_listing_without_a_folder_says_how_to_install() -> None:
    infos = demucs.list_models(None)
    assert [m.name for m in infos] == list(demucs.KNOWN_MODELS)
    for m in infos:
        assert not m.available
        assert m.reason is not None and "RESIDUE_MODELS_DIR" in m.reason
        assert m.files and all(f in m.reason for f in m.files)
    assert infos[2].sources == demucs.SIX_STEMS


def test_listing_names_the_folder_and_the_missing_files(tmp_path: Path) -> None:
    infos = {m.name: m for m in demucs.list_models(tmp_path)}
    reason = infos["htdemucs"].reason or ""
    assert str(tmp_path) in reason and "955717e8-8726e21a.th" in reason
    missing = {m.name: m for m in demucs.list_models(tmp_path / "nope")}
    assert "does not exist" in (missing["mdx_extra"].reason or "")


def test_a_present_file_makes_a_known_model_available(tmp_path: Path) -> None:
    (tmp_path / "955717e8-8726e21a.th").write_bytes(b"not checked until loaded")
    infos = {m.name: m for m in demucs.list_models(tmp_path)}
    assert infos["htdemucs"].available and infos["htdemucs"].reason is None
    assert not infos["htdemucs_ft"].available


def test_corrupt_published_file_is_model_unavailable(tmp_path: Path) -> None:
    (tmp_path / "955717e8-8726e21a.th").write_bytes(b"garbage" * 100)
    with pytest.raises(ModelUnavailableError, match=r"'htdemucs'.*corrupt or incomplete"):
        demucs.load("htdemucs", models_dir=tmp_path)


def test_corrupt_local_file_is_model_unavailable(tmp_path: Path) -> None:
    (tmp_path / "mine.th").write_bytes(b"\x80\x04garbage")
    assert any(m.name == "mine" and m.available for m in demucs.list_models(tmp_path))
    with pytest.raises(ModelUnavailableError, match=r"'mine'.*could not be loaded"):
        demucs.load("mine", models_dir=tmp_path)


def test_broken_bag_file_is_listed_as_unavailable(tmp_path: Path) -> None:
    (tmp_path / "bag.yaml").write_text("models: [")
    infos = {m.name: m for m in demucs.list_models(tmp_path)}
    assert not infos["bag"].available and "not a demucs bag" in (infos["bag"].reason or "")
    with pytest.raises(ModelUnavailableError, match="not a demucs bag"):
        demucs.load("bag", models_dir=tmp_path)


def test_missing_and_unknown_models(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError, match=r"put 955717e8-8726e21a.th in"):
        demucs.load("htdemucs", models_dir=tmp_path)
    with pytest.raises(ModelUnavailableError, match="no demucs model named 'nope'"):
        demucs.load("nope", models_dir=tmp_path)


def test_a_real_local_file_and_bag_load_and_separate(tmp_path: Path, audio: np.ndarray) -> None:
    save_model(tmp_path, "abcd1234")
    (tmp_path / "mybag.yaml").write_text(yaml.safe_dump({"models": ["abcd1234"]}))
    names = {m.name: m for m in demucs.list_models(tmp_path)}
    assert names["mybag"].available and "abcd1234" not in names  # used by the bag
    for name in ("abcd1234", "mybag"):
        loaded = demucs.load(name, models_dir=tmp_path)
        assert loaded.sources == demucs.FOUR_STEMS
        out = demucs.separate(loaded, audio, SR, shifts=0)
        assert set(out) == set(demucs.FOUR_STEMS)


def test_stem_audio_answers_every_stem(rng: np.random.Generator) -> None:
    mix = rng.standard_normal((2, 100)).astype(np.float32)
    parts = {k: (0.2 * mix + i).astype(np.float32) for i, k in enumerate(demucs.FOUR_STEMS)}
    assert np.array_equal(demucs.stem_audio(parts, "bass", mix=mix), parts["bass"])
    np.testing.assert_allclose(
        demucs.stem_audio(parts, "harmonic", mix=mix),
        parts["bass"] + parts["other"] + parts["vocals"],
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        demucs.stem_audio(parts, "residual", mix=mix), mix - sum(parts.values()), atol=1e-5
    )
    assert np.array_equal(demucs.stem_audio(parts, "piano", mix=mix), parts["other"])
    with pytest.raises(ParameterError, match="stem='kazoo'"):
        demucs.stem_audio(parts, "kazoo", mix=mix)
