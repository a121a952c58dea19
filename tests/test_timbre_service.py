from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from timbre_models import TINY, tiny_model

from residue.config import Settings
from residue.dsp import compose
from residue.dsp.compose import SongSettings
from residue.dsp.demo import demo_loops
from residue.errors import ModelUnavailableError, NotFound, ParameterError, UnsupportedError
from residue.models import vae
from residue.services import timbre as ts
from residue.services.context import Context

SR = 44100


@pytest.fixture(scope="module")
def model() -> vae.TimbreModel:
    return tiny_model()


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Context]:
    c = Context.open(Settings(data_dir=tmp_path / "data"))
    yield c
    c.close()


@pytest.fixture
def with_model(ctx: Context, model: vae.TimbreModel) -> str:
    ts.save_model(ctx.settings, model)
    return model.model_id


@pytest.fixture(scope="module")
def loops() -> dict[str, np.ndarray]:
    return demo_loops(bars=2)


def song_settings(**kw: object) -> SongSettings:
    base: dict[str, object] = {"seed": 1, "minutes": 0.1, "fade_s": 1.0, "n_candidates": 32}
    base.update(kw)
    return SongSettings(**base)  # type: ignore[arg-type]


# -- models ----------------------------------------------------------------------------------


def test_default_model_is_trained_once_and_cached(
    ctx: Context, model: vae.TimbreModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    def fake_train_default(**kw: object) -> vae.TrainResult:
        calls.append(1)
        return vae.TrainResult(model, model.loss, model.loss, model.loss, 0.0)

    monkeypatch.setattr(vae, "train_default", fake_train_default)
    assert ts.default_model_id(ctx.settings) is None
    first = ts.ensure_default_model(ctx.settings)
    again = ts.get_model(ctx.settings)
    assert first.model_id == again.model_id == model.model_id and calls == [1]
    pointer = ts.models_folder(ctx.settings) / "default.json"
    assert json.loads(pointer.read_text())["model_id"] == model.model_id
    assert [m.is_default for m in ts.list_models(ctx.settings)] == [True]
    # A pointer from another format version means: train a new default.
    pointer.write_text(json.dumps({"model_id": model.model_id, "format_version": 0}))
    ts.ensure_default_model(ctx.settings)
    assert calls == [1, 1]


def test_models_by_id(ctx: Context, with_model: str) -> None:
    assert ts.get_model(ctx.settings, with_model).model_id == with_model
    with pytest.raises(NotFound, match="no timbre model"):
        ts.get_model(ctx.settings, "0123456789abcdef")
    path = ts.models_folder(ctx.settings) / "feedfacefeedface.pt"
    path.write_bytes(b"garbage")
    with pytest.raises(ModelUnavailableError, match="not a readable timbre model"):
        ts.get_model(ctx.settings, "feedfacefeedface")
    assert [m.model_id for m in ts.list_models(ctx.settings)] == [with_model]


# -- training sets and training ----------------------------------------------------------------


def test_training_set_flags_and_trains(
    ctx: Context, loops: dict[str, np.ndarray], with_model: str
) -> None:
    pad = ctx.store.sounds.add(np.tile(loops["pad"], 2), sr=SR, name="pad", origin="demo")
    drums = ctx.store.sounds.add(loops["drums"], sr=SR, name="drums", origin="demo")
    info = ts.build_training_set(ctx, sound_ids=[pad.sound_id, drums.sound_id], hop_s=2.0)
    assert info.n_clips == 4 + 2 and info.n_usable == 4
    data = ts.load_training_set(ctx, info.set_id)
    assert data.flagged.tolist() == [False] * 4 + [True] * 2
    assert [s["name"] for s in info.provenance["sounds"]] == ["pad", "drums"]
    y, clip_sr = ts.training_clip_audio(ctx, info.set_id, 5)
    assert clip_sr == SR
    np.testing.assert_array_equal(y, loops["drums"][:, 2 * SR : 4 * SR])
    assert [s.set_id for s in ts.list_training_sets(ctx)] == [info.set_id]

    # Keep a flagged drum clip, reject a pad clip: the model trains on 4 - 1 + 1 clips.
    ts.decide(ctx, "clip", data.clip_id(4), "keep")
    ts.decide(ctx, "clip", data.clip_id(0), "reject")
    curve: list[float] = []
    info_m = ts.train_model(ctx, info.set_id, epochs=2, batch_size=4, config=TINY,
                            on_epoch=lambda e, r, k: curve.append(r))
    assert len(curve) == 2 and len(info_m.loss) == 2
    trained = ts.get_model(ctx.settings, info_m.model_id)
    assert trained.provenance["training_set"]["n_used"] == 4
    assert trained.anchor_labels[-1] == "drums @ 0.0 s"

    tmap = ts.timbre_map(ctx, model_id=info_m.model_id, set_id=info.set_id)
    kinds = [p.kind for p in tmap.points]
    assert kinds.count("clip") == 6 and kinds.count("anchor") == 4
    assert [p.flagged for p in tmap.points if p.kind == "clip"] == [False] * 4 + [True] * 2


def test_training_set_errors(ctx: Context) -> None:
    short = ctx.store.sounds.add(np.zeros((1, SR // 2), np.float32), sr=SR, name="s", origin="demo")
    with pytest.raises(ParameterError, match="no sound gave a clip"):
        ts.build_training_set(ctx, sound_ids=[short.sound_id])
    with pytest.raises(NotFound):
        ts.load_training_set(ctx, "abcdef")
    with pytest.raises(NotFound):
        ts.build_training_set(ctx, sound_ids=["nope"])


# -- the map ---------------------------------------------------------------------------------


def test_map_holds_components_and_clicks_round_trip(
    ctx: Context, with_model: str, model: vae.TimbreModel
) -> None:
    rng = np.random.default_rng(0)
    for i in range(3):
        w = rng.random(1025).astype(np.float32)
        ctx.store.library.add(w, sr=SR, n_fft=2048, name=f"c{i}", provenance={},
                              descriptor=np.zeros(16, np.float32),
                              curve=np.zeros(256, np.float32))
    tmap = ts.timbre_map(ctx, model_id=with_model)
    comps = [p for p in tmap.points if p.kind == "component"]
    assert len(comps) == 3 and len(tmap.points) == 3 + model.anchors.shape[0]
    xy = np.array([[p.x, p.y] for p in tmap.points])
    np.testing.assert_allclose(tmap.projection.project(tmap.latents), xy, atol=1e-4)
    z = tmap.latent_at(0.3, -0.2)
    assert z.shape == (6,)
    np.testing.assert_allclose(tmap.projection.project(z[None])[0], [0.3, -0.2], atol=1e-5)
    # the map fills its canvas both ways: unit spread along each axis
    np.testing.assert_allclose(xy.std(axis=0), [1.0, 1.0], rtol=1e-3)
    again = ts.timbre_map(ctx, model_id=with_model)
    assert again.points == tmap.points  # deterministic
    with pytest.raises(ParameterError, match="method"):
        ts.timbre_map(ctx, model_id=with_model, method="tsne")


def test_umap_is_optional(ctx: Context, with_model: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_umap(name: str, *args: object, **kw: object) -> object:
        if name == "umap":
            raise ImportError("no umap")
        return real_import(name, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_umap)
    with pytest.raises(UnsupportedError, match="umap-learn"):
        ts.timbre_map(ctx, model_id=with_model, method="umap")


def test_hover_preview(ctx: Context, with_model: str) -> None:
    y = ts.preview_latent(ctx, np.zeros(6, np.float32), model_id=with_model, seconds=0.5)
    assert y.shape == (2, SR // 2) and y.dtype == np.float32
    rms = 20 * np.log10(np.sqrt(np.mean(y.astype(np.float64) ** 2)))
    assert rms == pytest.approx(-20.0, abs=0.1)
    with pytest.raises(ParameterError, match="this model's latent has 6 values"):
        ts.preview_latent(ctx, np.zeros(32, np.float32), model_id=with_model)
    with pytest.raises(ParameterError, match="seconds"):
        ts.preview_latent(ctx, np.zeros(6, np.float32), model_id=with_model, seconds=100.0)


# -- songs, albums, decisions, export -------------------------------------------------------


def test_song_stored_and_rebuilt_bit_for_bit(ctx: Context, with_model: str) -> None:
    record = ts.create_song(ctx, song_settings(ambience="rain"), model_id=with_model)
    assert record.audio_path.is_file() and record.duration_s == pytest.approx(6.0)
    assert record.name == compose.song_name(1) and record.model_id == with_model
    assert record.thumbnail.shape == (64, 160) and record.thumbnail.max() > 100
    assert record.settings == song_settings(ambience="rain")
    y1, sr = ts.load_song_audio(ctx, record.song_id)
    assert sr == SR and y1.shape == (2, 6 * SR)
    record.audio_path.unlink()
    y2, _ = ts.load_song_audio(ctx, record.song_id)
    np.testing.assert_array_equal(y1, y2)
    ts.delete_song(ctx, record.song_id)
    with pytest.raises(NotFound):
        ts.get_song(ctx, record.song_id)


def test_album_job(ctx: Context, with_model: str) -> None:
    made: list[ts.SongRecord] = []
    fractions: list[float] = []
    album = ts.generate_album(ctx, 3, song_settings(seed=7), model_id=with_model,
                              on_song=made.append, progress=lambda f, s: fractions.append(f))
    assert album.n_songs == 3 and [s.position for s in made] == [1, 2, 3]
    assert len({s.name for s in made}) == 3
    assert [s.seed for s in made] == compose.album_seeds(7, 3)
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert [s.song_id for s in ts.list_songs(ctx, album_id=album.album_id)] == [
        s.song_id for s in made
    ]
    assert ts.list_albums(ctx)[0].album_id == album.album_id


@pytest.mark.parametrize("n", [0, -1, 100_000, 501])
def test_album_size_is_checked(ctx: Context, with_model: str, n: int) -> None:
    with pytest.raises(ParameterError, match=rf"n_songs={n} must be in \[1, 500\]"):
        ts.generate_album(ctx, n, song_settings(), model_id=with_model)
    with pytest.raises(ParameterError, match="n_songs"):
        ts.run_album_cli(n, Path("unused"))


def test_decisions_undo_and_kinds(ctx: Context, with_model: str) -> None:
    song = ts.create_song(ctx, song_settings(), model_id=with_model)
    ts.decide(ctx, "song", song.song_id, "keep")
    ts.decide(ctx, "cell", "grid1/c003", "reject")
    ts.decide(ctx, "song", song.song_id, "reject")  # changed mind
    assert ts.get_song(ctx, song.song_id).decision == "reject"
    last = ts.undo_last_decision(ctx, "song")
    assert last is not None and last.decision == "reject"
    assert ts.get_song(ctx, song.song_id).decision is None
    assert ts.undo_last_decision(ctx, "song") is None
    assert ts.decisions(ctx, "cell")["grid1/c003"].decision == "reject"
    assert ts.clear_decision(ctx, "cell", "grid1/c003") and not ts.decisions(ctx, "cell")
    with pytest.raises(ParameterError, match="kind"):
        ts.decide(ctx, "track", "x", "keep")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="decision"):
        ts.decide(ctx, "cell", "x", "maybe")  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        ts.decide(ctx, "song", "abcdef123456", "keep")


def test_export_kept_songs_loudness_matched(ctx: Context, with_model: str, tmp_path: Path) -> None:
    album = ts.generate_album(ctx, 3, song_settings(seed=11), model_id=with_model)
    songs = ts.list_songs(ctx, album_id=album.album_id)
    ts.decide(ctx, "song", songs[0].song_id, "keep")
    ts.decide(ctx, "song", songs[1].song_id, "reject")
    ts.decide(ctx, "song", songs[2].song_id, "keep")
    out = ts.export_album(ctx, tmp_path / "album", album_id=album.album_id, target_lufs=-20.0)
    assert [p.name for p in out.files] == [
        f"01 {songs[0].name}.flac", f"02 {songs[2].name}.flac"
    ]
    levels = []
    for path in out.files:
        y, sr = sf.read(str(path), dtype="float32", always_2d=True)
        levels.append(compose.integrated_loudness(y.T, sr=sr))
    assert levels == pytest.approx([out.loudness_lufs] * 2, abs=0.05)
    assert out.loudness_lufs <= -20.0
    text = out.tracklist.read_text()
    assert f" 1. {songs[0].name} (0:06)" in text and songs[1].name not in text
    wav = ts.export_album(ctx, tmp_path / "wav", song_ids=[songs[1].song_id], fmt="wav")
    assert wav.files[0].suffix == ".wav" and sf.info(str(wav.files[0])).subtype == "PCM_24"
    with pytest.raises(ParameterError, match="no songs to export"):
        ts.export_album(ctx, tmp_path / "none", song_ids=[])


def test_user_effect_sounds(ctx: Context, with_model: str, loops: dict[str, np.ndarray]) -> None:
    blip = ctx.store.sounds.add(np.zeros((2, 441), np.float32) + 0.1, sr=SR, name="blip",
                                origin="upload")
    with pytest.raises(ParameterError, match="'blip' lasts 10 ms; an ambience effect needs"):
        ts.create_song(ctx, song_settings(ambience="sounds", effects=(blip.sound_id,)),
                       model_id=with_model)
    pad = ctx.store.sounds.add(loops["pad"], sr=SR, name="pad", origin="demo")
    song = ts.create_song(ctx, song_settings(ambience="sounds", effects=(pad.sound_id,)),
                          model_id=with_model)
    assert song.loudness_lufs is not None and song.loudness_lufs > -16.5


def test_region_song_through_the_map(ctx: Context, with_model: str) -> None:
    tmap = ts.timbre_map(ctx, model_id=with_model)
    # a small region off to one side of the points, as a person would lasso it
    region = ((0.5, 0.5), (1.5, 0.5), (1.5, 1.5), (0.5, 1.5))
    s = song_settings(criterion="region", region=region, min_separation=0.0, n_candidates=400)
    plane = tmap.projection.plane()
    model = ts.get_model(ctx.settings, with_model)
    points = compose.choose_points(
        dataclasses.replace(s, plane=plane), decode=model.decode, latent_dim=6
    )
    assert compose.inside_polygon(plane.project(points), np.array(region)).all()

    record = ts.create_song(ctx, s, model_id=with_model)
    assert record.settings.criterion == "region" and record.settings.plane == plane
    # the recipe keeps the plane: the song is rebuilt bit for bit after the map has moved
    y1, _ = ts.load_song_audio(ctx, record.song_id)
    ctx.store.library.add(np.ones(1025, np.float32), sr=SR, n_fft=2048, name="moves the map",
                          provenance={}, descriptor=np.zeros(16, np.float32),
                          curve=np.zeros(256, np.float32))
    assert ts.timbre_map(ctx, model_id=with_model).projection.plane() != plane
    record.audio_path.unlink()
    y2, _ = ts.load_song_audio(ctx, record.song_id)
    np.testing.assert_array_equal(y1, y2)


def test_map_plane_of_another_model_is_refused() -> None:
    plane = compose.MapPlane(mean=(0.0,) * 4, axes=((1.0, 0, 0, 0), (0, 1.0, 0, 0)))
    s = song_settings(criterion="region", region=((0, 0), (1, 0), (0, 1)), plane=plane)
    with pytest.raises(ParameterError, match="4-d but the model's latents are 6-d"):
        compose.choose_points(s, decode=lambda z: z, latent_dim=6)
    with pytest.raises(ParameterError, match="plane shapes"):
        compose.MapPlane(mean=(0.0, 0.0), axes=((1.0,), (1.0,))).checked()
    with pytest.raises(ParameterError, match="plane must"):
        SongSettings.from_json({"plane": {"mean": "x"}})
    assert SongSettings.from_json(s.to_json()) == s


def test_nsynth_auditions(ctx: Context, with_model: str, loops: dict[str, np.ndarray]) -> None:
    a = ctx.store.sounds.add(loops["pad"], sr=SR, name="pad", origin="demo").sound_id
    b = ctx.store.sounds.add(loops["bass"], sr=SR, name="bass", origin="demo").sound_id
    seq = ts.encode_sound(ctx, a, model_id=with_model)
    assert seq.Z.shape == (40, 6)
    assert ts.audition_stretch(ctx, a, factor=0.5, model_id=with_model).shape == (2, 20 * 4410)
    assert ts.audition_blend(ctx, a, b, model_id=with_model).shape == (2, 40 * 4410)
    assert ts.audition_crossfade(ctx, a, b, crossfade_s=1.0, model_id=with_model).shape == (
        2, 70 * 4410
    )


def test_nmf_activation_stretch_audition(ctx: Context, loops: dict[str, np.ndarray]) -> None:
    from residue import protocol
    from residue.dsp.progress import CancelToken, no_progress
    from residue.services.decompose import decompose

    sound = ctx.store.sounds.add(loops["drums"][:, : 2 * SR], sr=SR, name="d", origin="demo")
    request = protocol.Decompose(request_id=1, sound_id=sound.sound_id, n_components=4, n_iter=20)
    opened, _ = decompose(ctx, request, progress=no_progress, cancel=CancelToken())
    y, sr = ts.audition_nmf_stretch(ctx, opened.record.decomposition_id, factor=2.0)
    assert sr == SR and y.shape[0] == 2 and abs(y.shape[1] - 4 * SR) < 2048
    with pytest.raises(ParameterError, match="factor"):
        ts.audition_nmf_stretch(ctx, opened.record.decomposition_id, factor=100.0)


# -- command line -----------------------------------------------------------------------------


@pytest.fixture
def quick_default(model: vae.TimbreModel, monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(**kw: object) -> vae.TrainResult:
        progress = kw.get("progress")
        if callable(progress):
            progress(0.5, "training")
        return vae.TrainResult(model, model.loss, model.loss, model.loss, 0.0)

    monkeypatch.setattr(vae, "train_default", fake)


def test_song_cli(tmp_path: Path, quick_default: None) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    stages: list[str] = []
    out = ts.run_song_cli(5, 0.1, tmp_path / "song.wav", settings,
                          lambda f, s: stages.append(s), song=song_settings())
    info = sf.info(str(out.path))
    assert info.samplerate == SR and info.channels == 2 and info.frames == 6 * SR
    assert out.name == compose.song_name(5) and any("default model" in s for s in stages)
    again = ts.run_song_cli(5, 0.1, tmp_path / "again.wav", settings, song=song_settings())
    a, _ = sf.read(str(out.path))
    b, _ = sf.read(str(again.path))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ParameterError, match=r"must end in \.wav or \.flac"):
        ts.run_song_cli(5, 0.1, tmp_path / "song.mp3", settings)
    with pytest.raises(ParameterError, match="minutes"):
        ts.run_song_cli(5, 0.0, tmp_path / "song.wav", settings)


def test_album_cli(tmp_path: Path, quick_default: None) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    out = ts.run_album_cli(2, tmp_path / "album", settings, song=song_settings(seed=2))
    assert len(out.files) == 2 and all(p.suffix == ".flac" for p in out.files)
    assert "1. " in out.tracklist.read_text()
    manifest = json.loads((tmp_path / "album" / "album.json").read_text())
    assert [t["seed"] for t in manifest["tracks"]] == compose.album_seeds(2, 2)


def test_song_and_album_commands_say_what_they_made(
    tmp_path: Path, quick_default: None, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from residue import cli

    monkeypatch.setenv("RESIDUE_DATA", str(tmp_path / "data"))
    song = tmp_path / "song.wav"
    assert cli.main(["song", "--seed", "3", "--minutes", "0.1", "--out", str(song)]) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"{song}: \u201c{compose.song_name(3)}\u201d, 0.1 min, sections ")
    assert "SongCliResult" not in said and song.is_file()
    assert cli.main(["album", "--songs", "2", "--minutes", "0.05", "--out",
                     str(tmp_path / "album")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{tmp_path / 'album'}: 2 songs and tracklist.txt")
    assert [line.strip()[:3] for line in lines[1:]] == ["01 ", "02 "]


def test_song_settings_json_for_the_page() -> None:
    s = dataclasses.replace(song_settings(), ambience="wind", wiggle_rate_hz=0.1)
    assert SongSettings.from_json(json.loads(json.dumps(s.to_json()))) == s


# -- sessions ---------------------------------------------------------------------------------


def test_sessions_see_only_their_songs_decisions_and_sets(
    ctx: Context, with_model: str, loops: dict[str, np.ndarray]
) -> None:
    other = ctx.scoped(ctx.store.sessions.create("other").session_id)
    pad = ctx.store.sounds.add(np.tile(loops["pad"], 2), sr=SR, name="pad", origin="demo")
    info = ts.build_training_set(ctx, sound_ids=[pad.sound_id], hop_s=2.0)
    song = ts.create_song(ctx, song_settings(minutes=0.05), model_id=with_model)
    album = ts.generate_album(ctx, 2, song_settings(minutes=0.05), model_id=with_model)
    ts.decide(ctx, "song", song.song_id, "keep")
    ts.decide(ctx, "cell", "r1", "keep")

    assert ts.list_songs(other) == [] and ts.list_albums(other) == []
    assert ts.decisions(other, "song") == {} and ts.decisions(other, "cell") == {}
    assert ts.list_training_sets(other) == []
    with pytest.raises(NotFound):
        ts.get_song(other, song.song_id)
    with pytest.raises(NotFound):
        ts.get_album(other, album.album_id)
    with pytest.raises(NotFound):
        ts.load_training_set(other, info.set_id)
    with pytest.raises(NotFound):
        ts.delete_song(other, song.song_id)
    with pytest.raises(NotFound):
        ts.decide(other, "song", song.song_id, "reject")
    assert ts.undo_last_decision(other, "song") is None
    # The same item id decided in both sessions: two decisions, each undone on its own.
    ts.decide(other, "cell", "r1", "reject")
    assert ts.decisions(ctx, "cell")["r1"].decision == "keep"
    assert ts.undo_last_decision(other, "cell") is not None
    assert ts.decisions(ctx, "cell")["r1"].decision == "keep"
    assert not ts.clear_decision(other, "cell", "r1")
    # The other session's own songs and sets are its own.
    mine = ts.create_song(other, song_settings(minutes=0.05, seed=3), model_id=with_model)
    assert [s.song_id for s in ts.list_songs(other)] == [mine.song_id]
    assert mine.song_id not in {s.song_id for s in ts.list_songs(ctx)}
    assert len(ts.list_songs(ctx)) == 3 and ts.get_song(ctx, song.song_id).decision == "keep"
    with pytest.raises(ParameterError, match="no songs to export"):
        ts.export_album(other, ctx.settings.data_dir / "x")  # nothing kept over there


def test_training_set_from_before_sessions_belongs_to_default(
    ctx: Context, loops: dict[str, np.ndarray]
) -> None:
    pad = ctx.store.sounds.add(np.tile(loops["pad"], 2), sr=SR, name="pad", origin="demo")
    info = ts.build_training_set(ctx, sound_ids=[pad.sound_id], hop_s=2.0)
    path = ts.sets_folder(ctx.settings) / f"{info.set_id}.json"
    meta = json.loads(path.read_text())
    assert meta["session_id"] == "default"
    del meta["session_id"]
    path.write_text(json.dumps(meta))
    assert [s.set_id for s in ts.list_training_sets(ctx)] == [info.set_id]
    other = ctx.scoped(ctx.store.sessions.create("other").session_id)
    assert ts.list_training_sets(other) == []
    with pytest.raises(NotFound):
        ts.load_training_set(other, info.set_id)


def test_album_delete_and_chosen_id(ctx: Context, with_model: str) -> None:
    album = ts.generate_album(ctx, 2, song_settings(minutes=0.05), model_id=with_model,
                              album_id="myalbum1")
    assert album.album_id == "myalbum1"
    songs = ts.list_songs(ctx, album_id="myalbum1")
    ts.decide(ctx, "song", songs[0].song_id, "keep")
    ts.delete_album(ctx, "myalbum1")
    assert ts.list_songs(ctx) == [] and ts.decisions(ctx, "song") == {}
    assert not songs[0].audio_path.exists()
    with pytest.raises(NotFound):
        ts.get_album(ctx, "myalbum1")


def test_migration_4_keeps_decisions_in_the_default_session(tmp_path: Path) -> None:
    import sqlite3

    from residue.store.db import MIGRATIONS, Database

    path = tmp_path / "old.db"
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.row_factory = sqlite3.Row
    raw = Database(conn, path=path)
    raw.migrate(MIGRATIONS[:3])
    raw.execute("INSERT INTO decisions (kind, item_id, decision, decided_at, seq)"
                " VALUES ('cell', 'r9', 'keep', 1.0, 1)")
    raw.execute("INSERT INTO albums (album_id, name, created_at, settings, model_id, n_songs)"
                " VALUES ('a1', 'old', 1.0, '{}', 'm', 0)")
    raw.close()
    with Database.open(path) as db4:
        assert db4.schema_version == len(MIGRATIONS) >= 4
        rows = [dict(r) for r in db4.query("SELECT * FROM decisions")]
        assert rows == [{"session_id": "default", "kind": "cell", "item_id": "r9",
                         "decision": "keep", "decided_at": 1.0, "seq": 1}]
        album = db4.query_one("SELECT session_id FROM albums WHERE album_id = 'a1'")
        assert album is not None and album["session_id"] == "default"
        db4.execute("INSERT INTO decisions (session_id, kind, item_id, decision, decided_at, seq)"
                    " VALUES ('s2', 'cell', 'r9', 'reject', 2.0, 1)")
        assert len(db4.query("SELECT * FROM decisions")) == 2
