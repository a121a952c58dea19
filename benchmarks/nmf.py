"""NMF speed: residue's ``decompose`` against scikit-learn's multiplicative updates.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/nmf.py [--reps 3]
        [--wait-idle 600] [--threads N] [--audio FILE]

(The two variables, when set on this machine, slow numpy's OpenBLAS and so the peer; unsetting
them is fair to scikit-learn.)

A 30 s, 44.1 kHz mono clip -> magnitude STFT (n_fft 2048, hop 512: 1025 x 2584), K = 16,
200 iterations, for beta = 1 (KL) and beta = 2 (Euclidean). Both sides get the SAME float32
matrix, the same initial W and H and the same number of iterations (scikit-learn
``NMF(solver="mu", init="custom", max_iter=200, tol=0)``; residue ``tol=0``). Both final
factorisations are scored by the same function (scikit-learn's ``_beta_divergence``) and must
agree within 1 %. Runs alternate between the two sides and the best of ``--reps`` counts, since
the machine may be shared.

The clip is ``--audio FILE`` if given (mono mix, first 30 s), else real instruments if the
FluidSynth multitrack cache of ``benchmarks/_multitrack.py`` exists (stems summed, pieces
joined), else a deterministic synthetic mix (harmonic notes and noise bursts) made here.

Also prints a roofline for one iteration: copy bandwidth and the bytes an iteration must move
(S read once: the updates are fused and blocked so every temporary stays in cache), and the
peak float32 GEMM rate and the multiply-adds an iteration must do; the floor is the larger.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "server"))

from residue.dsp.nmf import decompose  # noqa: E402
from residue.dsp.spectral import stft  # noqa: E402

SR = 44100
DURATION_S = 30.0
K = 16
N_ITER = 200
MULTITRACK = ROOT / "benchmarks" / ".cache" / "multitrack"


def synthetic_mix(n: int, sr: int) -> np.ndarray:
    """Harmonic notes with decaying envelopes plus noise bursts (hi-hat like), deterministic."""
    rng = np.random.default_rng(2026)
    t = np.arange(n) / sr
    y = np.zeros(n)
    beat = 0.5
    for i in range(int(n / sr / beat)):
        start = int(i * beat * sr)
        f0 = 110.0 * 2 ** (rng.integers(0, 24) / 12)
        seg = slice(start, min(n, start + int(1.5 * sr)))
        tt = t[seg] - t[start]
        env = np.exp(-3.0 * tt) * (1 - np.exp(-200 * tt))
        note = sum(np.sin(2 * np.pi * f0 * h * tt) / h for h in range(1, 10))
        y[seg] += 0.2 * env * note
        burst = slice(start + int(0.25 * sr), min(n, start + int(0.3 * sr)))
        y[burst] += 0.1 * rng.standard_normal(burst.stop - burst.start)
    return y.astype(np.float32)


def load_clip(path: str | None) -> tuple[np.ndarray, str]:
    n = int(DURATION_S * SR)
    if path is not None:
        import soundfile as sf
        import soxr

        y, sr = sf.read(path, dtype="float32", always_2d=True)
        mono = y.mean(axis=1)
        if sr != SR:
            mono = soxr.resample(mono, sr, SR)
        if mono.size < n:
            mono = np.resize(mono, n)
        return mono[:n].astype(np.float32), f"file {path}"
    pieces = sorted(MULTITRACK.glob("*/*/")) if MULTITRACK.exists() else []
    if pieces:
        import soundfile as sf

        parts = []
        for piece in pieces:
            stems = [sf.read(p, dtype="float32", always_2d=True)[0] for p in piece.glob("*.wav")]
            if not stems:
                continue
            m = min(s.shape[0] for s in stems)
            parts.append(sum(s[:m] for s in stems).mean(axis=1))
            if sum(p.size for p in parts) >= n:
                break
        y = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        if y.size >= n:
            return y[:n].astype(np.float32), f"FluidSynth multitrack renders ({MULTITRACK})"
    return synthetic_mix(n, SR), "synthetic mix (harmonic notes + noise bursts)"


def best_of(fn: Callable[[], object], reps: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def copy_bandwidth_gbs() -> float:
    """Read + write bytes per second of a 256 MiB torch copy (DRAM, not cache)."""
    src = torch.ones(64 * 2**20)
    dst = torch.empty_like(src)
    dst.copy_(src)
    t, _ = best_of(lambda: dst.copy_(src), 5)
    return 2 * src.numel() * 4 / t / 1e9


def gemm_gflops() -> float:
    """Peak float32 GEMM rate on 2048 x 2048 matrices: the better of torch (MKL) and numpy."""
    a, b = torch.rand(2048, 2048), torch.rand(2048, 2048)
    c = torch.empty(2048, 2048)
    torch.mm(a, b, out=c)
    t_torch, _ = best_of(lambda: torch.mm(a, b, out=c), 5)
    an, bn, cn = a.numpy(), b.numpy(), c.numpy()
    np.matmul(an, bn, out=cn)
    t_numpy, _ = best_of(lambda: np.matmul(an, bn, out=cn), 5)
    return 2 * 2048**3 / min(t_torch, t_numpy) / 1e9


def wait_for_idle(limit_s: float) -> None:
    """Wait up to ``limit_s`` seconds for the 1-minute load average to drop below 1."""
    deadline = time.monotonic() + limit_s
    while os.getloadavg()[0] >= 1.0 and time.monotonic() < deadline:
        time.sleep(5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3, help="runs per side; the best counts")
    parser.add_argument("--audio", help="a sound file to use instead of the default clip")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="first wait up to this long for the load average to drop below 1 (shared machines)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="limit both sides to this many threads (torch and OpenBLAS); 0 keeps the defaults",
    )
    args = parser.parse_args()
    if args.threads:
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)
    wait_for_idle(args.wait_idle)

    from sklearn.decomposition import NMF
    from sklearn.decomposition._nmf import _beta_divergence

    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if var in os.environ:
            print(f"note: {var}={os.environ[var]} is set (slows the scikit-learn peer)")
    y, source = load_clip(args.audio)
    S = np.ascontiguousarray(np.abs(stft(y)), dtype=np.float32)
    n_bins, n_frames = S.shape
    print(f"clip: {source}; S {n_bins} x {n_frames} float32, K={K}, {N_ITER} iterations")
    print(
        f"torch threads {torch.get_num_threads()}, cpus {os.cpu_count()}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    rng = np.random.default_rng(0)
    scale = np.sqrt(S.mean() / K)  # scikit-learn's "random" init, fixed here for both sides
    W0 = (scale * np.abs(rng.standard_normal((n_bins, K)))).astype(np.float32)
    H0 = (scale * np.abs(rng.standard_normal((K, n_frames)))).astype(np.float32)
    decompose(S, n_components=K, W_init=W0, H_init=H0, n_iter=3, tol=0.0)  # warm up

    bandwidth = copy_bandwidth_gbs()
    gflops = gemm_gflops()
    print(f"machine: copy bandwidth {bandwidth:.1f} GB/s, float32 GEMM peak {gflops:.0f} GFLOP/s")

    speedups = {}
    for beta, name, label in ((1.0, "kullback-leibler", "KL"), (2.0, "frobenius", "EU")):
        ours_t, sk_t = float("inf"), float("inf")
        ours = sk = None
        for _ in range(args.reps):
            t, ours = best_of(
                lambda beta=beta: decompose(
                    S, n_components=K, beta=beta, n_iter=N_ITER, tol=0.0, W_init=W0, H_init=H0
                ),
                1,
            )
            ours_t = min(ours_t, t)
            model = NMF(K, solver="mu", beta_loss=name, init="custom", max_iter=N_ITER, tol=0.0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t, W_sk = best_of(lambda m=model: m.fit_transform(S, W=W0.copy(), H=H0.copy()), 1)
            sk_t = min(sk_t, t)
            sk = (W_sk, model.components_)
        assert ours is not None and sk is not None
        loss_ours = float(_beta_divergence(S, ours.W, ours.H, beta))
        loss_sk = float(_beta_divergence(S, sk[0], sk[1], beta))
        rel = abs(loss_ours - loss_sk) / loss_sk
        verdict = "ok" if rel < 0.01 else "MISMATCH"
        per_ours, per_sk = ours_t / N_ITER * 1e3, sk_t / N_ITER * 1e3
        speedups[label] = sk_t / ours_t
        print(
            f"\n[{label}] residue {ours_t:.2f} s ({per_ours:.2f} ms/iter), "
            f"scikit-learn {sk_t:.2f} s ({per_sk:.2f} ms/iter)"
        )
        print(
            f"[{label}] final loss residue {loss_ours:.6g}, scikit-learn {loss_sk:.6g} "
            f"(differ by {100 * rel:.3f} %: {verdict})"
        )
        # One iteration reads S once (fused, blocked: temporaries stay in cache) and, for KL,
        # does 4 GEMMs of F x K x T multiply-adds (W H twice, W^T R, R H^T); EU does 2.
        bytes_iter = 4 * n_bins * n_frames
        gemms = 4 if beta == 1.0 else 2
        mem_floor = bytes_iter / (bandwidth * 1e9) * 1e3
        flop_floor = gemms * 2 * n_bins * K * n_frames / (gflops * 1e9) * 1e3
        print(
            f"[{label}] floors per iteration: memory {mem_floor:.2f} ms "
            f"({bytes_iter / 1e6:.1f} MB), compute {flop_floor:.2f} ms "
            f"({gemms} GEMMs, {gemms * 2 * n_bins * K * n_frames / 1e6:.0f} MFLOP)"
        )
        print(
            f"roofline: {max(mem_floor, flop_floor):.1f} ms/iter floor, "
            f"measured {per_ours:.1f} ms/iter ({label})"
        )
        print(f"nmf speedup vs sklearn ({label}): {speedups[label]:.1f}x")
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")
    print(f"nmf speedup vs sklearn: {min(speedups.values()):.1f}x")


if __name__ == "__main__":
    main()
