from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.decomposition import NMF

from residue.dsp.nmf import NMFResult, decompose
from residue.dsp.progress import CancelToken
from residue.errors import JobCancelled, ParameterError


def low_rank(rng: np.random.Generator, f: int, t: int, r: int, noise: float = 0.0) -> np.ndarray:
    S = rng.random((f, r)) @ rng.random((r, t)) + noise * rng.random((f, t))
    return S.astype(np.float32)


def rel_err(S: np.ndarray, res: NMFResult) -> float:
    return float(np.linalg.norm(S - res.W @ res.H) / np.linalg.norm(S))


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    f=st.integers(4, 40),
    t=st.integers(4, 60),
    r=st.integers(1, 3),
    beta=st.sampled_from([0.5, 1.0, 2.0]),
)
def test_factors_are_nonnegative_and_reconstruct(
    seed: int, f: int, t: int, r: int, beta: float
) -> None:
    rng = np.random.default_rng(seed)
    S = low_rank(rng, f, t, r) + 0.01
    res = decompose(S, n_components=r, beta=beta, n_iter=200, tol=0.0, rng=rng)
    assert res.W.shape == (f, r) and res.H.shape == (r, t)
    assert res.W.dtype == np.float32 and res.H.dtype == np.float32
    assert np.all(res.W >= 0) and np.all(res.H >= 0)
    assert np.all(np.isfinite(res.W)) and np.all(np.isfinite(res.H))
    np.testing.assert_allclose(res.W.sum(axis=0), 1.0, rtol=1e-4)
    assert rel_err(S, res) < 0.1
    assert res.loss[-1] <= res.loss[0] * (1 + 1e-3) + 1e-4


@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 1.5, 2.0])
@pytest.mark.parametrize("shape", [(30, 50), (64, 3000)], ids=["one-block", "threaded"])
def test_matches_sklearn_mu_from_same_init(
    rng: np.random.Generator, beta: float, shape: tuple[int, int]
) -> None:
    # Independent reference: scikit-learn's multiplicative updates from the same start.
    f, t = shape
    S = low_rank(rng, f, t, 4, noise=0.05) + 0.01  # positive: Itakura-Saito needs it
    k = 5
    W0 = rng.random((f, k)).astype(np.float32)
    H0 = rng.random((k, t)).astype(np.float32)
    model = NMF(k, solver="mu", beta_loss=beta, init="custom", max_iter=20, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "max_iter reached"
        W_ref = model.fit_transform(S.copy(), W=W0.copy(), H=H0.copy())
    res = decompose(S, n_components=k, beta=beta, n_iter=20, tol=0.0, W_init=W0, H_init=H0)
    ref = W_ref @ model.components_
    np.testing.assert_allclose(res.W @ res.H, ref, rtol=2e-4, atol=2e-4 * float(ref.max()))
    # scikit-learn reports sqrt(2 * divergence).
    assert np.sqrt(2 * res.loss[-1]) == pytest.approx(model.reconstruction_err_, rel=1e-3)


def test_kl_matches_textbook_numpy_updates(rng: np.random.Generator) -> None:
    # A second, plain reference: Lee & Seung's KL updates in float64, W first then H.
    S = low_rank(rng, 20, 30, 3, noise=0.1)
    W = rng.random((20, 3))
    H = rng.random((3, 30))
    res = decompose(S, n_components=3, beta=1.0, n_iter=5, tol=0.0, W_init=W, H_init=H)
    V = S.astype(np.float64)
    for _ in range(5):
        W = W * ((V / (W @ H)) @ H.T) / H.sum(axis=1)
        H = H * (W.T @ (V / (W @ H))) / W.sum(axis=0)[:, None]
    np.testing.assert_allclose(res.W @ res.H, W @ H, rtol=1e-4)


@pytest.mark.parametrize("beta", [0.0, 1.0, 2.0])
def test_loss_never_increases(rng: np.random.Generator, beta: float) -> None:
    S = low_rank(rng, 40, 400, 5, noise=0.2) + 0.01
    res = decompose(S, n_components=6, beta=beta, n_iter=60, tol=0.0, check_every=1, rng=rng)
    assert res.loss.shape == (61,)
    assert np.all(np.diff(res.loss) <= 1e-5 * res.loss[:-1] + 1e-6)
    assert res.loss[-1] < 0.9 * res.loss[0]


def test_loss_trace_schedule_and_convergence(rng: np.random.Generator) -> None:
    S = low_rank(rng, 20, 40, 2, noise=0.1)
    res = decompose(S, n_components=2, n_iter=25, tol=0.0, check_every=10)
    assert res.loss.shape == (4,)  # iterations 0, 10, 20, 25
    assert res.n_iter == 25 and not res.converged
    loose = decompose(S, n_components=2, n_iter=1000, tol=1e-2)
    assert loose.converged and loose.n_iter < 1000 and loose.n_iter % 10 == 0
    assert loose.loss.shape == (loose.n_iter // 10 + 1,)


@pytest.mark.parametrize("beta", [1.0, 2.0, 0.5])
def test_fixed_w_mode_keeps_w_and_fits_h(rng: np.random.Generator, beta: float) -> None:
    W_true = rng.random((30, 3)).astype(np.float32)
    W_true /= W_true.sum(axis=0)
    H_true = rng.random((3, 200)).astype(np.float32) * 5
    S = W_true @ H_true
    W_in = W_true.copy()
    res = decompose(S, n_components=3, beta=beta, update="H", W_init=W_in, n_iter=500, tol=0.0)
    np.testing.assert_array_equal(res.W, W_true)
    np.testing.assert_array_equal(W_in, W_true)  # caller's array untouched
    np.testing.assert_allclose(res.H, H_true, rtol=0.05, atol=0.05)


@pytest.mark.parametrize("beta", [1.0, 2.0])
def test_fixed_h_mode_keeps_h_and_fits_w(rng: np.random.Generator, beta: float) -> None:
    W_true = rng.random((30, 3)).astype(np.float32)
    H_true = rng.random((3, 200)).astype(np.float32)
    S = W_true @ H_true
    res = decompose(S, n_components=3, beta=beta, update="W", H_init=H_true, n_iter=500, tol=0.0)
    np.testing.assert_array_equal(res.H, H_true)
    np.testing.assert_allclose(res.W, W_true, rtol=0.05, atol=0.02)


@pytest.mark.parametrize("update", ["both", "H"])
def test_batched_equals_per_item(rng: np.random.Generator, update: str) -> None:
    S = np.stack([low_rank(rng, 32, 300, 3, 0.1), low_rank(rng, 32, 300, 3, 0.1)])
    W0 = rng.random((2, 32, 4)).astype(np.float32)
    H0 = rng.random((2, 4, 300)).astype(np.float32)
    kw = {"n_components": 4, "n_iter": 50, "tol": 1e-3, "update": update}
    both = decompose(S, W_init=W0, H_init=H0, **kw)  # type: ignore[arg-type]
    assert both.W.shape == (2, 32, 4) and both.H.shape == (2, 4, 300)
    singles = [decompose(S[i], W_init=W0[i], H_init=H0[i], **kw) for i in range(2)]  # type: ignore[arg-type]
    for i, one in enumerate(singles):
        np.testing.assert_allclose(both.W[i], one.W, rtol=1e-6)
        np.testing.assert_allclose(both.H[i], one.H, rtol=1e-6)
    assert both.n_iter == max(s.n_iter for s in singles)
    n = len(both.loss)
    padded = [np.pad(s.loss, (0, n - len(s.loss)), mode="edge") for s in singles]
    np.testing.assert_allclose(both.loss, padded[0] + padded[1], rtol=1e-5)


def test_shared_w_for_a_batch(rng: np.random.Generator) -> None:
    S = np.stack([low_rank(rng, 16, 40, 2), low_rank(rng, 16, 40, 2)])
    W = rng.random((16, 2)).astype(np.float32)
    res = decompose(S, n_components=2, update="H", W_init=W, n_iter=20)
    np.testing.assert_array_equal(res.W, np.stack([W, W]))


@pytest.mark.parametrize("init", ["random", "nndsvd"])
def test_seeded_reproducibility(init: str) -> None:
    S = low_rank(np.random.default_rng(1), 50, 80, 4, noise=0.2)
    kw = {"n_components": 4, "n_iter": 30, "init": init}
    a = decompose(S, rng=np.random.default_rng(7), **kw)  # type: ignore[arg-type]
    b = decompose(S, rng=np.random.default_rng(7), **kw)  # type: ignore[arg-type]
    np.testing.assert_array_equal(a.W, b.W)
    np.testing.assert_array_equal(a.H, b.H)
    if init == "random":
        c = decompose(S, rng=np.random.default_rng(8), **kw)  # type: ignore[arg-type]
        assert not np.array_equal(a.W, c.W)
    d = decompose(S, **kw)  # type: ignore[arg-type]
    e = decompose(S, **kw)  # type: ignore[arg-type]
    np.testing.assert_array_equal(d.H, e.H)


def test_nndsvd_starts_closer_than_random(rng: np.random.Generator) -> None:
    S = low_rank(rng, 60, 90, 4, noise=0.05)
    nnd = decompose(S, n_components=4, n_iter=1, init="nndsvd", rng=rng)
    rnd = decompose(S, n_components=4, n_iter=1, init="random", rng=rng)
    assert nnd.loss[0] < rnd.loss[0]


@pytest.mark.parametrize("beta", [0.0, 1.0, 1.5, 2.0])
@pytest.mark.parametrize("init", ["random", "nndsvd"])
def test_digital_silence_is_finite(beta: float, init: str) -> None:
    res = decompose(np.zeros((16, 30), np.float32), n_components=3, beta=beta, init=init)  # type: ignore[arg-type]
    assert np.all(np.isfinite(res.W)) and np.all(np.isfinite(res.H))
    assert np.all(np.isfinite(res.loss)) and res.loss[-1] < 1e-6
    np.testing.assert_allclose(res.W.sum(axis=0), 1.0, rtol=1e-5)


def test_silent_channel_in_a_batch(rng: np.random.Generator) -> None:
    S = np.stack([low_rank(rng, 16, 200, 2), np.zeros((16, 200), np.float32)])
    res = decompose(S, n_components=2, n_iter=50)
    assert np.all(np.isfinite(res.W)) and np.all(np.isfinite(res.H))
    assert not res.H[1].any()


def test_sparsity_reduces_activation_l1(rng: np.random.Generator) -> None:
    S = low_rank(rng, 40, 120, 6, noise=0.1)
    kw = {"n_components": 6, "n_iter": 150, "tol": 0.0, "rng": np.random.default_rng(3)}
    plain = decompose(S, **kw)  # type: ignore[arg-type]
    sparse = decompose(S, sparsity=0.5, **kw)  # type: ignore[arg-type]
    np.testing.assert_allclose(sparse.W.sum(axis=0), 1.0, rtol=1e-4)
    assert sparse.H.sum() < 0.9 * plain.H.sum()


def test_input_is_not_modified(rng: np.random.Generator) -> None:
    S = low_rank(rng, 20, 30, 2)
    W0 = rng.random((20, 2)).astype(np.float32)
    H0 = rng.random((2, 30)).astype(np.float32)
    copies = (S.copy(), W0.copy(), H0.copy())
    decompose(S, n_components=2, W_init=W0, H_init=H0, n_iter=10)
    for before, after in zip(copies, (S, W0, H0), strict=True):
        np.testing.assert_array_equal(before, after)


def test_progress_and_cancel(rng: np.random.Generator) -> None:
    S = low_rank(rng, 20, 30, 2)
    seen: list[tuple[float, str]] = []
    decompose(S, n_components=2, n_iter=40, tol=0.0, progress=lambda f, s: seen.append((f, s)))
    fractions = [f for f, _ in seen]
    assert {s for _, s in seen} == {"decomposing"}
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) > 3
    token = CancelToken()
    token.cancel()
    with pytest.raises(JobCancelled):
        decompose(S, n_components=2, n_iter=40, cancel=token)


def test_device_string(rng: np.random.Generator) -> None:
    S = low_rank(rng, 10, 12, 2)
    a = decompose(S, n_components=2, n_iter=5, device="cpu")
    b = decompose(S, n_components=2, n_iter=5)
    np.testing.assert_array_equal(a.W, b.W)


def test_validation() -> None:
    S = np.ones((8, 5), np.float32)
    cases: list[tuple[dict[str, object], str]] = [
        ({"n_components": 0}, r"n_components=0 must be in \[1, 5\]"),
        ({"n_components": 6}, r"n_components=6 must be in \[1, 5\]"),
        ({"n_components": 2, "beta": 3.0}, r"beta=3 must be in \[0, 2\]"),
        ({"n_components": 2, "n_iter": 0}, r"n_iter=0 must be in \[1, "),
        ({"n_components": 2, "tol": -1.0}, r"tol=-1 must be in \[0, 1\]"),
        ({"n_components": 2, "init": "svd"}, r"init='svd' must be one of"),
        ({"n_components": 2, "update": "V"}, r"update='V' must be one of"),
        ({"n_components": 2, "sparsity": -0.1}, r"sparsity=-0.1 must be in \[0, 10\]"),
        ({"n_components": 2, "check_every": 0}, r"check_every=0 must be in \[1, "),
        ({"n_components": 2, "update": "H"}, r'update="H" keeps W fixed, so W_init is required'),
        ({"n_components": 2, "update": "W"}, r'update="W" keeps H fixed, so H_init is required'),
        ({"n_components": 2, "W_init": np.ones((8, 3))}, r"W_init must have shape \(8, 2\)"),
        ({"n_components": 2, "H_init": -np.ones((2, 5))}, r"H_init must be non-negative"),
        ({"n_components": 2, "device": "nowhere"}, r"device='nowhere' is not a torch device"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ParameterError, match=message):
            decompose(S, **kwargs)  # type: ignore[arg-type]


def test_validation_of_s() -> None:
    with pytest.raises(ParameterError, match="at least 2 dimensions"):
        decompose(np.ones(5), n_components=1)
    with pytest.raises(ParameterError, match=r"shape \(F, T\) or \(B, F, T\)"):
        decompose(np.ones((2, 2, 3, 4)), n_components=1)
    with pytest.raises(ParameterError, match="non-negative"):
        decompose(-np.ones((3, 4)), n_components=1)
    with pytest.raises(ParameterError, match="NaN or infinite"):
        decompose(np.full((3, 4), np.nan), n_components=1)
    with pytest.raises(ParameterError, match="real-valued"):
        decompose(np.ones((3, 4), np.complex64), n_components=1)
    with pytest.raises(ParameterError, match="must not be empty"):
        decompose(np.ones((3, 0)), n_components=1)
    with pytest.raises(ParameterError, match=r"W_init must have shape \(4, 2\) or \(2, 4, 2\)"):
        decompose(np.ones((2, 4, 6)), n_components=2, W_init=np.ones((3, 4, 2)))


def test_read_only_input_is_accepted(rng: np.random.Generator) -> None:
    S = low_rank(rng, 12, 20, 2)
    S.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = decompose(S, n_components=2, n_iter=5)
    assert res.W.shape == (12, 2)
