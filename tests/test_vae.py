from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from residue.dsp import timbre as tb
from residue.dsp.progress import CancelToken
from residue.errors import JobCancelled, ModelUnavailableError, ParameterError
from residue.models import vae

TINY = vae.VAEConfig(latent_dim=4, channels=(4, 8, 8))


def smooth_vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    """Vectors that live on a 2-D manifold: a bump whose centre and width vary."""
    x = np.linspace(0, 1, tb.N_BINS)
    centre = rng.uniform(0.1, 0.9, size=(n, 1))
    width = rng.uniform(0.03, 0.2, size=(n, 1))
    return np.exp(-0.5 * ((x - centre) / width) ** 2).astype(np.float32)


@pytest.fixture(scope="module")
def trained() -> vae.TrainResult:
    data = smooth_vectors(np.random.default_rng(0), 128)
    return vae.train(data, epochs=6, batch_size=16, lr=5e-3, config=TINY, seed=1,
                     labels=tuple(f"v{i}" for i in range(128)))


def test_full_size_architecture_shapes() -> None:
    net = vae.new_model()
    x = torch.rand(3, tb.N_BINS)
    recon, mean, logvar = net(x, torch.zeros(3, vae.LATENT_DIM))
    assert recon.shape == (3, 1233) and mean.shape == logvar.shape == (3, 32)
    assert float(recon.detach().min()) > 0 and float(recon.detach().max()) < 1
    assert sum(p.numel() for p in net.parameters()) < 400_000  # trains on 2 cores
    # No noise: the forward pass is the mean's reconstruction.
    torch.testing.assert_close(net(x)[0], net.decode(net.encode(x)[0]))


@pytest.mark.parametrize("n_bins", [1233, 1000, 257])
def test_any_vector_length_round_trips_in_shape(n_bins: int) -> None:
    net = vae.new_model(vae.VAEConfig(n_bins=n_bins, latent_dim=3, channels=(2, 2, 2)))
    assert net(torch.rand(2, n_bins))[0].shape == (2, n_bins)


def test_training_learns_and_reports(trained: vae.TrainResult) -> None:
    assert trained.loss.shape == trained.recon.shape == trained.kl.shape == (6,)
    assert trained.recon[-1] < 0.8 * trained.recon[0]
    assert np.all(np.diff(trained.loss) < 0)
    model = trained.model
    assert model.latent_dim == 4 and model.anchors.shape == (128, 4)
    assert model.anchor_labels[:2] == ("v0", "v1")
    prov = model.provenance["training"]
    assert prov["epochs"] == 6 and prov["n_vectors"] == 128 and len(prov["vectors_sha256"]) == 64


def test_training_is_seeded() -> None:
    data = smooth_vectors(np.random.default_rng(3), 64)
    a = vae.train(data, epochs=2, batch_size=16, config=TINY, seed=5)
    b = vae.train(data, epochs=2, batch_size=16, config=TINY, seed=5)
    c = vae.train(data, epochs=2, batch_size=16, config=TINY, seed=6)
    np.testing.assert_array_equal(a.loss, b.loss)
    assert a.model.model_id == b.model.model_id != c.model.model_id


def test_inference_is_deterministic(trained: vae.TrainResult) -> None:
    model = trained.model
    v = smooth_vectors(np.random.default_rng(9), 5)
    np.testing.assert_array_equal(model.encode(v), model.encode(v))
    z = model.encode(v)
    np.testing.assert_array_equal(model.decode(z), model.decode(z))
    assert model.decode(z[0]).shape == (1, 1233)
    # Batching does not change a point's result.
    np.testing.assert_allclose(model.decode(z)[2], model.decode(z[2:3])[0], atol=1e-6)


def test_progress_epochs_and_cancel() -> None:
    data = smooth_vectors(np.random.default_rng(1), 40)
    seen: list[float] = []
    epochs: list[tuple[int, float, float]] = []
    vae.train(data, epochs=3, batch_size=10, config=TINY,
              progress=lambda f, s: seen.append(f),
              on_epoch=lambda e, r, k: epochs.append((e, r, k)))
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) == 12
    assert [e for e, _, _ in epochs] == [0, 1, 2]
    token = CancelToken()
    token.cancel()
    with pytest.raises(JobCancelled):
        vae.train(data, epochs=3, config=TINY, cancel=token)


def test_save_load_round_trip(trained: vae.TrainResult, tmp_path: Path) -> None:
    path = vae.save_model(trained.model, tmp_path / "m.pt")
    loaded = vae.load_model(path)
    assert loaded.model_id == trained.model.model_id
    assert loaded.provenance == trained.model.provenance
    np.testing.assert_array_equal(loaded.anchors, trained.model.anchors)
    z = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_array_equal(loaded.decode(z), trained.model.decode(z))
    header = vae.read_header(path)
    assert header["version"] == vae.FORMAT_VERSION and header["model_id"] == loaded.model_id


def test_file_of_another_version_is_refused(trained: vae.TrainResult, tmp_path: Path) -> None:
    path = vae.save_model(trained.model, tmp_path / "m.pt")
    payload = torch.load(path, weights_only=True)
    payload["version"] = vae.FORMAT_VERSION + 1
    torch.save(payload, path)
    with pytest.raises(ModelUnavailableError, match=r"format version 2; this residue reads "
                                                     r"version 1\. Retrain"):
        vae.load_model(path)


def test_damaged_foreign_and_missing_files(trained: vae.TrainResult, tmp_path: Path) -> None:
    (tmp_path / "junk.pt").write_bytes(b"not a model at all")
    with pytest.raises(ModelUnavailableError, match="not a readable timbre model"):
        vae.load_model(tmp_path / "junk.pt")
    torch.save({"format": "something-else"}, tmp_path / "other.pt")
    with pytest.raises(ModelUnavailableError, match="not a residue timbre model"):
        vae.load_model(tmp_path / "other.pt")
    with pytest.raises(ModelUnavailableError, match="no timbre model file"):
        vae.load_model(tmp_path / "absent.pt")
    path = vae.save_model(trained.model, tmp_path / "m.pt")
    payload = torch.load(path, weights_only=True)
    payload["state_dict"] = {k: v * 2 for k, v in payload["state_dict"].items()}
    torch.save(payload, path)
    with pytest.raises(ModelUnavailableError, match="does not match its recorded model id"):
        vae.load_model(path)


def test_latent_of_the_wrong_size(trained: vae.TrainResult) -> None:
    with pytest.raises(ParameterError, match="this model's latent has 4 values"):
        trained.model.decode(np.zeros(32, np.float32))
    with pytest.raises(ParameterError, match="NaN"):
        trained.model.decode(np.full(4, np.nan, np.float32))
    with pytest.raises(ParameterError, match=r"shape \(\.\.\., 1233\)"):
        trained.model.encode(np.zeros((2, 100), np.float32))


def test_bad_training_input() -> None:
    data = smooth_vectors(np.random.default_rng(0), 8)
    with pytest.raises(ParameterError, match=r"shape \(n, 1233\)"):
        vae.train(data[:, :100], config=TINY)
    with pytest.raises(ParameterError, match="number of vectors=1"):
        vae.train(data[:1], config=TINY)
    with pytest.raises(ParameterError, match="epochs=0"):
        vae.train(data, epochs=0, config=TINY)
    with pytest.raises(ParameterError, match="NaN"):
        vae.train(np.full_like(data, np.nan), config=TINY)
    with pytest.raises(ParameterError, match="labels has 3 entries"):
        vae.train(data, epochs=1, config=TINY, labels=("a", "b", "c"))
    with pytest.raises(ParameterError, match="channels"):
        vae.VAEConfig(channels=(4, 4)).checked()  # type: ignore[arg-type]


def test_default_training_set_sources() -> None:
    data = vae.default_training_set(sources=("noises",), soundfont=False, seed=4)
    # 3 kinds x 4 variants x 2 clips + 48 coloured noises, then as many mixes again.
    assert data.vectors.shape == (2 * 72, 1233) and len(data.labels) == 144
    assert data.provenance["counts"] == {"noises": 72} and data.provenance["soundfont"] is None
    assert data.labels[0] == "wind 0" and data.labels[-1].startswith("mix ")
    assert data.provenance["dropped_silent"] == 0
    # Seeded: the first procedural loop is the one compose makes from the same generator.
    from residue.dsp import compose

    loop = compose.procedural_effect("wind", rng=np.random.default_rng(4), duration_s=4.0)
    np.testing.assert_allclose(
        data.vectors[0], tb.timbre_vectors(loop.mean(axis=0)[: 2 * tb.SR], sr=tb.SR), atol=1e-6
    )
    with pytest.raises(ParameterError, match="source 'drums'"):
        vae.default_training_set(sources=("drums",), soundfont=False)
