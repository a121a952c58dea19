from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from residue.dsp import units as units_mod
from residue.dsp.spectral import stft
from residue.dsp.units import R_MAX, UnitEdit, render_each, render_units, unit_spectra
from residue.errors import ParameterError

LAYOUTS = {"mono": (), "stereo": (2,), "batched": (3, 2)}


def make(
    rng: np.random.Generator, lead: tuple[int, ...], n: int = 8192, k: int = 4, zeros: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    y = rng.uniform(-1, 1, (*lead, n)).astype(np.float32)
    D = stft(y)
    n_bins, n_frames = D.shape[-2:]
    W = rng.random((*lead, n_bins, k)).astype(np.float32)
    H = rng.random((*lead, k, n_frames)).astype(np.float32)
    if zeros:
        W[..., 100:200, :] = 0.0  # the model is zero on these bins: equal split there
        H[..., :, 1] = 0.0
    return y, D, W, H


def close(a: np.ndarray, b: np.ndarray, rel: float = 1e-4) -> None:
    np.testing.assert_allclose(a, b, atol=rel * float(np.abs(b).max()))


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(600, 12000),
    k=st.integers(1, 6),
    layout=st.sampled_from(sorted(LAYOUTS)),
)
def test_all_units_sum_back_to_the_input(seed: int, n: int, k: int, layout: str) -> None:
    rng = np.random.default_rng(seed)
    y, D, W, H = make(rng, LAYOUTS[layout], n=n, k=k)
    close(render_units(D, W, H, length=n), y)
    each = render_each(D, W, H, length=n)
    assert each.shape == (k, *LAYOUTS[layout], n)
    close(each.sum(axis=0), y)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_unit_spectra_sum_to_d(rng: np.random.Generator, layout: str) -> None:
    _, D, W, H = make(rng, LAYOUTS[layout], n=4000)
    Y = unit_spectra(D, W, H)
    assert Y.dtype == np.complex64
    assert Y.shape == (*LAYOUTS[layout], 4, *D.shape[-2:])
    np.testing.assert_allclose(Y.sum(axis=-3), D, rtol=1e-5, atol=1e-5)
    # Where the model is zero every unit gets an equal share.
    np.testing.assert_allclose(Y[..., 1, 150, :], D[..., 150, :] / 4, rtol=1e-6)


def test_unit_spectra_are_soft_masks(rng: np.random.Generator) -> None:
    _, D, W, H = make(rng, (), n=3000, zeros=False)
    Y = unit_spectra(D, W, H)
    k = 2
    expected = D * np.outer(W[:, k], H[k]) / (W @ H)
    np.testing.assert_allclose(Y[k], expected, rtol=1e-4, atol=1e-6)


def test_shared_factors_for_all_channels(rng: np.random.Generator) -> None:
    _, D, W, H = make(rng, (2,), n=4000)
    shared = render_units(D, W[0], H[0], units=[1], length=4000)
    per = render_units(D, np.stack([W[0], W[0]]), np.stack([H[0], H[0]]), units=[1], length=4000)
    np.testing.assert_allclose(shared, per, atol=1e-6)


@pytest.mark.parametrize("layout", ["mono", "stereo"])
def test_solo_unit_equals_render_each(rng: np.random.Generator, layout: str) -> None:
    _, D, W, H = make(rng, LAYOUTS[layout], n=6000)
    each = render_each(D, W, H, length=6000)
    for k in range(4):
        np.testing.assert_allclose(
            render_units(D, W, H, units=[k], length=6000), each[k], atol=1e-5
        )
    pair = render_units(D, W, H, units=[0, 3], length=6000)
    np.testing.assert_allclose(pair, each[0] + each[3], atol=1e-5)


def test_no_units_is_silence(rng: np.random.Generator) -> None:
    _, D, W, H = make(rng, (2,), n=3000)
    out = render_units(D, W, H, units=[], length=3000)
    assert out.shape == (2, 3000) and not out.any()


def test_identity_edit_equals_no_edit(rng: np.random.Generator) -> None:
    _, D, W, H = make(rng, (2,), n=6000)
    plain = render_units(D, W, H, length=6000)
    same = render_units(D, W, H, edits={1: UnitEdit(), 2: UnitEdit(shift_frames=0)}, length=6000)
    np.testing.assert_array_equal(plain, same)


def test_edits_of_units_not_rendered_are_ignored(rng: np.random.Generator) -> None:
    _, D, W, H = make(rng, (), n=4000)
    a = render_units(D, W, H, units=[0], length=4000)
    b = render_units(D, W, H, units=[0], edits={2: UnitEdit(gain_db=12.0)}, length=4000)
    np.testing.assert_array_equal(a, b)


def test_component_swap_changes_the_signal_and_keeps_length(rng: np.random.Generator) -> None:
    _, D, W, H = make(rng, (2,), n=6000)
    comp = np.zeros(W.shape[-2], np.float32)
    comp[600:700] = 1.0
    comp /= comp.sum()
    plain = render_units(D, W, H, units=[1], length=6000)
    swapped = render_units(D, W, H, units=[1], edits={1: UnitEdit(component=comp)}, length=6000)
    assert swapped.shape == plain.shape == (2, 6000)
    assert np.all(np.isfinite(swapped))
    assert np.linalg.norm(swapped - plain) > 0.1 * np.linalg.norm(plain)
    # The new unit's energy sits where the new component is (bins 600-700 of 1025).
    spec = np.abs(stft(swapped[0]))
    band = spec[600:700].sum()
    assert band > 0.9 * spec.sum()


def test_swap_with_own_component_matches_mask_where_model_fits(rng: np.random.Generator) -> None:
    # With |D| = W H exactly the detail ratio is 1, so rebuilding a unit with its own
    # component gives the same spectrum as its mask.
    n_bins, n_frames, k = 1025, 12, 3
    W = rng.random((n_bins, k)).astype(np.float32) + 0.1
    H = rng.random((k, n_frames)).astype(np.float32) + 0.1
    phase = np.exp(1j * rng.uniform(0, 2 * np.pi, (n_bins, n_frames)))
    D = ((W @ H) * phase).astype(np.complex64)
    length = 11 * 512
    own = W[:, 1] / W[:, 1].sum()
    a = render_units(D, W, H, units=[1], length=length)
    b = render_units(D, W, H, units=[1], edits={1: UnitEdit(component=own)}, length=length)
    np.testing.assert_allclose(b, a, atol=1e-4 * float(np.abs(a).max()))


def test_detail_ratio_is_clipped_at_r_max(rng: np.random.Generator) -> None:
    _, D, W, H = make(rng, (), n=4000)
    m = units_mod._Model(D, W, H, None)
    detail = m.detail.numpy()[0]
    ratio = np.abs(D) * detail
    assert ratio.max() <= R_MAX * (1 + 1e-5)
    WH = W @ H
    fits = (np.abs(D) / np.maximum(WH, 1e-30) < R_MAX * 0.99) & (WH > 1e-3)
    np.testing.assert_allclose(ratio[fits], (np.abs(D) / np.maximum(WH, 1e-30))[fits], rtol=1e-4)
    assert np.allclose(ratio[150], np.minimum(R_MAX, ratio[150]))  # model zero: capped


def test_reverse_twice_is_identity(rng: np.random.Generator) -> None:
    _, D, W, H = make(rng, (2,), n=5000)
    plain = render_units(D, W, H, units=[0, 2], length=5000)
    rev = render_units(D, W, H, units=[0, 2], edits={0: UnitEdit(reverse=True)}, length=5000)
    each = render_each(D, W, H, length=5000)
    np.testing.assert_allclose(rev, each[0][..., ::-1] + each[2], atol=1e-5)
    both = render_units(
        D,
        W,
        H,
        units=[0, 2],
        edits={0: UnitEdit(reverse=True), 2: UnitEdit(reverse=True)},
        length=5000,
    )
    np.testing.assert_allclose(both[..., ::-1], plain, atol=1e-5)


@pytest.mark.parametrize("stretch", [0.125, 0.5, 1.5, 2.0, 8.0])
def test_stretch_keeps_length(rng: np.random.Generator, stretch: float) -> None:
    _, D, W, H = make(rng, (2,), n=7000)
    plain = render_units(D, W, H, units=[3], length=7000)
    out = render_units(D, W, H, units=[3], edits={3: UnitEdit(stretch=stretch)}, length=7000)
    assert out.shape == (2, 7000) and np.all(np.isfinite(out))
    assert not np.allclose(out, plain, atol=1e-3)


def test_warp_rolls_crops_and_tiles() -> None:
    h = torch.arange(8, dtype=torch.float32).unsqueeze(0)
    rolled = units_mod._warp(h, stretch=1.0, shift=3)
    np.testing.assert_array_equal(rolled.numpy(), np.roll(h.numpy(), 3, axis=-1))
    slow = units_mod._warp(h, stretch=2.0, shift=0)  # first half, twice as slow
    np.testing.assert_allclose(slow.numpy()[0], [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5])
    fast = units_mod._warp(h, stretch=0.5, shift=0)  # every other frame, tiled twice
    np.testing.assert_allclose(fast.numpy()[0], [0, 2, 4, 6, 0, 2, 4, 6])


def test_shift_by_whole_loop_is_exact(rng: np.random.Generator) -> None:
    _, D, W, H = make(rng, (), n=4000)
    n_frames = D.shape[-1]
    a = render_units(D, W, H, units=[1], length=4000)
    b = render_units(D, W, H, units=[1], edits={1: UnitEdit(shift_frames=n_frames)}, length=4000)
    np.testing.assert_array_equal(a, b)
    c = render_units(D, W, H, units=[1], edits={1: UnitEdit(shift_frames=2)}, length=4000)
    assert not np.allclose(a, c, atol=1e-4)


def test_gain_6db_doubles_amplitude(rng: np.random.Generator) -> None:
    _, D, W, H = make(rng, (2,), n=5000)
    a = render_units(D, W, H, units=[2], length=5000)
    b = render_units(D, W, H, units=[2], edits={2: UnitEdit(gain_db=6.0)}, length=5000)
    np.testing.assert_allclose(b, a * 10 ** (6 / 20), rtol=1e-4, atol=1e-6)
    assert 1.99 < np.abs(b).max() / np.abs(a).max() < 2.0


def test_validation(rng: np.random.Generator) -> None:
    _, D, W, H = make(rng, (2,), n=3000)
    L = 3000
    bad_comp = np.ones(513, np.float32)
    cases: list[tuple[dict[str, object], str]] = [
        ({"units": [4]}, r"units\[0\]=4 must be in \[0, 3\]"),
        ({"units": [-1]}, r"units\[0\]=-1 must be in \[0, 3\]"),
        ({"units": 3}, r"units must be a sequence"),
        ({"edits": {5: UnitEdit()}}, r"edits key=5 must be in \[0, 3\]"),
        ({"edits": {0: UnitEdit(component=bad_comp)}}, r"component has shape \(513,\); .* 1025"),
        ({"edits": {0: UnitEdit(component=np.zeros(1025))}}, r"must not be all zeros"),
        ({"edits": {0: UnitEdit(component=-np.ones(1025))}}, r"component must be non-negative"),
        ({"edits": {0: UnitEdit(stretch=0.1)}}, r"stretch=0.1 must be in \[0.125, 8\]"),
        ({"edits": {0: UnitEdit(stretch=9.0)}}, r"stretch=9 must be in \[0.125, 8\]"),
        ({"edits": {0: UnitEdit(gain_db=30.0)}}, r"gain_db=30 must be in \[-120, 24\]"),
        ({"edits": {0: 2.0}}, r"edits\[0\] must be a UnitEdit"),
        ({"hop_length": 0}, r"hop_length=0 must be in"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ParameterError, match=message):
            render_units(D, W, H, length=kwargs.pop("length", L), **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match=r"length=0 must be in"):
        render_units(D, W, H, length=0)


def test_shape_validation(rng: np.random.Generator) -> None:
    _, D, W, H = make(rng, (2,), n=3000)
    with pytest.raises(ParameterError, match="W has 1024 bins; D has 1025"):
        unit_spectra(D, W[..., 1:, :], H)
    with pytest.raises(ParameterError, match="H has 5 frames; D has 6"):
        unit_spectra(D, W, H[..., 1:])
    with pytest.raises(ParameterError, match="W has 4 components but H has 3"):
        unit_spectra(D, W, H[..., 1:, :])
    with pytest.raises(ParameterError, match=r"W has leading shape \(3,\); D's is \(2,\)"):
        unit_spectra(D, np.concatenate([W, W[:1]]), H)
    with pytest.raises(ParameterError, match="H must be non-negative"):
        render_each(D, W, -H, length=3000)
    with pytest.raises(ParameterError, match="shape"):
        render_each(np.zeros(5, np.complex64), W, H, length=3000)
