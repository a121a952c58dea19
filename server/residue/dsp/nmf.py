"""Non-negative matrix factorisation of magnitude spectrograms with the beta-divergence.

``S ~= W @ H`` with ``W`` the spectra of the components (unit-sum columns) and ``H`` their
activations over time, fitted by multiplicative updates (Lee & Seung 2001; Févotte & Idier 2011,
with their exponent ``gamma`` for beta < 1 so every update decreases the loss).

Speed: the updates are fused and blocked over time. One pass over the frames updates a block of
``H`` and immediately accumulates that block's share of the next ``W`` update while the block of
``S`` is still in cache, so each iteration reads ``S`` once and never materialises a full
``F x T`` temporary. The divergence and its Euclidean special case are computed from small
matrices where algebra allows (``sum(W @ H) = colsum(W) . rowsum(H)``, the Euclidean trace
trick), so convergence checks are nearly free.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, NamedTuple

import numpy as np
import torch

from residue.dsp._validate import check_choice, check_float, check_int, check_nonnegative
from residue.dsp.progress import CancelToken, ProgressFn
from residue.dsp.spectral import DeviceLike, as_device
from residue.errors import ParameterError

Init = Literal["random", "nndsvd"]
Update = Literal["both", "H", "W"]

N_ITER = 200
"""Default maximum number of iterations."""
TOL = 1e-4
"""Default convergence tolerance on the relative loss decrease between two checks."""
CHECK_EVERY = 10
"""Default number of iterations between loss evaluations (convergence checks)."""
MAX_SPARSITY = 10.0
"""Largest accepted ``sparsity``; beyond it every activation is driven to zero."""
MAX_N_ITER = 100_000
"""Largest accepted ``n_iter``."""
EPS = float(np.finfo(np.float32).eps)
"""Floor of the model ``W @ H`` and of update denominators (scikit-learn's choice)."""

_TINY = float(np.finfo(np.float64).eps)  # factors below this become exactly 0 (scikit-learn)
_BLOCK_ELEMENTS = 1 << 18  # at most F x frames per block (1 MiB of float32: one L2)
_BLOCK_ELEMENTS_EU = 1 << 20  # Euclidean keeps no F x frames scratch: fewer, larger GEMMs
_MIN_BLOCK_FRAMES = 64  # below this many frames per worker, run on the calling thread


class NMFResult(NamedTuple):
    """Factors and diagnostics of :func:`decompose`.

    Attributes
    ----------
    W : np.ndarray [shape=(..., n_bins, n_components), dtype=float32]
        Component spectra. Learned columns sum to 1.
    H : np.ndarray [shape=(..., n_components, n_frames), dtype=float32]
        Activations.
    loss : np.ndarray [shape=(n_checks,), dtype=float32]
        Objective (beta-divergence plus the sparsity penalty) at initialisation and after every
        ``check_every`` iterations, the last entry after the final iteration. Summed over a batch.
    n_iter : int
        Iterations run (the largest over a batch).
    converged : bool
        Whether the relative decrease fell below ``tol`` (for every item of a batch).
    """

    W: np.ndarray
    H: np.ndarray
    loss: np.ndarray
    n_iter: int
    converged: bool


class _Item(NamedTuple):
    W: torch.Tensor
    H: torch.Tensor
    losses: list[float]
    n_iter: int
    converged: bool


def decompose(
    S: np.ndarray,
    *,
    n_components: int,
    beta: float = 1.0,
    n_iter: int = N_ITER,
    tol: float = TOL,
    init: Init = "nndsvd",
    W_init: np.ndarray | None = None,
    H_init: np.ndarray | None = None,
    update: Update = "both",
    sparsity: float = 0.0,
    check_every: int = CHECK_EVERY,
    rng: np.random.Generator | None = None,
    device: DeviceLike = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> NMFResult:
    """Factorise a magnitude spectrogram ``S ~= W @ H`` by beta-divergence NMF.

    Parameters
    ----------
    S : np.ndarray [shape=(n_bins, n_frames) or (n_items, n_bins, n_frames), dtype=float]
        Non-negative magnitudes. A batch (channels, clips) is factorised item by item, each
        with its own convergence; the caller's array is never modified.
    n_components : int
        Number of components ``K``, in ``[1, min(n_bins, n_frames)]``.
    beta : float
        Divergence in ``[0, 2]``: 0 Itakura-Saito, 1 Kullback-Leibler, 2 Euclidean
        (half the squared Frobenius norm); any value between uses the general update.
    n_iter : int
        Maximum number of iterations (one iteration updates ``W`` then ``H``).
    tol : float
        Stop when the loss decreased by less than ``tol`` (relative) since the previous check;
        0 always runs ``n_iter`` iterations.
    init : {"nndsvd", "random"}
        Initialisation of factors not given. "nndsvd" is NNDSVD (Boutsidis & Gallopoulos 2008)
        from a randomised truncated SVD, with zeros replaced by ``mean(S) / 10`` (a variant of
        NNDSVDa: multiplicative updates cannot leave an exact zero, and a tenth of the mean
        starts closer than the mean itself). "random" is ``|N(0, 1)|`` scaled by
        ``sqrt(mean(S) / K)``.
    W_init, H_init : np.ndarray or None
        Initial factors, shapes ``(..., n_bins, K)`` and ``(..., K, n_frames)``; an unbatched
        factor is shared by every item of a batch. A factor that is not learned (see
        ``update``) must be given. When only the other factor is given, the missing one starts
        flat, scaled so that ``mean(W @ H) == mean(S)``.
    update : {"both", "H", "W"}
        Which factors are learned: "H" keeps ``W_init`` fixed (activations for given
        components), "W" keeps ``H_init`` fixed.
    sparsity : float
        L1 penalty on ``H`` in ``[0, 10]``. The penalty weight is
        ``sparsity * mean(S) ** (beta - 1)``, which makes it independent of the level of ``S``
        (learned ``W`` columns are kept at unit sum, so the penalty cannot be dodged by scaling).
    check_every : int
        Iterations between loss evaluations and convergence checks.
    rng : np.random.Generator or None
        Source of randomness for the initialisation; ``None`` uses a fixed seed (0) so results
        are reproducible by default.
    device : str or torch.device or None
        Where to compute; ``None`` is the CPU.
    progress : ProgressFn or None
        Called with ``(fraction, "decomposing")`` every few iterations.
    cancel : CancelToken or None
        Checked every few iterations.

    Returns
    -------
    NMFResult
        ``W`` float32 ``(..., n_bins, K)``, ``H`` float32 ``(..., K, n_frames)``, the loss
        trace, the number of iterations run and whether it converged.

    Raises
    ------
    ParameterError
        If an argument is out of range or of the wrong shape.
    JobCancelled
        If ``cancel`` was set.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> S = rng.random((64, 3)) @ rng.random((3, 100))
    >>> res = decompose(S, n_components=3, beta=2.0, n_iter=500, tol=0.0, rng=rng)
    >>> res.W.shape, res.H.shape
    ((64, 3), (3, 100))
    >>> bool(np.linalg.norm(S - res.W @ res.H) < 0.02 * np.linalg.norm(S))
    True
    """
    S32 = check_nonnegative(S, name="S", ndim_min=2)
    if S32.ndim > 3:
        raise ParameterError(f"S must have shape (F, T) or (B, F, T), got {S32.shape}")
    batched = S32.ndim == 3
    Sb = S32 if batched else S32[None]
    n_items, n_bins, n_frames = Sb.shape
    if n_bins < 1 or n_frames < 1 or n_items < 1:
        raise ParameterError(f"S must not be empty, got shape {S32.shape}")
    k = check_int("n_components", n_components, lo=1, hi=min(n_bins, n_frames))
    beta = check_float("beta", beta, lo=0.0, hi=2.0)
    n_iter = check_int("n_iter", n_iter, lo=1, hi=MAX_N_ITER)
    tol = check_float("tol", tol, lo=0.0, hi=1.0)
    check_choice("init", init, ("random", "nndsvd"))
    check_choice("update", update, ("both", "H", "W"))
    sparsity = check_float("sparsity", sparsity, lo=0.0, hi=MAX_SPARSITY)
    check_every = check_int("check_every", check_every, lo=1, hi=MAX_N_ITER)
    if update == "H" and W_init is None:
        raise ParameterError('update="H" keeps W fixed, so W_init is required')
    if update == "W" and H_init is None:
        raise ParameterError('update="W" keeps H fixed, so H_init is required')
    W0 = _check_factor(W_init, "W_init", (n_bins, k), n_items, batched)
    H0 = _check_factor(H_init, "H_init", (k, n_frames), n_items, batched)
    if rng is None:
        rng = np.random.default_rng(0)
    dev = as_device(device)
    report = progress if progress is not None else _no_progress

    items: list[_Item] = []
    for b in range(n_items):
        Vn = Sb[b]
        if not (Vn.flags.writeable and Vn.flags.c_contiguous):
            Vn = np.array(Vn, order="C")  # torch wants writable memory; S itself is never written
        V = torch.from_numpy(Vn).to(dev)
        W, H = _initial_factors(
            V,
            k,
            init=init,
            W=W0[b] if W0 is not None else None,
            H=H0[b] if H0 is not None else None,
            rng=rng,
        )

        def tick(i: int, b: int = b) -> None:
            if cancel is not None:
                cancel.raise_if_cancelled()
            report((b + i / n_iter) / n_items, "decomposing")

        items.append(
            _solve(
                V,
                W,
                H,
                beta=beta,
                n_iter=n_iter,
                tol=tol,
                update=update,
                sparsity=sparsity,
                check_every=check_every,
                tick=tick,
            )
        )
    report(1.0, "decomposing")

    W_out = np.stack([it.W.cpu().numpy() for it in items]).astype(np.float32, copy=False)
    H_out = np.stack([it.H.cpu().numpy() for it in items]).astype(np.float32, copy=False)
    n_checks = max(len(it.losses) for it in items)
    trace = np.zeros(n_checks, dtype=np.float64)
    for it in items:
        padded = it.losses + [it.losses[-1]] * (n_checks - len(it.losses))
        trace += np.asarray(padded, dtype=np.float64)
    return NMFResult(
        W=W_out if batched else W_out[0],
        H=H_out if batched else H_out[0],
        loss=trace.astype(np.float32),
        n_iter=max(it.n_iter for it in items),
        converged=all(it.converged for it in items),
    )


def _no_progress(fraction: float, stage: str, /) -> None:
    """Ignore progress."""


def _check_factor(
    A: np.ndarray | None, name: str, shape: tuple[int, int], n_items: int, batched: bool
) -> np.ndarray | None:
    """Validate an initial factor; return it as float32 of shape (n_items, *shape) or None."""
    if A is None:
        return None
    A32 = check_nonnegative(A, name=name, ndim_min=2)
    if A32.shape == shape:
        return np.broadcast_to(A32, (n_items, *shape))
    if batched and A32.shape == (n_items, *shape):
        return A32
    want = f"{shape}" + (f" or {(n_items, *shape)}" if batched else "")
    raise ParameterError(f"{name} must have shape {want}, got {A32.shape}")


# ---------------------------------------------------------------------------------------------
# Initialisation


def _initial_factors(
    V: torch.Tensor,
    k: int,
    *,
    init: Init,
    W: np.ndarray | None,
    H: np.ndarray | None,
    rng: np.random.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return fresh float32 copies (on V's device) of the starting factors."""
    dev = V.device
    if W is not None and H is not None:
        return _tensor(W, dev), _tensor(H, dev)
    mean = float(V.mean(dtype=torch.float64))
    if W is not None:
        Wt = _tensor(W, dev)
        total = float(Wt.sum(dtype=torch.float64))
        level = mean * V.shape[0] / total if total > 0 else 0.0
        return Wt, torch.full((k, V.shape[1]), level, dtype=torch.float32, device=dev)
    if H is not None:
        Ht = _tensor(H, dev)
        total = float(Ht.sum(dtype=torch.float64))
        level = mean * V.shape[1] / total if total > 0 else 0.0
        return torch.full((V.shape[0], k), level, dtype=torch.float32, device=dev), Ht
    if init == "random":
        scale = math.sqrt(mean / k)
        Wr = np.abs(rng.standard_normal((V.shape[0], k), dtype=np.float32)) * scale
        Hr = np.abs(rng.standard_normal((k, V.shape[1]), dtype=np.float32)) * scale
        return _tensor(Wr, dev), _tensor(Hr, dev)
    return _nndsvd(V, k, rng=rng, fill=mean / 10)


def _tensor(A: np.ndarray, dev: torch.device) -> torch.Tensor:
    return torch.tensor(np.asarray(A, dtype=np.float32), device=dev)


def _randomized_svd(
    V: torch.Tensor, k: int, *, rng: np.random.Generator, n_power: int = 4, oversample: int = 10
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Compute a truncated SVD by a randomised range finder (Halko et al. 2011), seeded by rng."""
    n_bins, n_frames = V.shape
    width = min(k + oversample, n_bins, n_frames)
    omega = torch.from_numpy(rng.standard_normal((n_frames, width), dtype=np.float32)).to(V.device)
    Q = torch.linalg.qr(V @ omega).Q
    for _ in range(n_power):
        Q = torch.linalg.qr(V.T @ Q).Q
        Q = torch.linalg.qr(V @ Q).Q
    U_small, sigma, Vh = torch.linalg.svd(Q.T @ V, full_matrices=False)
    return (Q @ U_small)[:, :k], sigma[:k], Vh[:k]


def _nndsvd(
    V: torch.Tensor, k: int, *, rng: np.random.Generator, fill: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """NNDSVD initialisation with zeros replaced by ``fill``."""
    U, sigma, Vh = _randomized_svd(V, k, rng=rng)
    W = torch.zeros((V.shape[0], k), dtype=torch.float32, device=V.device)
    H = torch.zeros((k, V.shape[1]), dtype=torch.float32, device=V.device)
    W[:, 0] = torch.sqrt(sigma[0]) * U[:, 0].abs()
    H[0] = torch.sqrt(sigma[0]) * Vh[0].abs()
    for j in range(1, k):
        x, y = U[:, j], Vh[j]
        xp, yp = x.clamp_min(0), y.clamp_min(0)
        xn, yn = (-x).clamp_min(0), (-y).clamp_min(0)
        xp_n, yp_n = torch.linalg.vector_norm(xp), torch.linalg.vector_norm(yp)
        xn_n, yn_n = torch.linalg.vector_norm(xn), torch.linalg.vector_norm(yn)
        m_pos, m_neg = xp_n * yp_n, xn_n * yn_n
        if float(m_pos) > float(m_neg):
            u, v, m = xp / xp_n, yp / yp_n, m_pos
        else:
            u, v, m = xn / xn_n.clamp_min(EPS), yn / yn_n.clamp_min(EPS), m_neg
        lam = torch.sqrt(sigma[j] * m)
        W[:, j] = lam * u
        H[j] = lam * v
    W[W < 1e-6] = 0.0
    H[H < 1e-6] = 0.0
    W[W == 0] = fill
    H[H == 0] = fill
    W = torch.nan_to_num(W, nan=fill)
    H = torch.nan_to_num(H, nan=fill)
    return W, H


# ---------------------------------------------------------------------------------------------
# Multiplicative updates
#
# Work is split into blocks of frames. On the CPU, blocks go to a small pool of worker threads
# that each run single-threaded torch kernels on their own blocks (their own scratch and their
# own share of the W update): the kernels here are small (K = 16 rows), and splitting each one
# across cores costs more in synchronisation than it gains, while a shared 2-core machine makes
# every fork/join wait on a busy core.

_POOL_LOCK = threading.Lock()
_POOL: ThreadPoolExecutor | None = None
_POOL_SIZE = 0


def _worker_pool(n_workers: int) -> ThreadPoolExecutor:
    """Return a process-wide pool of threads whose torch kernels are single-threaded."""
    global _POOL, _POOL_SIZE
    with _POOL_LOCK:
        if _POOL is not None and _POOL_SIZE == n_workers:
            return _POOL
        if _POOL is not None:
            _POOL.shutdown(wait=False)
        previous = torch.get_num_threads()
        started = threading.Barrier(n_workers)

        def single_threaded() -> None:
            # torch's thread count is per thread once a thread has run a kernel; the setter
            # also changes the default for threads not yet started, restored below.
            torch.ones(1 << 16).add_(1.0)
            torch.set_num_threads(1)

        pool = ThreadPoolExecutor(
            n_workers, thread_name_prefix="residue-nmf", initializer=single_threaded
        )
        for f in [pool.submit(started.wait) for _ in range(n_workers)]:
            f.result()
        torch.set_num_threads(previous)
        _POOL, _POOL_SIZE = pool, n_workers
        return pool


class _Scratch:
    """One worker's buffers (F x width and K x width) and its partial sums for the W update."""

    def __init__(self, n_bins: int, k: int, width: int, *, two: bool, dev: torch.device) -> None:
        opts: dict[str, Any] = {"dtype": torch.float32, "device": dev}
        self.F, self.k = n_bins, k
        self._A = torch.empty(n_bins * width, **opts)
        self._X = torch.empty(n_bins * width, **opts) if two else self._A
        self._N = torch.empty(k * width, **opts)
        self._D = torch.empty(k * width, **opts)
        self.numW = torch.zeros((n_bins, k), **opts)
        self.denW = torch.zeros((n_bins, k), **opts)
        self.rows = torch.zeros(k, **opts)  # KL: sum of H's rows
        self.HHt = torch.zeros((k, k), **opts)  # Euclidean: H H^T
        self.loss = 0.0  # loss terms of this worker's blocks
        self.l1 = 0.0  # sum of this worker's blocks of H

    def views(self, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Contiguous F x n and K x n views of the buffers."""
        F, k = self.F, self.k
        return (
            self._A[: F * n].view(F, n),
            self._X[: F * n].view(F, n),
            self._N[: k * n].view(k, n),
            self._D[: k * n].view(k, n),
        )

    def reset(self, *, w: bool, den: bool) -> None:
        self.loss = self.l1 = 0.0
        self.rows.zero_()
        self.HHt.zero_()
        if w:
            self.numW.zero_()
            if den:
                self.denW.zero_()


class _Block(NamedTuple):
    """A block of frames: its slice of S, views of H and of its worker's scratch."""

    number: int
    V: torch.Tensor  # (F, n), contiguous
    H: torch.Tensor  # (K, n) view of H
    A: torch.Tensor  # (F, n) scratch
    X: torch.Tensor  # (F, n) scratch (the same as A for beta = 2)
    N: torch.Tensor  # (K, n) scratch
    D: torch.Tensor  # (K, n) scratch
    mask: torch.Tensor | None  # Itakura-Saito: 1 where S > eps


class _Blocked:
    """One matrix ``V`` cut into blocks of frames, with workers, loss constants and caches.

    Everything of size ``F x T`` or ``K x T`` is touched only by the workers, each on its own
    blocks; the calling thread only does ``F x K`` work between sweeps.
    """

    def __init__(self, V: torch.Tensor, H: torch.Tensor, *, beta: float, lam: float) -> None:
        n_bins, n_frames = V.shape
        k = H.shape[0]
        on_cpu = V.device.type == "cpu"
        workers = min(torch.get_num_threads(), os.cpu_count() or 1) if on_cpu else 1
        per_max = max(16, (_BLOCK_ELEMENTS_EU if beta == 2.0 else _BLOCK_ELEMENTS) // n_bins)
        n_blocks = workers * math.ceil(n_frames / (workers * per_max))
        if n_frames < 2 * _MIN_BLOCK_FRAMES * workers:
            n_blocks = 1  # too small to be worth the threads
        per = math.ceil(n_frames / n_blocks)
        bounds = [(a, min(a + per, n_frames)) for a in range(0, n_frames, per)]
        self.n_bins, self.n_frames, self.k = n_bins, n_frames, k
        self.beta, self.lam = beta, lam
        self.gamma = 1.0 / (2.0 - beta) if beta < 1.0 else 1.0
        self.n_workers = min(workers, len(bounds))
        self.pool = _worker_pool(self.n_workers) if self.n_workers > 1 else None
        self.scratch = [
            _Scratch(n_bins, k, per, two=beta != 2.0, dev=V.device) for _ in range(self.n_workers)
        ]
        self.blocks: list[_Block] = []
        for i, (a, b) in enumerate(bounds):
            Vb = V[:, a:b].contiguous()
            mask = (Vb > EPS).to(torch.float32) if beta == 0.0 else None
            self.blocks.append(
                _Block(i, Vb, H[:, a:b], *self.scratch[i % self.n_workers].views(b - a), mask)
            )
        self.numW = torch.empty((n_bins, k), dtype=torch.float32, device=V.device)
        self.denW = torch.empty_like(self.numW)
        self.rows = torch.empty(k, dtype=torch.float32, device=V.device)
        self.HHt = torch.empty((k, k), dtype=torch.float32, device=V.device)
        # Scale of H's rows still to be applied (W was renormalised after the last sweep).
        self.h_scale: torch.Tensor | None = None
        # Euclidean with one factor fixed: W^T V or V H^T is computed once (see _solve).
        self.fixed_w = False
        self.fixed_h = False
        self.WtV: list[torch.Tensor] | None = None
        self.VHt: torch.Tensor | None = None
        self.sum_v = float(V.sum(dtype=torch.float64))
        self.const = self._loss_constant()

    def _loss_constant(self) -> float:
        """Return the part of the divergence that depends on V only, in float64."""
        beta, total = self.beta, 0.0
        for blk in self.blocks:
            flat, buf = blk.V.view(-1), blk.A.view(-1)
            if beta == 2.0:
                total += float(torch.dot(flat, flat))
            elif beta == 1.0:
                torch.log(flat.clamp_min(1e-37), out=buf)  # 0 * log(tiny) = 0, as xlogy
                total += float(torch.dot(flat, buf))
            elif blk.mask is not None:
                # Itakura-Saito is infinite where V = 0; like scikit-learn, count only V > eps.
                torch.log(flat.clamp_min(EPS), out=buf)
                total += float(torch.dot(blk.mask.view(-1), buf))
                total += float(blk.mask.sum(dtype=torch.float64))
            else:
                torch.pow(flat, beta, out=buf)
                total += float(buf.sum(dtype=torch.float64))
        return total

    def run(self, sweep: Callable[[_Scratch, list[_Block]], None]) -> None:
        """Run ``sweep(scratch, blocks)`` on every worker's share of the blocks."""
        n = self.n_workers
        if self.pool is None:
            sweep(self.scratch[0], self.blocks)
            return
        futures = [self.pool.submit(sweep, self.scratch[j], self.blocks[j::n]) for j in range(n)]
        for f in futures:
            f.result()

    def gather(self, *, w: bool, den: bool) -> tuple[float, float]:
        """Sum the workers' partial results; return the summed loss terms and L1 of H."""
        _sum_into(self.rows, [s.rows for s in self.scratch])
        _sum_into(self.HHt, [s.HHt for s in self.scratch])
        if w:
            _sum_into(self.numW, [s.numW for s in self.scratch])
            if den:
                _sum_into(self.denW, [s.denW for s in self.scratch])
        return sum(s.loss for s in self.scratch), sum(s.l1 for s in self.scratch)


def _sum_into(out: torch.Tensor, parts: list[torch.Tensor]) -> None:
    out.copy_(parts[0])
    for p in parts[1:]:
        out.add_(p)


def _solve(
    V: torch.Tensor,
    W: torch.Tensor,
    H: torch.Tensor,
    *,
    beta: float,
    n_iter: int,
    tol: float,
    update: Update,
    sparsity: float,
    check_every: int,
    tick: Callable[[int], None],
) -> _Item:
    """Run the multiplicative updates on one matrix, in scikit-learn's order (W, then H).

    Iteration ``i`` maps ``(W_{i-1}, H_{i-1})`` to ``(W_i, H_i)``. Sweep ``i`` computes ``H_i``
    from ``W_i`` block by block and, while each block is in cache, accumulates the update that
    gives ``W_{i+1}``; sweep 0 only accumulates ``W_1``.
    """
    mean = float(V.mean(dtype=torch.float64))
    lam = sparsity * mean ** (beta - 1.0) if sparsity > 0 and mean > 0 else 0.0
    P = _Blocked(V, H, beta=beta, lam=lam)
    learn_w, learn_h = update in ("both", "W"), update in ("both", "H")
    if beta == 2.0:
        P.fixed_w, P.fixed_h = not learn_w, not learn_h
    losses: list[float] = []

    def converged(loss: float) -> bool:
        losses.append(loss)
        if tol <= 0 or len(losses) < 2:
            return False
        prev = losses[-2]
        return prev - loss <= tol * max(abs(prev), 1e-30)

    tick(0)
    converged(_pass(P, W, H, update_h=False, accumulate_w=learn_w, want_loss=True))
    if learn_w:
        _update_w(P, W, normalize=learn_h)
    done, stop = n_iter, False
    for it in range(1, n_iter + 1):
        if it % 5 == 0:
            tick(it)
        last = it == n_iter
        want = it % check_every == 0 or last
        loss = _pass(P, W, H, update_h=learn_h, accumulate_w=learn_w and not last, want_loss=want)
        if want and converged(loss):
            done, stop = it, True
            break
        if learn_w and not last:
            _update_w(P, W, normalize=learn_h)
    if P.h_scale is not None:  # cannot happen (no W update after the last sweep); be safe
        H.mul_(P.h_scale.unsqueeze(1))
    if learn_w and learn_h:
        _tidy_dead_components(W, H)
    return _Item(W=W, H=H, losses=losses, n_iter=done, converged=stop)


def _pass(
    P: _Blocked,
    W: torch.Tensor,
    H: torch.Tensor,
    *,
    update_h: bool,
    accumulate_w: bool,
    want_loss: bool,
) -> float:
    """One sweep over the frame blocks.

    Each block first takes any pending rescale of H's rows. With ``update_h`` it then gets its
    multiplicative update for the current ``W``. With ``accumulate_w`` its share of the ``W``
    update (for the current ``W`` and the new ``H``) is gathered into ``P.numW`` (``P.denW``,
    ``P.rows``, ``P.HHt``). With ``want_loss`` the objective of ``(W, new H)`` is returned,
    else NaN.
    """
    scale = None if P.h_scale is None else P.h_scale.unsqueeze(1)
    P.h_scale = None
    if P.beta == 2.0:
        return _pass_euclidean(
            P, W, scale, update_h=update_h, accumulate_w=accumulate_w, want_loss=want_loss
        )
    beta, lam, gamma = P.beta, P.lam, P.gamma
    Wt = W.T
    # For KL the H update's denominator is a per-row constant: fold it into W^T.
    Wt_kl = (W / (W.sum(dim=0) + lam).clamp_min_(EPS)).T if beta == 1.0 else Wt

    def sweep(s: _Scratch, blocks: list[_Block]) -> None:
        s.reset(w=accumulate_w, den=beta != 1.0)
        for blk in blocks:
            Vb, H_b, A, X, N, D = blk.V, blk.H, blk.A, blk.X, blk.N, blk.D
            if scale is not None:
                H_b.mul_(scale)
            if update_h:
                torch.mm(W, H_b, out=A)
                A.clamp_min_(EPS)
                if beta == 1.0:
                    torch.div(Vb, A, out=A)
                    H_b.mul_(torch.mm(Wt_kl, A, out=N))
                else:
                    _ratio_pair(A, X, Vb, beta)
                    torch.mm(Wt, X, out=N)
                    torch.mm(Wt, A, out=D)
                    if lam:
                        D.add_(lam)
                    N.div_(D.clamp_min_(EPS))
                    if gamma != 1.0:
                        N.pow_(gamma)
                    H_b.mul_(N)
                # Tiny activations become exactly 0, as in scikit-learn (no denormals).
                torch.threshold_(H_b, _TINY, 0.0)
            if not (accumulate_w or want_loss):
                continue
            torch.mm(W, H_b, out=A)
            A.clamp_min_(EPS)
            if beta == 1.0:
                s.rows.add_(H_b.sum(dim=1))  # for the W update and sum(W @ H)
            if want_loss:
                s.loss += _loss_block(P, blk)
                s.l1 += float(H_b.sum(dtype=torch.float64))
            if not accumulate_w:
                continue
            if beta == 1.0:
                torch.div(Vb, A, out=A)
                s.numW.addmm_(A, H_b.T)
            else:
                _ratio_pair(A, X, Vb, beta)
                s.numW.addmm_(X, H_b.T)
                s.denW.addmm_(A, H_b.T)

    P.run(sweep)
    log_term, l1 = P.gather(w=accumulate_w, den=beta != 1.0)
    if not want_loss:
        return math.nan
    return _finish_loss(P, W, log_term) + lam * l1


def _pass_euclidean(
    P: _Blocked,
    W: torch.Tensor,
    scale: torch.Tensor | None,
    *,
    update_h: bool,
    accumulate_w: bool,
    want_loss: bool,
) -> float:
    """:func:`_pass` for beta = 2, which never forms ``W @ H``.

    ``H *= W^T V / (W^T W H + lam)``; the ``W`` numerator is ``V H^T``; the loss is
    ``(|V|^2 - 2 <W^T V, H> + <W^T W, H H^T>) / 2`` from small matrices.
    """
    Wt = W.T
    WtW = Wt @ W
    lam = P.lam
    if P.fixed_w and P.WtV is None:
        P.WtV = [Wt @ blk.V for blk in P.blocks]
    if P.fixed_h and P.VHt is None:
        P.VHt = torch.zeros_like(P.numW)
        for blk in P.blocks:
            P.VHt.addmm_(blk.V, blk.H.T)
    WtV = P.WtV
    fresh_numerator = accumulate_w and P.VHt is None
    gram = accumulate_w or want_loss  # H H^T, for the W update and the loss

    def sweep(s: _Scratch, blocks: list[_Block]) -> None:
        s.reset(w=True, den=False)
        for blk in blocks:
            Vb, H_b, N, D = blk.V, blk.H, blk.N, blk.D
            if scale is not None:
                H_b.mul_(scale)
            if WtV is not None:
                N = WtV[blk.number]
            elif update_h or (want_loss and not accumulate_w):
                torch.mm(Wt, Vb, out=N)
            if update_h:
                torch.mm(WtW, H_b, out=D)
                if lam:
                    D.add_(lam)
                H_b.mul_(torch.div(N, D.clamp_min_(EPS), out=D))
            if want_loss and not accumulate_w:
                s.loss += float(torch.dot(H_b.reshape(-1), N.reshape(-1)))
            if fresh_numerator:
                s.numW.addmm_(Vb, H_b.T)
            if gram:
                s.HHt.addmm_(H_b, H_b.T)
            if want_loss and lam:
                s.l1 += float(H_b.sum(dtype=torch.float64))

    P.run(sweep)
    cross, l1 = P.gather(w=True, den=False)
    if accumulate_w and P.VHt is not None:
        P.numW.copy_(P.VHt)
    if not want_loss:
        return math.nan
    if accumulate_w:
        cross = float(torch.dot(W.view(-1), P.numW.view(-1)))
    quad = float(torch.dot(WtW.view(-1).double(), P.HHt.view(-1).double()))
    loss = 0.5 * max(P.const - 2.0 * cross + quad, 0.0)
    return loss + lam * l1


def _ratio_pair(A: torch.Tensor, X: torch.Tensor, Vb: torch.Tensor, beta: float) -> None:
    """In place: ``X = V * A**(beta - 2)`` and ``A = A**(beta - 1)`` for the general update."""
    if beta == 0.0:
        A.reciprocal_()
        torch.mul(Vb, A, out=X)
        X.mul_(A)
    else:
        torch.pow(A, beta - 2.0, out=X)
        A.mul_(X)
        X.mul_(Vb)


def _loss_block(P: _Blocked, blk: _Block) -> float:
    """Return a block's divergence terms that need the floored model ``blk.A`` (X: scratch)."""
    beta, A, X, Vb = P.beta, blk.A, blk.X, blk.V
    if beta == 1.0:
        torch.log(A, out=X)  # sum V log(WH)
        return float(torch.dot(Vb.view(-1), X.view(-1)))
    if blk.mask is not None:
        mask = blk.mask.view(-1)
        torch.div(Vb, A, out=X)  # sum over V > eps of V / WH + log WH
        s = float(torch.dot(mask, X.view(-1)))
        torch.log(A, out=X)
        return s + float(torch.dot(mask, X.view(-1)))
    torch.pow(A, beta - 1.0, out=X)  # (beta - 1) sum WH^beta - beta sum V WH^(beta - 1)
    s_v = float(torch.dot(Vb.view(-1), X.view(-1)))
    s_a = float(torch.dot(A.view(-1), X.view(-1)))
    return (beta - 1.0) * s_a - beta * s_v


def _finish_loss(P: _Blocked, W: torch.Tensor, log_term: float) -> float:
    """Combine the per-block terms with the constants into the beta-divergence."""
    beta = P.beta
    if beta == 1.0:
        # sum(W @ H) = colsum(W) . rowsum(H); P.rows holds rowsum(H) of this sweep's H.
        sum_wh = float(torch.dot(W.sum(dim=0), P.rows))
        return max(P.const - log_term - P.sum_v + sum_wh, 0.0)
    if beta == 0.0:
        return max(log_term - P.const, 0.0)
    return max((P.const + log_term) / (beta * (beta - 1.0)), 0.0)


def _update_w(P: _Blocked, W: torch.Tensor, *, normalize: bool) -> None:
    """Apply the gathered ``W`` update; optionally rescale to unit-sum columns.

    The matching rescale of ``H``'s rows is left in ``P.h_scale`` for the next sweep.
    """
    beta = P.beta
    if beta == 1.0:
        W.mul_(P.numW.div_(P.rows.clamp_min(EPS)))
    elif beta == 2.0:
        W.mul_(P.numW.div_((W @ P.HHt).clamp_min_(EPS)))
    else:
        ratio = P.numW.div_(P.denW.clamp_min_(EPS))
        if P.gamma != 1.0:
            ratio.pow_(P.gamma)
        W.mul_(ratio)
        if beta < 1.0:
            torch.threshold_(W, _TINY, 0.0)  # as scikit-learn, for stability
    if normalize:
        scale = W.sum(dim=0)
        scale.masked_fill_(scale <= 0, 1.0)
        W.div_(scale)
        P.h_scale = scale


def _tidy_dead_components(W: torch.Tensor, H: torch.Tensor) -> None:
    """Give an all-zero component a flat unit-sum spectrum and no activation (W @ H unchanged)."""
    dead = W.sum(dim=0) <= 0
    if bool(dead.any()):
        W[:, dead] = 1.0 / W.shape[0]
        H[dead] = 0.0
