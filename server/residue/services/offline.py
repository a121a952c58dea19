"""Use cases for the command line: files in, files out, no server and no store needed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from residue.config import Settings
from residue.dsp import components, nmf, spectral, units
from residue.dsp.progress import ProgressFn, no_progress
from residue.errors import ParameterError
from residue.services.audio_io import read_audio_file, write_wav

Strategy = Literal["nearest", "random", "weird"]
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff"}


@dataclass(frozen=True)
class FileDecomposition:
    """A decomposed file: its STFT, shared components W (F, K) and activations H (C, K, T)."""

    name: str
    y: np.ndarray
    sr: int
    D: np.ndarray
    W: np.ndarray
    H: np.ndarray
    loss: np.ndarray

    @property
    def W_channels(self) -> np.ndarray:
        """W broadcast to (C, F, K)."""
        return np.broadcast_to(self.W, (self.H.shape[0], *self.W.shape))


def decompose_file(
    path: Path,
    *,
    n_components: int,
    beta: float = 1.0,
    n_iter: int = 200,
    seed: int = 0,
    settings: Settings,
    progress: ProgressFn = no_progress,
) -> FileDecomposition:
    """Read ``path`` and decompose it into ``n_components`` units (channels share components)."""
    audio = read_audio_file(path, settings=settings)
    D = spectral.stft(audio.y, device=settings.device)
    S = np.abs(D)
    result = nmf.decompose(
        np.concatenate(list(S), axis=-1),
        n_components=n_components,
        beta=beta,
        n_iter=n_iter,
        rng=np.random.default_rng(seed),
        device=settings.device,
        progress=progress,
    )
    H = np.stack(np.split(result.H, S.shape[0], axis=-1))
    return FileDecomposition(path.stem, audio.y, audio.sr, D, result.W, H, result.loss)


def write_decomposition(dec: FileDecomposition, out: Path) -> list[Path]:
    """Write each unit as WAV, W/H as .npy, a PNG of both, and settings.json into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    each = units.render_each(
        dec.D, dec.W_channels, dec.H, length=dec.y.shape[-1], hop_length=spectral.HOP_LENGTH
    )
    written = []
    for k, y in enumerate(each):
        path = out / f"{dec.name} unit {k + 1:02d}.wav"
        write_wav(path, y, sr=dec.sr)
        written.append(path)
    np.save(out / "components.npy", dec.W, allow_pickle=False)
    np.save(out / "activations.npy", dec.H, allow_pickle=False)
    written += [out / "components.npy", out / "activations.npy"]
    png = out / "units.png"
    plot_units(dec, png)
    written.append(png)
    meta = {
        "source": dec.name,
        "sample_rate": dec.sr,
        "n_fft": spectral.N_FFT,
        "hop_length": spectral.HOP_LENGTH,
        "n_components": int(dec.W.shape[-1]),
        "components_shape": list(dec.W.shape),
        "activations_shape": list(dec.H.shape),
        "final_loss": float(dec.loss[-1]) if dec.loss.size else None,
    }
    (out / "settings.json").write_text(json.dumps(meta, indent=2))
    written.append(out / "settings.json")
    return written


def plot_units(dec: FileDecomposition, path: Path) -> None:
    """A PNG: each unit's component (log-frequency spectrum) beside its activation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = dec.W.shape[-1]
    curves = spectral.log_frequency_rows(dec.W, sr=dec.sr, n_fft=spectral.N_FFT).T
    freqs = spectral.row_frequencies(sr=dec.sr)
    acts = dec.H.sum(axis=0)
    t = np.arange(acts.shape[-1]) * spectral.HOP_LENGTH / dec.sr
    fig, axes = plt.subplots(
        k, 2, figsize=(10, 1.2 * k + 0.6), squeeze=False, gridspec_kw={"width_ratios": [1, 3]}
    )
    for i in range(k):
        axes[i, 0].semilogx(freqs, curves[i], color="#e0a040")
        axes[i, 0].set_yticks([])
        axes[i, 0].set_ylabel(f"unit {i + 1}", rotation=0, ha="right", va="center")
        axes[i, 1].plot(t, acts[i], color="#40a0e0")
        axes[i, 1].set_yticks([])
        if i < k - 1:
            axes[i, 0].set_xticklabels([])
            axes[i, 1].set_xticklabels([])
    axes[-1, 0].set_xlabel("Hz")
    axes[-1, 1].set_xlabel("s")
    axes[0, 0].set_title("component")
    axes[0, 1].set_title("activation")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


@dataclass(frozen=True)
class RemixResult:
    """A remix: the audio, its rate, and which library component each unit took."""

    y: np.ndarray
    sr: int
    plan: list[dict[str, object]]


def library_from_files(
    paths: list[Path], *, n_components: int, settings: Settings, progress: ProgressFn = no_progress
) -> list[tuple[str, np.ndarray, int]]:
    """Components of audio files: ``(name, w, sr)`` for every unit of every file."""
    found: list[tuple[str, np.ndarray, int]] = []
    for i, path in enumerate(paths):
        stage = f"library {path.name}"
        dec = decompose_file(
            path,
            n_components=n_components,
            settings=settings,
            progress=lambda f, s, i=i, stage=stage: progress((i + f) / len(paths), stage),
        )
        found += [(f"{dec.name} unit {k + 1}", dec.W[:, k], dec.sr) for k in range(dec.W.shape[-1])]
    return found


def remix(
    dec: FileDecomposition,
    library: list[tuple[str, np.ndarray, int]],
    *,
    strategy: Strategy,
    seed: int = 0,
) -> RemixResult:
    """Replace every component of ``dec`` with a library component chosen by ``strategy``."""
    if not library:
        raise ParameterError("the library is empty: nothing to remix with")
    target = [
        components.resample_component(
            w, sr_from=sr, n_fft_from=spectral.N_FFT, sr_to=dec.sr, n_fft_to=spectral.N_FFT
        )
        for _, w, sr in library
    ]
    describe = components.describe_component
    cand = np.stack(
        [components.descriptor_vector(describe(w, sr=dec.sr, n_fft=spectral.N_FFT)) for w in target]
    )
    query = np.stack(
        [
            components.descriptor_vector(describe(dec.W[:, k], sr=dec.sr, n_fft=spectral.N_FFT))
            for k in range(dec.W.shape[-1])
        ]
    )
    match = components.match_components(
        query,
        cand,
        strategy=strategy,
        rng=np.random.default_rng(seed),
    )
    edits = {k: units.UnitEdit(component=target[int(i)]) for k, i in enumerate(match.indices)}
    y = units.render_units(
        dec.D,
        dec.W_channels,
        dec.H,
        edits=edits,
        length=dec.y.shape[-1],
        hop_length=spectral.HOP_LENGTH,
    )
    plan = [
        {"unit": k + 1, "component": library[int(i)][0], "distance": round(float(d), 4)}
        for k, (i, d) in enumerate(zip(match.indices, match.distances, strict=True))
    ]
    return RemixResult(y, dec.sr, plan)


def audio_files(path: Path) -> list[Path]:
    """``path`` itself if it is an audio file, else the audio files directly inside it."""
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
    raise ParameterError(f"{path} does not exist")
