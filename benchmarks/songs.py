"""Songs and the timbre VAE: render speed, training throughput, an album, the default model.

    .venv/bin/python benchmarks/songs.py [--wait-idle 600] [--album 5] [--full-album]
        [--train-budget 300] [--skip-train] [--skip-default]

Printed, never asserted (goals from issue 6):

- ``song render: N.Nx realtime``: a 4-minute stereo song at 44.1 kHz (default settings: 512
  candidate points, default grammar, a point decoded every 1.5 s), best of 2 runs, with a
  stage breakdown; also with the procedural ambience layer. Goal: at least 50x (under 5 s).
  The model is a full-size VAE (1233 -> 32) trained for one epoch: decoding cost does not
  depend on how well it is trained.
- Peer for the phase reconstruction: every decoded step of the same song rendered as its own
  Griffin-Lim drone (``librosa.griffinlim``, 32 iterations, the same 3 s per step) instead of
  one blended random-phase pass, timed on 20 steps and scaled to the song; and residue's
  circular Griffin-Lim (``timbre.drone(phase="griffinlim")``) on the same steps.
- VAE training on 45,000 synthetic vectors (smooth envelopes with harmonic and noise parts,
  like real timbre vectors): epochs per minute on this machine, and the time until the
  held-out reconstruction MSE falls below 0.012 (RMS error 0.11 on the 0..1 scale, about what
  the default model reaches), within ``--train-budget`` seconds. Goal: a usable model in
  under 5 minutes.
- An album of 50 songs through the service (render, 16-bit FLAC, thumbnail, database row):
  ``--album N`` songs are timed and the total is extrapolated to 50 (said so), or all 50
  with ``--full-album``. Goal: under 5 minutes.
- The default model, trained on first use: time to build its training set and train it.
  Goal: well under a minute.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "server"))

from residue.config import Settings  # noqa: E402
from residue.dsp import compose, timbre  # noqa: E402
from residue.dsp.compose import SongSettings  # noqa: E402
from residue.models import vae  # noqa: E402

SONG_MINUTES = 4.0
ALBUM_SONGS = 50
N_TRAIN = 45_000
USABLE_MSE = 0.012
MIN_EPOCHS = 3  # for a steady epochs-per-minute figure


def wait_for_idle(limit_s: float) -> None:
    if limit_s <= 0:
        return
    t0 = time.monotonic()
    while os.getloadavg()[0] > 1.0 and time.monotonic() - t0 < limit_s:
        time.sleep(5)
    print(f"load average {os.getloadavg()[0]:.2f} after waiting {time.monotonic() - t0:.0f} s")


def synthetic_vectors(n: int, seed: int) -> np.ndarray:
    """Timbre-like vectors: a smooth tilted envelope, harmonic peaks on some, noise floors."""
    rng = np.random.default_rng(seed)
    f = timbre.timbre_frequencies()
    logf = np.log2(f / 20.0)  # 0 .. ~10 octaves
    out = np.empty((n, timbre.N_BINS), np.float32)
    for start in range(0, n, 2000):
        m = min(2000, n - start)
        tilt = rng.uniform(-12, 0, (m, 1)) * logf / 10  # dB per decade-ish
        centre = rng.uniform(2, 9, (m, 1))
        bump = 30 * np.exp(-0.5 * ((logf - centre) / rng.uniform(0.3, 2.0, (m, 1))) ** 2)
        db = -60 + bump + tilt * 4
        f0 = 2.0 ** rng.uniform(5.5, 10, (m, 1))  # 45 Hz .. 1 kHz
        harmonic = rng.random((m, 1)) < 0.7
        k = f / f0
        near = np.abs(k - np.round(k)) * f0  # Hz to the nearest harmonic
        peaks = np.where((k > 0.5) & (near < 0.03 * f + 3), 25.0, 0.0)
        db = db + np.where(harmonic, peaks, 0.0) + rng.normal(0, 1.0, (m, timbre.N_BINS))
        db -= db.max(axis=1, keepdims=True)
        out[start : start + m] = np.clip(1 + db / timbre.TOP_DB, 0, 1)
    return out


def full_size_model() -> vae.TimbreModel:
    data = synthetic_vectors(512, 1)
    return vae.train(data, epochs=1, batch_size=128).model


def timed_song(settings: SongSettings, model: vae.TimbreModel) -> tuple[float, dict[str, float]]:
    stages: dict[str, float] = {}
    last_t = [time.perf_counter()]
    last_stage = [""]

    def progress(fraction: float, stage: str) -> None:
        now = time.perf_counter()
        if last_stage[0]:
            stages[last_stage[0]] = stages.get(last_stage[0], 0.0) + now - last_t[0]
        last_t[0], last_stage[0] = now, stage

    t0 = time.perf_counter()
    compose.render_song(settings, decode=model.decode, latent_dim=model.latent_dim,
                        progress=progress)
    return time.perf_counter() - t0, stages


def bench_song(model: vae.TimbreModel) -> None:
    print(f"\n== song: {SONG_MINUTES:g} min, stereo 44.1 kHz, torch threads "
          f"{torch.get_num_threads()}, cpus {os.cpu_count()}")
    duration = SONG_MINUTES * 60
    for label, settings in (
        ("", SongSettings(seed=1, minutes=SONG_MINUTES)),
        (" (with wind ambience)", SongSettings(seed=1, minutes=SONG_MINUTES, ambience="wind")),
    ):
        runs = [timed_song(settings, model) for _ in range(2)]
        best, stages = min(runs, key=lambda r: r[0])
        print(f"song render{label}: {duration / best:.1f}x realtime ({best:.2f} s for "
              f"{duration:.0f} s)")
        print("  stages: " + ", ".join(f"{k} {v:.2f} s" for k, v in stages.items()))


def bench_phase_peer(model: vae.TimbreModel) -> None:
    import librosa

    print("\n== phase reconstruction: blended random phase vs Griffin-Lim per step")
    s = SongSettings(seed=1, minutes=SONG_MINUTES)
    points = compose.choose_points(s, decode=model.decode, latent_dim=model.latent_dim)
    structure = compose.expand(compose.parse_grammar(s.grammar), rng=np.random.default_rng(0))
    path = compose.wiggle_path(points, structure, duration_s=SONG_MINUTES * 60,
                               rng=np.random.default_rng(0))
    V = model.decode(path.Z)
    n_steps = V.shape[0]
    hop = round(s.step_s * timbre.SR)
    seg = 2 * hop
    t0 = time.perf_counter()
    compose.blend_drones(V, hop_samples=hop, n_samples=round(SONG_MINUTES * 60 * timbre.SR),
                         rng=np.random.default_rng(0))
    ours = time.perf_counter() - t0
    sample = V[:20]
    freqs = np.fft.rfftfreq(timbre.N_FFT, 1 / timbre.SR)
    mags = timbre.vector_magnitudes(sample, freqs_hz=freqs)
    n_frames = 1 + seg // timbre.HOP_LENGTH
    t0 = time.perf_counter()
    for m in mags:
        S = np.repeat(m[:, None], n_frames, axis=1)
        librosa.griffinlim(S, n_iter=32, hop_length=timbre.HOP_LENGTH, n_fft=timbre.N_FFT,
                           length=seg, random_state=0)
    peer = (time.perf_counter() - t0) / len(sample) * n_steps * 2  # two channels
    t0 = time.perf_counter()
    timbre.drone(sample, n_samples=seg, phase="griffinlim", n_iter=32,
                 rng=np.random.default_rng(0))
    circular = (time.perf_counter() - t0) / len(sample) * n_steps * 2
    print(f"blended random-phase render of {n_steps} steps (both channels): {ours:.2f} s")
    print(f"peer librosa.griffinlim per step, 32 iterations (scaled from 20 steps): {peer:.1f} s "
          f"-> ours is {peer / ours:.0f}x faster")
    print(f"residue circular Griffin-Lim per step (scaled from 20 steps): {circular:.1f} s "
          f"({peer / circular:.1f}x librosa's speed; it loops seamlessly, librosa's does not)")


def bench_training(budget_s: float) -> None:
    print(f"\n== VAE training: {N_TRAIN} synthetic vectors, batch {vae.BATCH_SIZE}, "
          f"torch threads {torch.get_num_threads()}")
    train = synthetic_vectors(N_TRAIN, 7)
    held = synthetic_vectors(2000, 8)
    times: list[float] = []
    mses: list[float] = []
    t0 = time.perf_counter()
    usable_at: float | None = None
    usable_epoch = 0
    epochs = 0
    # One epoch at a time, continuing from the last weights, so the curve can be cut at the
    # budget; the learning rate stays flat (train() decays it over its own epochs).
    model = vae.new_model(seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=vae.LEARNING_RATE)
    data = torch.from_numpy(train)
    gen = torch.Generator().manual_seed(0)
    while time.perf_counter() - t0 < budget_s:
        start = time.perf_counter()
        model.train()
        order = torch.randperm(N_TRAIN, generator=gen)
        for i in range(0, N_TRAIN, vae.BATCH_SIZE):
            x = data[order[i : i + vae.BATCH_SIZE]]
            recon, mean, logvar = model(x, torch.randn((x.shape[0], vae.LATENT_DIM), generator=gen))
            mse = torch.mean((recon - x) ** 2)
            kl = torch.mean(torch.sum(0.5 * (mean**2 + logvar.exp() - 1 - logvar), dim=-1))
            loss = mse + vae.KL_WEIGHT * kl / timbre.N_BINS
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
        epochs += 1
        times.append(time.perf_counter() - start)
        model.eval()
        with torch.inference_mode():
            h = torch.from_numpy(held)
            mses.append(float(torch.mean((model.decode(model.encode(h)[0]) - h) ** 2)))
        print(f"  epoch {epochs}: {times[-1]:.1f} s, held-out MSE {mses[-1]:.4f}")
        if usable_at is None and mses[-1] < USABLE_MSE:
            usable_at = time.perf_counter() - t0
            usable_epoch = epochs
        if usable_at is not None and epochs >= MIN_EPOCHS:
            break
    per_epoch = float(np.median(times))
    print(f"VAE training: {60 / per_epoch:.2f} epochs per minute ({per_epoch:.1f} s per epoch "
          f"of {N_TRAIN} vectors)")
    if usable_at is not None:
        print(f"usable model (held-out MSE < {USABLE_MSE}): {usable_at:.0f} s, after epoch "
              f"{usable_epoch}")
    else:
        print(f"usable model (held-out MSE < {USABLE_MSE}): not reached in {budget_s:.0f} s "
              f"(best {min(mses):.4f})")


def bench_album(n: int, model: vae.TimbreModel) -> None:
    from residue.services import timbre as ts
    from residue.services.context import Context

    print(f"\n== album of {ALBUM_SONGS} songs through the service")
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Context.open(Settings(data_dir=Path(tmp)))
        try:
            ts.save_model(ctx.settings, model)
            t0 = time.perf_counter()
            ts.generate_album(ctx, n, SongSettings(seed=5, minutes=SONG_MINUTES),
                              model_id=model.model_id)
            elapsed = time.perf_counter() - t0
        finally:
            ctx.close()
    per_song = elapsed / n
    if n >= ALBUM_SONGS:
        print(f"album of {n} songs: {elapsed:.0f} s ({per_song:.1f} s per 4-minute song)")
    else:
        print(f"album: {n} songs took {elapsed:.1f} s ({per_song:.1f} s each); "
              f"EXTRAPOLATED to {ALBUM_SONGS} songs: {per_song * ALBUM_SONGS:.0f} s")


def bench_default_model() -> None:
    print("\n== the default model (trained on first use)")
    t0 = time.perf_counter()
    data = vae.default_training_set()
    built = time.perf_counter() - t0
    t1 = time.perf_counter()
    result = vae.train(data.vectors, epochs=vae.DEFAULT_EPOCHS)
    trained = time.perf_counter() - t1
    print(f"default model: {built + trained:.0f} s ({built:.0f} s making {data.vectors.shape[0]} "
          f"vectors, soundfont={data.provenance['soundfont']}; {trained:.0f} s for "
          f"{vae.DEFAULT_EPOCHS} epochs); final reconstruction MSE {result.recon[-1]:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument("--album", type=int, default=5, help="songs to time (extrapolated)")
    parser.add_argument("--full-album", action="store_true", help="time all 50 songs")
    parser.add_argument("--train-budget", type=float, default=300.0, metavar="SECONDS")
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--skip-default", action="store_true")
    args = parser.parse_args()
    wait_for_idle(args.wait_idle)
    print(f"load average {os.getloadavg()[0]:.2f}")
    model = full_size_model()
    bench_song(model)
    bench_phase_peer(model)
    bench_album(ALBUM_SONGS if args.full_album else args.album, model)
    if not args.skip_default:
        bench_default_model()
    if not args.skip_train:
        bench_training(args.train_budget)


if __name__ == "__main__":
    main()
