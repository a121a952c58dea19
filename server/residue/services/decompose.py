"""Decomposing a sound into NMF units, and opening stored decompositions for rendering."""

from __future__ import annotations

import json

import numpy as np

from residue import protocol
from residue.dsp import nmf, spectral
from residue.dsp.progress import CancelToken, ProgressFn
from residue.services.context import Context, OpenDecomposition
from residue.services.sounds import load_audio, region


def settings_key(settings: dict[str, object]) -> str:
    """A canonical string of decomposition settings: the cache key."""
    return json.dumps(settings, sort_keys=True, separators=(",", ":"))


def decompose(
    ctx: Context,
    request: protocol.Decompose,
    *,
    progress: ProgressFn,
    cancel: CancelToken,
) -> tuple[OpenDecomposition, bool]:
    """Decompose the requested region, or reuse the stored result of the same settings.

    Stereo sounds share one set of components across channels (the channels' spectrograms are
    concatenated in time), so that unit ``k`` is the same instrument on the left and the right.

    Returns the open decomposition and whether it came from the cache.
    """
    record, y = load_audio(ctx, request.sound_id)
    span = region(record, start_s=request.start_s, end_s=request.end_s)
    settings: dict[str, object] = {
        "sound_id": record.sound_id,
        "n_components": request.n_components,
        "beta": request.beta,
        "n_iter": request.n_iter,
        "start": span.start,
        "stop": span.stop,
        "seed": request.seed,
        "n_fft": spectral.N_FFT,
        "hop_length": spectral.HOP_LENGTH,
    }
    key = settings_key(settings)
    found = ctx.store.decompositions.find(record.sound_id, key)
    if found is not None:
        return open_decomposition(ctx, found.decomposition_id), True

    progress(0.0, "reading")
    D = spectral.stft(y[:, span.start : span.stop], device=ctx.settings.device)
    S = np.abs(D)
    n_channels = S.shape[0]
    V = np.concatenate(list(S), axis=-1)  # (F, C*T): channels share the components
    cancel.raise_if_cancelled()
    result = nmf.decompose(
        V,
        n_components=request.n_components,
        beta=request.beta,
        n_iter=request.n_iter,
        rng=np.random.default_rng(request.seed),
        device=ctx.settings.device,
        progress=lambda f, stage: progress(0.02 + 0.95 * f, stage),
        cancel=cancel,
    )
    H = np.stack(np.split(result.H, n_channels, axis=-1))  # (C, K, T)
    progress(0.98, "saving")
    stored = ctx.store.decompositions.add(
        record.sound_id,
        key=key,
        settings=settings,
        arrays={"W": result.W, "H": H, "loss": result.loss},
    )
    opened = OpenDecomposition(
        record=stored,
        sound=record,
        D=D,
        W=result.W,
        H=H,
        loss=result.loss,
        n_fft=spectral.N_FFT,
        hop_length=spectral.HOP_LENGTH,
        start_sample=span.start,
        length=span.stop - span.start,
    )
    ctx.decompositions.put(stored.decomposition_id, opened)
    progress(1.0, "done")
    return opened, False


def open_decomposition(ctx: Context, decomposition_id: str) -> OpenDecomposition:
    """Load a stored decomposition with its region's STFT (cached in memory)."""

    def load() -> OpenDecomposition:
        record, arrays = ctx.store.decompositions.load(decomposition_id)
        sound, y = load_audio(ctx, record.sound_id)
        start, stop = int(record.settings["start"]), int(record.settings["stop"])
        n_fft, hop = int(record.settings["n_fft"]), int(record.settings["hop_length"])
        D = spectral.stft(y[:, start:stop], n_fft=n_fft, hop_length=hop, device=ctx.settings.device)
        return OpenDecomposition(
            record=record,
            sound=sound,
            D=D,
            W=arrays["W"],
            H=arrays["H"],
            loss=arrays["loss"],
            n_fft=n_fft,
            hop_length=hop,
            start_sample=start,
            length=stop - start,
        )

    opened: OpenDecomposition = ctx.decompositions.get_or_make(decomposition_id, load)
    return opened


def _unit_scale(x: np.ndarray) -> np.ndarray:
    """Scale each row to max 1 (silent rows stay 0)."""
    peak = x.max(axis=-1, keepdims=True)
    out: np.ndarray = np.divide(x, peak, out=np.zeros_like(x), where=peak > 0)
    return out.astype(np.float32)


def decomposition_frame(
    opened: OpenDecomposition, *, request_id: int, cached: bool
) -> protocol.Decomposition:
    """The wire view: display curves of components and activations, plus unit loudness."""
    sr, hop = opened.sr, opened.hop_length
    curves = spectral.log_frequency_rows(opened.W, sr=sr, n_fft=opened.n_fft).T  # (K, rows)
    activations = opened.H.sum(axis=0)  # (K, T), channels summed
    # Loudness of each unit: energy of its model spectrogram, in dB relative to the loudest.
    energy = (opened.W**2).sum(axis=0) * (opened.H**2).sum(axis=(0, 2))
    ref = float(energy.max()) if energy.size and energy.max() > 0 else 1.0
    rms_db = [round(10 * float(np.log10(max(e / ref, 1e-12))), 2) for e in energy]
    settings = opened.record.settings
    return protocol.Decomposition(
        request_id=request_id,
        decomposition_id=opened.record.decomposition_id,
        sound_id=opened.sound.sound_id,
        n_components=opened.n_components,
        beta=float(settings["beta"]),
        n_rows=curves.shape[-1],
        n_frames=activations.shape[-1],
        frame_offset=round(opened.start_sample / hop),
        hop_s=hop / sr,
        start_s=opened.start_sample / sr,
        end_s=(opened.start_sample + opened.length) / sr,
        components=_unit_scale(np.ascontiguousarray(curves)).tobytes(),
        activations=_unit_scale(activations).tobytes(),
        unit_rms_db=rms_db,
        loss=[float(v) for v in opened.loss[-50:]],
        cached=cached,
    )
