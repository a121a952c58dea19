"""Separation grids: specs, presets, validation, the streaming runner, the CLI entry."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from residue.config import Settings
from residue.dsp import separation as sep
from residue.dsp import spectral
from residue.dsp.progress import CancelToken
from residue.errors import LimitExceeded, ModelUnavailableError, ParameterError
from residue.models import demucs
from residue.services import separation as grid
from residue.services.separation import GridRun, GridSpec, Sweep

SR = 22050


@pytest.fixture
def mix(rng: np.random.Generator) -> np.ndarray:
    n = SR + SR // 2
    t = np.arange(n) / SR
    left = 0.3 * np.sin(2 * np.pi * 90 * t) + 0.2 * np.sin(2 * np.pi * 880 * t)
    left[SR // 8 :: SR // 4] += 0.8
    left += 0.01 * rng.standard_normal(n)
    return np.stack([left, 0.9 * left]).astype(np.float32)


def spec(*sweeps: Sweep) -> GridSpec:
    return GridSpec("test", sweeps)


def sweep(backend: str, stems: tuple[str, ...], **params: object) -> Sweep:
    values = {k: tuple(v) if isinstance(v, list) else (v,) for k, v in params.items()}
    return Sweep(backend, values, stems)


SMALL = spec(
    sweep("bands", ("low", "high", "drums")),
    sweep("hpss", ("drums", "vocals"), kernel=[9, 17]),
)


# -- specs and presets ---------------------------------------------------------------------------


def test_quick_preset_is_weightless_and_small() -> None:
    cells = grid.expand(grid.preset("quick"))
    assert 12 <= len(cells) <= 24
    assert {c.backend for c in cells} == set(sep.BACKENDS)
    assert len({c.cell_id for c in cells}) == len(cells)
    assert {c.stem for c in cells} == set(grid.PRESET_STEMS)


def test_deep_preset_adds_every_available_model() -> None:
    fake = [
        demucs.ModelInfo("htdemucs", True, None, demucs.FOUR_STEMS, ("a.th",)),
        demucs.ModelInfo("htdemucs_6s", True, None, demucs.SIX_STEMS, ("b.th",)),
        demucs.ModelInfo("mdx_extra", False, "absent", demucs.FOUR_STEMS, ("c.th",)),
    ]
    weightless = grid.expand(grid.preset("deep"))
    deep = grid.expand(grid.preset("deep", models=fake), models=fake)
    models = [c for c in deep if c.backend == grid.DEMUCS]
    assert len(models) == len(grid.DEMUCS_SETTINGS) * (4 + 6)
    assert {c.params["model"] for c in models} == {"htdemucs", "htdemucs_6s"}
    assert len(deep) == len(weightless) + len(models) <= grid.DEFAULT_MAX_CELLS


def test_cells_are_the_product_of_ranges_and_stems() -> None:
    cells = grid.expand(SMALL)
    assert len(cells) == 3 + 2 * 2
    hpss = [c for c in cells if c.backend == "hpss"]
    assert [c.params["kernel"] for c in hpss] == [9, 9, 17, 17]
    assert hpss[0].setting == "hpss kernel=9" and hpss[0].params["margin"] == 1.0
    assert cells[0].setting == "bands"


def test_duplicates_are_dropped() -> None:
    cells = grid.expand(spec(sweep("bands", ("low",)), sweep("bands", ("low",), low_hz=200.0)))
    assert len(cells) == 1


def test_count_cells_counts_before_dropping_duplicates() -> None:
    # The limit is checked on this count (the page's editor mirrors it): stems x every list.
    twice = spec(sweep("hpss", ("drums", "bass"), margin=[2.0, 2.0], kernel=[9, 17, 31]),
                 sweep("bands", ("low",)))
    assert grid.count_cells(twice) == 2 * 2 * 3 + 1
    assert len(grid.expand(twice)) == 2 * 3 + 1
    with pytest.raises(LimitExceeded, match="13 cells; the limit is 12"):
        grid.expand(twice, max_cells=12)


def test_json_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "g.json"
    path.write_text(json.dumps(SMALL.to_json()))
    again = grid.resolve_grid(path)
    assert [c.group_key + c.stem for c in grid.expand(again)] == [
        c.group_key + c.stem for c in grid.expand(SMALL)
    ]
    assert grid.resolve_grid("quick").name == "quick"
    assert grid.resolve_grid({"sweeps": [{"backend": "bands", "stems": "low"}]}).sweeps[
        0
    ].stems == ("low",)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (spec(), "the grid has no sweeps"),
        (spec(sweep("spleeter", ("vocals",))), r"sweep 1: backend='spleeter' must be one of"),
        (spec(sweep("bands", ("low", "kazoo"))), r"sweep 1 \(bands\): stem='kazoo' must be one"),
        (spec(sweep("bands", ())), r"stems must name at least one stem"),
        (spec(sweep("hpss", ("drums",), width=3)), r"sweep 1: hpss has no parameter 'width'"),
        (spec(sweep("hpss", ("drums",), margin=[1.0, 99.0])), r"margin=99 must be in \[1, 16\]"),
        (spec(sweep("hpss", ("drums",), margin=[])), r"margin has an empty list of values"),
        (spec(sweep("bands", ("low",), low_hz=5000.0)), r"low_hz=5000 must be in"),
        (spec(sweep("demucs", ("vocals",), shifts=1)), r"sweep 1 \(demucs\): params must name a"),
        (spec(sweep("demucs", ("vocals",), model="umx")), r"model='umx' is not a demucs model"),
        (spec(sweep("demucs", ("vocals",), model="demucs_unittest", shifts=50)), r"shifts=50"),
    ],
)
def test_validation(bad: GridSpec, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        grid.expand(bad, models=demucs.list_models(None))


def test_too_many_cells() -> None:
    big = spec(sweep("hpss", grid.PRESET_STEMS, margin=[1.0, 2.0, 3.0], kernel=[9, 17, 31]))
    with pytest.raises(LimitExceeded, match="the grid has 36 cells; the limit is 20"):
        grid.expand(big, max_cells=20)


def test_unavailable_model_says_where_to_put_it() -> None:
    with pytest.raises(ModelUnavailableError, match=r"sweep 1 \(demucs\): htdemucs is not install"):
        grid.expand(
            spec(sweep("demucs", ("vocals",), model="htdemucs")), models=demucs.list_models(None)
        )


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ([1, 2], "must be a JSON object"),
        ({"sweeps": [], "colour": "red"}, "a grid has no field 'colour'"),
        ({"format": "other", "sweeps": []}, "format='other' must be 'residue-grid'"),
        ({"name": "x"}, "a grid needs a 'sweeps' list"),
        ({"sweeps": ["hpss"]}, "sweep 1 must be an object"),
        ({"sweeps": [{"backend": "hpss", "knobs": {}}]}, "sweep 1 has no field 'knobs'"),
        ({"sweeps": [{"params": {}}]}, "sweep 1 needs a backend name"),
        ({"sweeps": [{"backend": "hpss", "params": [1]}]}, r"params must be an object"),
        ({"sweeps": [{"backend": "hpss", "params": {"margin": {"a": 1}}}]}, "numbers or strings"),
        ({"sweeps": [{"backend": "hpss", "stems": [1]}]}, "stems must be a list of stem names"),
    ],
)
def test_grid_file_structure(data: object, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        grid.grid_from_json(data)


def test_grid_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ParameterError, match="is not valid JSON"):
        grid.resolve_grid(bad)
    with pytest.raises(ParameterError, match=r"grid='nope' must be one of \['quick', 'deep'\]"):
        grid.resolve_grid("nope")


# -- running -------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["mono", "stereo"])
def test_grid_results_match_direct_calls(mix: np.ndarray, layout: str) -> None:
    y = mix[0] if layout == "mono" else mix
    results = list(GridRun(SMALL, y, SR, source="song.wav").results())
    assert [r.status for r in results] == ["done"] * 7
    assert sorted(r.cell.index for r in results) == list(range(7))
    D = spectral.stft(y)
    for r in results:
        assert r.estimate is not None and r.residual is not None and r.hints is not None
        direct = sep.separate_stems(
            D,
            sr=SR,
            backend=r.cell.backend,
            stems=[r.cell.stem],
            length=y.shape[-1],
            params=r.cell.params,
        )[r.cell.stem].estimate
        np.testing.assert_allclose(r.estimate, direct, atol=1e-6)
        np.testing.assert_allclose(r.estimate + r.residual, y, atol=1e-6)
        assert r.residual_hints is not None and 0.0 <= r.hints.bleed <= 1.0
        prov = r.provenance
        assert prov["source"] == "song.wav" and prov["stem"] == r.cell.stem
        assert prov["backend"] == r.cell.backend and prov["params"] == dict(r.cell.params)
        assert prov["n_fft"] == spectral.N_FFT and prov["sr"] == SR
        json.dumps(r.summary())


def test_a_spilled_stft_gives_the_same_results(
    mix: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory = [r.estimate for r in GridRun(SMALL, mix, SR, source="s").results()]
    monkeypatch.setattr(grid, "SPILL_BYTES", 0)
    store = grid.SpilledSTFT(mix)
    np.testing.assert_allclose(store.frames(3, 40), spectral.stft(mix)[..., 3:40], atol=1e-4)
    store.close()
    spilled = [r.estimate for r in GridRun(SMALL, mix, SR, source="s").results()]
    for a, b in zip(memory, spilled, strict=True):
        assert a is not None and b is not None
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_results_stream_before_later_cells_run(mix: np.ndarray) -> None:
    stages: list[str] = []
    gen = GridRun(SMALL, mix, SR, source="s").results(lambda f, s: stages.append(s))
    first = next(gen)
    assert first.cell.backend == "bands" and first.status == "done"
    assert not any("hpss" in s for s in stages)  # the hpss cells have not started
    rest = list(gen)
    assert len(rest) == 6 and any("hpss" in s for s in stages)


def test_a_failing_cell_does_not_lose_the_others(mix: np.ndarray, tmp_path: Path) -> None:
    (tmp_path / "broken.th").write_bytes(b"garbage")
    g = spec(
        sweep("bands", ("low",)),
        sweep("bands", ("high",), high_hz=15000.0),  # above Nyquist at 22050 Hz: fails at run
        sweep("demucs", ("vocals", "drums"), model="broken"),
        sweep("hpss", ("drums",)),
    )
    results = {
        r.cell.stem + r.cell.setting: r
        for r in GridRun(g, mix, SR, source="s", models_dir=tmp_path).results()
    }
    assert results["lowbands"].status == "done" and results["drumshpss"].status == "done"
    failed = results["highbands high_hz=15000"]
    assert failed.status == "failed" and failed.error_code == "bad_parameter"
    assert "Nyquist" in (failed.error or "") and failed.estimate is None
    for stem in ("vocals", "drums"):
        bad = results[stem + "broken"]
        assert bad.status == "failed" and bad.error_code == "model_unavailable"
        assert "corrupt or incomplete" in (bad.error or "")


def test_an_unexpected_error_fails_its_cells_only(
    mix: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = sep.separate_stems

    def flaky(D: np.ndarray, **kwargs: object) -> dict[str, sep.Separation]:
        if kwargs["backend"] == "hpss":
            raise RuntimeError("boom")
        return real(D, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sep, "separate_stems", flaky)
    results = list(GridRun(SMALL, mix, SR, source="s").results())
    by_backend = {r.cell.backend: r for r in results}
    assert by_backend["bands"].status == "done"
    assert by_backend["hpss"].status == "failed" and by_backend["hpss"].error_code == "internal"
    assert "boom" in (by_backend["hpss"].error or "")


def test_cancel_one_cell_before_and_during_the_grid(mix: np.ndarray) -> None:
    run = GridRun(SMALL, mix, SR, source="s")
    ids = {(c.setting, c.stem): c.cell_id for c in run.cells}
    run.cancel_cell(ids[("bands", "high")])
    target = ids[("hpss kernel=17", "vocals")]

    def on_cell(cell_id: str, fraction: float) -> None:
        if cell_id == target:
            run.cancel_cell(cell_id)  # while its group is running

    statuses = {r.cell.cell_id: r.status for r in run.results(on_cell_progress=on_cell)}
    assert statuses[ids[("bands", "high")]] == "cancelled"
    assert statuses[target] == "cancelled"
    assert statuses[ids[("hpss kernel=17", "drums")]] == "done"  # its group went on
    assert sum(s == "done" for s in statuses.values()) == 5


def test_cancelling_every_cell_of_a_group_stops_it(mix: np.ndarray) -> None:
    run = GridRun(spec(sweep("nmf", ("bass", "drums"), n_components=4)), mix, SR, source="s")

    def on_cell(cell_id: str, fraction: float) -> None:
        run.cancel_cell(cell_id)

    statuses = [r.status for r in run.results(on_cell_progress=on_cell)]
    assert statuses == ["cancelled", "cancelled"]


def test_cancel_the_whole_grid_keeps_finished_cells(mix: np.ndarray) -> None:
    run = GridRun(SMALL, mix, SR, source="s")
    token = CancelToken()
    seen: list[grid.CellResult] = []

    def on_result(r: grid.CellResult) -> None:
        seen.append(r)
        if len(seen) == 2:
            token.cancel()

    summary = run.run(cancel=token, on_result=on_result)
    assert summary.cancelled
    assert [c["status"] for c in summary.cells][:3] == ["done", "done", "done"]  # bands group
    assert summary.counts == {"done": 3, "failed": 0, "cancelled": 4}
    assert len(seen) == 7
    run2 = GridRun(SMALL, mix, SR, source="s")
    run2.cancel()
    assert GridRun.run(run2).counts["cancelled"] == 7


def test_unknown_cell_cannot_be_cancelled(mix: np.ndarray) -> None:
    with pytest.raises(ParameterError, match="the grid has no cell 'c999'"):
        GridRun(SMALL, mix, SR, source="s").cancel_cell("c999")


def test_demucs_cells_share_one_model_load_and_one_pass(
    mix: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[str] = []
    passes: list[int] = []
    real_load, real_sep = demucs.load, demucs.separate

    def counting_load(name: str, **kw: object) -> demucs.LoadedModel:
        loads.append(name)
        return real_load(name, **kw)  # type: ignore[arg-type]

    def counting_sep(*a: object, **kw: object) -> dict[str, np.ndarray]:
        passes.append(1)
        return real_sep(*a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(demucs, "load", counting_load)
    monkeypatch.setattr(demucs, "separate", counting_sep)
    y = mix[:, : SR // 4]
    g = spec(
        sweep(
            "demucs",
            ("vocals", "residual", "harmonic"),
            model="demucs_unittest",
            shifts=0,
            overlap=[0.1, 0.25],
        )
    )
    results = list(GridRun(g, y, SR, source="s").results())
    assert [r.status for r in results] == ["done"] * 6
    assert loads == ["demucs_unittest"] and len(passes) == 2
    assert results[0].provenance["params"]["model"] == "demucs_unittest"  # type: ignore[index]


def test_too_long_a_mix_is_refused(mix: np.ndarray) -> None:
    with pytest.raises(LimitExceeded, match="the limit is 0 min"):
        GridRun(SMALL, mix, SR, source="long.wav", max_duration_s=1.0)


def test_catalog_is_json(tmp_path: Path) -> None:
    cat = grid.catalog(models_dir=tmp_path)
    text = json.dumps(cat)
    backends = cat["backends"]
    assert isinstance(backends, dict) and set(backends) == set(grid.GRID_BACKENDS)
    assert "htdemucs" in text


def test_cli_entry_writes_every_cell_and_a_manifest(mix: np.ndarray, tmp_path: Path) -> None:
    song = tmp_path / "song.wav"
    mix = 0.5 * mix  # under full scale, so no file is rescaled on writing
    sf.write(song, mix.T, SR, subtype="FLOAT")
    grid_file = tmp_path / "grid.json"
    grid_file.write_text(
        json.dumps(
            {
                "name": "mine",
                "sweeps": [
                    {"backend": "bands", "stems": ["low", "mid", "high"]},
                    {"backend": "bands", "params": {"high_hz": 15000}, "stems": ["high"]},
                ],
            }
        )
    )
    stages: list[float] = []
    out = tmp_path / "out"
    manifest_path = grid.run_separate_cli(
        song,
        grid_file,
        out,
        lambda f, s: stages.append(f),
        settings=Settings(data_dir=tmp_path / "data"),
    )
    manifest = json.loads(manifest_path.read_text())
    assert manifest["complete"] and manifest["sr"] == SR and manifest["grid"]["name"] == "mine"
    cells = manifest["cells"]
    assert [c["status"] for c in cells] == ["done", "done", "done", "failed"]
    for c in cells[:3]:
        info = sf.info(out / c["file"])
        assert info.samplerate == SR and info.channels == 2 and info.subtype == "PCM_24"
        assert (out / c["residual_file"]).is_file()
        assert c["hints"]["loudness_method"] == "lufs" and c["provenance"]["source"] == "song.wav"
    assert "file" not in cells[3] and "Nyquist" in cells[3]["error"]
    assert stages[-1] == 1.0
    parts = [sf.read(out / c["file"], dtype="float32")[0] for c in cells[:3]]
    np.testing.assert_allclose(sum(parts), mix.T, atol=1e-4)  # the bands sum to the mix
