"""The timbre VAE: a 1-D convolutional ResNet that maps timbre vectors to a 32-d latent space.

Encoder: the 1233-value vector (see :mod:`residue.dsp.timbre`) as one channel, a strided stem
convolution and residual blocks at three resolutions (each step down by 4 with a strided
convolution), flattened into a linear layer that gives the mean and log-variance of a
diagonal Gaussian over :data:`LATENT_DIM` dimensions. Decoder: the mirror image, a linear layer
and residual blocks with transposed convolutions back up to 1233 values through a sigmoid
(vectors live in ``[0, 1]``).

Loss: ``MSE(x, x_hat) + kl_weight * KL(q(z|x) || N(0, I)) / n_bins`` (the KL of a sample summed
over latent dimensions, divided by the number of bins so the weight does not depend on the
vector size). At inference the model is deterministic: :meth:`TimbreModel.encode` returns the
mean, never a sample.

A saved model is one ``torch.save`` file of plain tensors and JSON-like values (loaded with
``weights_only=True``): the format name and :data:`FORMAT_VERSION`, the architecture, the
weights, the loss history and the provenance of its training set. A file of another format
version is refused with a message that says to retrain.

The *default model* is trained on first use from sounds residue can always make
(:func:`default_training_set`): its own synthesizers (sustained notes and chords of every
preset), the pad of the demo loops, procedural noise textures, and, when FluidSynth and a
General MIDI SoundFont are installed, sustained notes of many GM programs.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from residue.dsp import timbre
from residue.dsp._validate import check_float, check_int
from residue.dsp.progress import CancelToken, ProgressFn, no_progress
from residue.errors import ModelUnavailableError, ParameterError

FORMAT = "residue-timbre-vae"
"""Format name stored in every model file."""
FORMAT_VERSION = 1
"""Version of the file layout and architecture; files of another version are refused."""
LATENT_DIM = 32
"""Size of the latent space."""
CHANNELS = (16, 32, 64)
"""Channels at the three resolutions of the encoder (mirrored by the decoder)."""
EPOCHS = 30
"""Default training epochs."""
BATCH_SIZE = 128
"""Default batch size."""
LEARNING_RATE = 2e-3
"""Default Adam learning rate."""
KL_WEIGHT = 0.2
"""Default weight of the KL term (see the module docstring for its scaling).

On the default training set, 0.2 trades a little reconstruction (MSE 0.011 against 0.008 at
0.01) for prior samples that are closer to real sounds and more varied, which is what songs
draw from."""
MAX_EPOCHS = 10_000
MAX_ANCHORS = 2000
"""Most training latents a model keeps for the map."""
MAX_VECTORS = 2_000_000

OnEpoch = Callable[[int, float, float], None]
"""Called after every epoch with ``(epoch, reconstruction MSE, KL per sample)``."""


@dataclass(frozen=True)
class VAEConfig:
    """Architecture of a :class:`TimbreVAE`.

    Attributes
    ----------
    n_bins : int
        Length of the vectors.
    latent_dim : int
        Size of the latent space.
    channels : tuple of int
        Channels at the three resolutions.
    """

    n_bins: int = timbre.N_BINS
    latent_dim: int = LATENT_DIM
    channels: tuple[int, int, int] = CHANNELS

    def checked(self) -> VAEConfig:
        """Return the config after checking its values."""
        check_int("n_bins", self.n_bins, lo=64, hi=65_536)
        check_int("latent_dim", self.latent_dim, lo=1, hi=1024)
        if len(self.channels) != 3:
            raise ParameterError(f"channels must have 3 values, got {self.channels}")
        for c in self.channels:
            check_int("channels", c, lo=1, hi=1024)
        return self


class _ResBlock(nn.Module):
    """``x + conv(act(conv(act(x))))`` at a fixed length and width."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv1d(channels, channels, 3, padding=1)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = x + self.conv2(self.act(self.conv1(self.act(x))))
        return out


def _lengths(n_bins: int) -> tuple[int, int, int]:
    l1 = (n_bins + 2 * 4 - 9) // 4 + 1  # stem: kernel 9, stride 4, padding 4
    l2 = (l1 - 4) // 4 + 1
    l3 = (l2 - 4) // 4 + 1
    return l1, l2, l3


class TimbreVAE(nn.Module):
    """The network: :meth:`encode` to (mean, log-variance), :meth:`decode` back to vectors."""

    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        self.config = config.checked()
        c0, c1, c2 = config.channels
        l1, l2, l3 = _lengths(config.n_bins)
        if l3 < 1:
            raise ParameterError(f"n_bins={config.n_bins} is too short for the encoder")
        self.l3 = l3
        # No residual block at the finest resolution: there it costs more than the rest of
        # the network together, and the stem's 9-tap kernel already sees 2.5 rows per output.
        self.encoder = nn.Sequential(
            nn.Conv1d(1, c0, 9, stride=4, padding=4),
            nn.SiLU(),
            nn.Conv1d(c0, c1, 4, stride=4),
            _ResBlock(c1),
            nn.Conv1d(c1, c2, 4, stride=4),
            _ResBlock(c2),
            nn.SiLU(),
        )
        self.to_latent = nn.Linear(c2 * l3, 2 * config.latent_dim)
        self.from_latent = nn.Linear(config.latent_dim, c2 * l3)
        # Output paddings make the transposed convolutions land on the encoder's lengths.
        self.decoder = nn.Sequential(
            _ResBlock(c2),
            nn.ConvTranspose1d(c2, c1, 4, stride=4, output_padding=l2 - 4 * l3),
            _ResBlock(c1),
            nn.ConvTranspose1d(c1, c0, 4, stride=4, output_padding=l1 - 4 * l2),
            nn.SiLU(),
            nn.ConvTranspose1d(
                c0, 1, 9, stride=4, padding=4, output_padding=config.n_bins - (4 * l1 - 3)
            ),
        )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, n_bins) -> mean, log-variance, each (B, latent_dim)."""
        h = self.encoder(x.unsqueeze(1)).flatten(1)
        mean, logvar = self.to_latent(h).chunk(2, dim=-1)
        return mean, logvar.clamp(-12.0, 8.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, latent_dim) -> (B, n_bins) in (0, 1)."""
        h = self.from_latent(z).view(z.shape[0], self.config.channels[2], self.l3)
        out: torch.Tensor = torch.sigmoid(self.decoder(h).squeeze(1))
        return out

    def forward(
        self, x: torch.Tensor, noise: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruct ``x`` through a latent sample (``mean + noise * std``; no noise: mean)."""
        mean, logvar = self.encode(x)
        z = mean if noise is None else mean + noise * torch.exp(0.5 * logvar)
        return self.decode(z), mean, logvar


# ---------------------------------------------------------------------------------------------
# The inference wrapper


@dataclass(frozen=True, eq=False)
class TimbreModel:
    """A trained VAE with numpy in and out, deterministic, and what it was trained on.

    Attributes
    ----------
    vae : TimbreVAE
        In eval mode; do not train it further in place.
    provenance : dict
        JSON object describing the training set and training settings.
    loss : np.ndarray [shape=(n_epochs,), dtype=float32]
        Total loss per epoch.
    model_id : str
        First 16 hex digits of the sha256 of the weights: names the model in song recipes.
    anchors : np.ndarray [shape=(n_anchors, latent_dim), dtype=float32]
        Latents of up to :data:`MAX_ANCHORS` training vectors: the model's own sounds on the
        2-D map, so a fresh install's map is not empty.
    anchor_labels : tuple of str
        What each anchor is.
    """

    vae: TimbreVAE
    provenance: dict[str, Any] = field(default_factory=dict)
    loss: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    model_id: str = ""
    anchors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    anchor_labels: tuple[str, ...] = ()

    @property
    def latent_dim(self) -> int:
        """Size of the latent space."""
        return self.vae.config.latent_dim

    @property
    def n_bins(self) -> int:
        """Length of the vectors."""
        return self.vae.config.n_bins

    def check_latents(self, z: np.ndarray, *, name: str = "z") -> np.ndarray:
        """Check latents of shape ``(n, latent_dim)`` or ``(latent_dim,)``; return float32 2-D.

        Raises
        ------
        ParameterError
            If the size is wrong or a value is not finite.
        """
        if not isinstance(z, np.ndarray):
            raise ParameterError(f"{name} must be a numpy array, got {type(z).__name__}")
        if z.ndim not in (1, 2) or z.shape[-1] != self.latent_dim:
            raise ParameterError(
                f"{name} has shape {z.shape}; this model's latent has {self.latent_dim} values "
                f"(shape ({self.latent_dim},) or (n, {self.latent_dim}))"
            )
        if z.dtype.kind not in "biuf":
            raise ParameterError(f"{name} must be real-valued, got dtype {z.dtype}")
        z32 = np.asarray(z, dtype=np.float32).reshape(-1, self.latent_dim)
        if not np.all(np.isfinite(z32)):
            raise ParameterError(f"{name} contains NaN or infinite values")
        return z32

    def encode(self, v: np.ndarray) -> np.ndarray:
        """Latent means of timbre vectors.

        Parameters
        ----------
        v : np.ndarray [shape=(n, n_bins) or (n_bins,), dtype=float]

        Returns
        -------
        z : np.ndarray [shape=(n, latent_dim), dtype=float32]

        Raises
        ------
        ParameterError
            If ``v`` has the wrong size.
        """
        v32 = timbre.check_vectors(v) if self.n_bins == timbre.N_BINS else _check_any(v, self)
        flat = v32.reshape(-1, self.n_bins)
        out = []
        with torch.inference_mode():
            for start in range(0, flat.shape[0], 4096):
                mean, _ = self.vae.encode(torch.from_numpy(flat[start : start + 4096]))
                out.append(mean.numpy())
        if not out:
            return np.zeros((0, self.latent_dim), dtype=np.float32)
        return np.concatenate(out).astype(np.float32, copy=False)

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Timbre vectors of latent points.

        Parameters
        ----------
        z : np.ndarray [shape=(n, latent_dim) or (latent_dim,), dtype=float]

        Returns
        -------
        v : np.ndarray [shape=(n, n_bins), dtype=float32]

        Raises
        ------
        ParameterError
            If ``z`` has the wrong size (the message names the model's latent size).
        """
        z32 = self.check_latents(z)
        out = []
        with torch.inference_mode():
            for start in range(0, z32.shape[0], 4096):
                out.append(self.vae.decode(torch.from_numpy(z32[start : start + 4096])).numpy())
        if not out:
            return np.zeros((0, self.n_bins), dtype=np.float32)
        return np.concatenate(out).astype(np.float32, copy=False)


def _check_any(v: np.ndarray, model: TimbreModel) -> np.ndarray:
    if not isinstance(v, np.ndarray) or v.ndim < 1 or v.shape[-1] != model.n_bins:
        shape = getattr(v, "shape", None)
        raise ParameterError(f"v must have shape (..., {model.n_bins}), got {shape}")
    v32 = np.asarray(v, dtype=np.float32)
    if not np.all(np.isfinite(v32)):
        raise ParameterError("v contains NaN or infinite values")
    return v32


def _model_id(vae: TimbreVAE) -> str:
    h = hashlib.sha256()
    for name, tensor in sorted(vae.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def _finish(
    vae: TimbreVAE,
    provenance: dict[str, Any],
    loss: np.ndarray,
    anchors: np.ndarray | None = None,
    anchor_labels: tuple[str, ...] = (),
) -> TimbreModel:
    vae.eval()
    for p in vae.parameters():
        p.requires_grad_(False)
    dim = vae.config.latent_dim
    return TimbreModel(
        vae=vae,
        provenance=dict(provenance),
        loss=np.asarray(loss, dtype=np.float32),
        model_id=_model_id(vae),
        anchors=np.zeros((0, dim), np.float32) if anchors is None else anchors.astype(np.float32),
        anchor_labels=tuple(anchor_labels),
    )


# ---------------------------------------------------------------------------------------------
# Training


class TrainResult(NamedTuple):
    """What :func:`train` returns.

    Attributes
    ----------
    model : TimbreModel
    loss : np.ndarray [shape=(n_epochs,), dtype=float32]
        Total loss per epoch (mean over the epoch's batches).
    recon : np.ndarray [shape=(n_epochs,), dtype=float32]
        Reconstruction MSE per epoch.
    kl : np.ndarray [shape=(n_epochs,), dtype=float32]
        KL divergence per sample (nats, summed over latent dimensions) per epoch.
    seconds : float
        Wall time of training.
    """

    model: TimbreModel
    loss: np.ndarray
    recon: np.ndarray
    kl: np.ndarray
    seconds: float


def new_model(config: VAEConfig | None = None, *, seed: int = 0) -> TimbreVAE:
    """Build an untrained network with weights drawn from ``seed``."""
    cfg = (config or VAEConfig()).checked()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return TimbreVAE(cfg)


def train(
    vectors: np.ndarray,
    *,
    epochs: int = EPOCHS,
    batch_size: int = BATCH_SIZE,
    lr: float = LEARNING_RATE,
    kl_weight: float = KL_WEIGHT,
    seed: int = 0,
    config: VAEConfig | None = None,
    provenance: Mapping[str, Any] | None = None,
    labels: tuple[str, ...] | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    on_epoch: OnEpoch | None = None,
) -> TrainResult:
    """Train a timbre VAE on vectors.

    Adam with the learning rate decayed along a half cosine to a tenth over the epochs;
    batches are shuffled by a generator seeded with ``seed``, which also draws the weights and
    the reparameterisation noise, so the same vectors and settings give the same model (on the
    same machine and thread count).

    Parameters
    ----------
    vectors : np.ndarray [shape=(n, n_bins), dtype=float]
        Training vectors in ``[0, 1]``, at least 2.
    epochs : int
        Passes over the data, 1 to 10000.
    batch_size : int
        Vectors per step, 1 to 65536.
    lr : float
        Adam's learning rate, in ``(0, 1]``.
    kl_weight : float
        Weight of the KL term, in ``[0, 100]``.
    seed : int
        Seed of weights, shuffling and noise.
    config : VAEConfig or None
        Architecture (default: 1233 bins, 32 latent dims, channels 16-32-64).
    provenance : mapping or None
        Stored with the model (where the vectors came from); training settings are added.
    labels : tuple of str or None
        One per vector; kept with the model's anchors (see :attr:`TimbreModel.anchors`).
    progress : ProgressFn or None
        Called after every batch with ``(fraction, "training")``.
    cancel : CancelToken or None
        Checked after every batch.
    on_epoch : callable or None
        ``on_epoch(epoch, recon, kl)`` after every epoch: the loss curve for a page.

    Returns
    -------
    TrainResult

    Raises
    ------
    ParameterError
        If the vectors or a setting are out of range.
    JobCancelled
        If ``cancel`` was set.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> v = rng.random((64, 1233)).astype(np.float32)
    >>> res = train(v, epochs=2, batch_size=32, config=VAEConfig(latent_dim=4, channels=(4, 4, 4)))
    >>> res.model.decode(np.zeros(4)).shape, res.loss.shape
    ((1, 1233), (2,))
    """
    cfg = (config or VAEConfig()).checked()
    epochs = check_int("epochs", epochs, lo=1, hi=MAX_EPOCHS)
    batch_size = check_int("batch_size", batch_size, lo=1, hi=65_536)
    lr = check_float("lr", lr, lo=1e-8, hi=1.0)
    kl_weight = check_float("kl_weight", kl_weight, lo=0.0, hi=100.0)
    seed = check_int("seed", seed, lo=0, hi=2**63 - 1)
    if not isinstance(vectors, np.ndarray) or vectors.ndim != 2 or vectors.shape[1] != cfg.n_bins:
        shape = getattr(vectors, "shape", None)
        raise ParameterError(f"vectors must have shape (n, {cfg.n_bins}), got {shape}")
    X = np.asarray(vectors, dtype=np.float32)
    n = X.shape[0]
    check_int("number of vectors", n, lo=2, hi=MAX_VECTORS)
    if not np.all(np.isfinite(X)):
        raise ParameterError("vectors contain NaN or infinite values")
    X = np.clip(X, 0.0, 1.0)
    report = progress if progress is not None else no_progress

    t0 = time.perf_counter()
    vae = new_model(cfg, seed=seed)
    vae.train()
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(vae.parameters(), lr=lr)
    data = torch.from_numpy(np.ascontiguousarray(X))
    steps_per_epoch = math.ceil(n / batch_size)
    total_steps = epochs * steps_per_epoch
    hist_loss, hist_recon, hist_kl = [], [], []
    step = 0
    for epoch in range(epochs):
        for group in opt.param_groups:  # half-cosine decay to lr / 10
            group["lr"] = lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * epoch / epochs)))
        order = torch.randperm(n, generator=gen)
        sums = np.zeros(3)
        for start in range(0, n, batch_size):
            x = data[order[start : start + batch_size]]
            noise = torch.randn((x.shape[0], cfg.latent_dim), generator=gen)
            recon, mean, logvar = vae(x, noise)
            mse = torch.mean((recon - x) ** 2)
            kl = torch.mean(torch.sum(0.5 * (mean**2 + logvar.exp() - 1.0 - logvar), dim=-1))
            loss = mse + kl_weight * kl / cfg.n_bins
            opt.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            w = x.shape[0] / n
            sums += w * np.array([loss.item(), mse.item(), kl.item()])
            step += 1
            if cancel is not None:
                cancel.raise_if_cancelled()
            report(step / total_steps, "training")
        hist_loss.append(sums[0])
        hist_recon.append(sums[1])
        hist_kl.append(sums[2])
        if on_epoch is not None:
            on_epoch(epoch, float(sums[1]), float(sums[2]))
    seconds = time.perf_counter() - t0
    prov: dict[str, Any] = dict(provenance or {})
    prov["training"] = {
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "kl_weight": kl_weight,
        "seed": seed,
        "n_vectors": n,
        "vectors_sha256": hashlib.sha256(np.ascontiguousarray(X).tobytes()).hexdigest(),
        "final_recon_mse": round(float(hist_recon[-1]), 6),
        "final_kl": round(float(hist_kl[-1]), 4),
        "seconds": round(seconds, 2),
    }
    loss_arr = np.asarray(hist_loss, dtype=np.float32)
    if labels is not None and len(labels) != n:
        raise ParameterError(f"labels has {len(labels)} entries for {n} vectors")
    pick = np.sort(
        np.random.default_rng(seed).choice(n, size=min(n, MAX_ANCHORS), replace=False)
    )
    vae.eval()
    with torch.inference_mode():
        anchors = vae.encode(data[torch.from_numpy(pick)])[0].numpy()
    anchor_labels = tuple(labels[i] for i in pick) if labels is not None else ()
    return TrainResult(
        model=_finish(vae, prov, loss_arr, anchors, anchor_labels),
        loss=loss_arr,
        recon=np.asarray(hist_recon, dtype=np.float32),
        kl=np.asarray(hist_kl, dtype=np.float32),
        seconds=seconds,
    )


# ---------------------------------------------------------------------------------------------
# Files


def save_model(model: TimbreModel, path: Path) -> Path:
    """Write a model file atomically (a temporary file in the same folder, then a rename).

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "config": json.dumps(asdict(model.vae.config)),
        "provenance": json.dumps(model.provenance, allow_nan=False),
        "loss": torch.from_numpy(np.asarray(model.loss, dtype=np.float32).copy()),
        "model_id": model.model_id,
        "anchors": torch.from_numpy(np.ascontiguousarray(model.anchors, dtype=np.float32)),
        "anchor_labels": json.dumps(list(model.anchor_labels)),
        "state_dict": {k: v.detach().clone() for k, v in model.vae.state_dict().items()},
    }
    buf = io.BytesIO()
    torch.save(payload, buf)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".pt", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(buf.getvalue())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_header(path: Path) -> dict[str, Any]:
    """Format, version, model id and provenance of a model file, without building the network.

    Raises
    ------
    ModelUnavailableError
        If the file is absent, unreadable or not a residue timbre model.
    """
    payload = _read_payload(path)
    return {
        "format": payload.get("format"),
        "version": payload.get("version"),
        "model_id": payload.get("model_id"),
        "provenance": json.loads(str(payload.get("provenance", "{}"))),
    }


def _read_payload(path: Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ModelUnavailableError(f"no timbre model file at {path}; train one first")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for a damaged or foreign file
        raise ModelUnavailableError(
            f"{path} is not a readable timbre model ({type(exc).__name__}); retrain it"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelUnavailableError(f"{path} is not a residue timbre model file; retrain it")
    return payload


def load_model(path: Path) -> TimbreModel:
    """Load a model written by :func:`save_model`.

    Raises
    ------
    ModelUnavailableError
        If the file is absent, damaged, not a timbre model, or of another format version (the
        message names both versions and says to retrain).
    """
    payload = _read_payload(path)
    version = payload.get("version")
    if version != FORMAT_VERSION:
        raise ModelUnavailableError(
            f"{path} is a timbre model of format version {version}; this residue reads version "
            f"{FORMAT_VERSION}. Retrain the model (the default model retrains itself)."
        )
    try:
        raw = json.loads(str(payload["config"]))
        cfg = VAEConfig(
            n_bins=int(raw["n_bins"]),
            latent_dim=int(raw["latent_dim"]),
            channels=(int(raw["channels"][0]), int(raw["channels"][1]), int(raw["channels"][2])),
        ).checked()
        vae = TimbreVAE(cfg)
        vae.load_state_dict(payload["state_dict"])
        provenance = json.loads(str(payload.get("provenance", "{}")))
        loss = np.asarray(payload.get("loss", torch.zeros(0)).numpy(), dtype=np.float32)
        anchors = np.asarray(payload["anchors"].numpy(), dtype=np.float32)
        anchor_labels = tuple(str(a) for a in json.loads(str(payload["anchor_labels"])))
        if anchors.ndim != 2 or (anchors.size and anchors.shape[1] != cfg.latent_dim):
            raise ValueError(f"anchors have shape {anchors.shape}")
    except (KeyError, IndexError, TypeError, ValueError, RuntimeError, ParameterError) as exc:
        raise ModelUnavailableError(
            f"{path} is a damaged timbre model ({exc}); retrain it"
        ) from None
    model = _finish(
        vae, provenance if isinstance(provenance, dict) else {}, loss, anchors, anchor_labels
    )
    if payload.get("model_id") not in (None, model.model_id):
        raise ModelUnavailableError(f"{path} does not match its recorded model id; retrain it")
    return model


# ---------------------------------------------------------------------------------------------
# The default model's training set: sounds residue can always make

DEFAULT_SEED = 0
"""Seed of the default training set and model."""
DEFAULT_EPOCHS = 40
"""Epochs of the default model (about 1200 vectors: well under a minute on 2 cores)."""
_NOTE_SLOT_S = 3.0  # one note every 3 s
_NOTE_LENGTH_S = 2.6
_CLIP_OFFSET_S = 0.3  # skip the attack: the model learns drones
_SYNTH_PITCHES = tuple(range(33, 94, 4))
_GM_PROGRAMS = tuple(range(0, 112, 4))  # melodic programs (112+ are percussion and effects)
_GM_PITCHES = (40, 52, 64, 76)
_CHORDS = ((0, 4, 7), (0, 3, 7), (0, 5, 7), (0, 7, 12), (0, 4, 7, 11), (0, 3, 7, 10), (0, 7))


class TrainingSet(NamedTuple):
    """Vectors to train on and where they came from.

    Attributes
    ----------
    vectors : np.ndarray [shape=(n, 1233), dtype=float32]
    labels : tuple of str
        One per vector: its source ("synth fm/bell 57", "soundfont 24/52", "pad 2", ...).
    provenance : dict
        JSON object: counts per source, seed, SoundFont used.
    """

    vectors: np.ndarray
    labels: tuple[str, ...]
    provenance: dict[str, Any]


def _note_clips(y: np.ndarray, n_notes: int, sr: int) -> np.ndarray:
    """The sustained 2 s of each note of a render with one note every 3 s."""
    length = round(timbre.CLIP_S * sr)
    clips = []
    for i in range(n_notes):
        start = round((i * _NOTE_SLOT_S + _CLIP_OFFSET_S) * sr)
        clip = y[start : start + length]
        clips.append(np.pad(clip, (0, length - clip.shape[0])))
    return np.stack(clips).astype(np.float32)


def _synth_clips(rng: np.random.Generator) -> tuple[list[np.ndarray], list[str]]:
    from residue.dsp import notes, synths

    sr = timbre.SR
    clips: list[np.ndarray] = []
    labels: list[str] = []
    for name, preset_names in synths.presets().items():
        for preset in preset_names:
            synth = synths.make_synth(name, preset=preset)
            events: list[tuple[float, tuple[int, ...]]] = []
            for i, pitch in enumerate(_SYNTH_PITCHES):
                events.append((i * _NOTE_SLOT_S, (pitch,)))
            for i in range(8):
                root = int(rng.integers(40, 77))
                chord = _CHORDS[int(rng.integers(len(_CHORDS)))]
                at = (len(_SYNTH_PITCHES) + i) * _NOTE_SLOT_S
                events.append((at, tuple(root + c for c in chord)))
            seq = notes.sequence(
                [
                    notes.make_note(p, t, t + _NOTE_LENGTH_S, velocity=int(rng.integers(70, 120)))
                    for t, chord in events
                    for p in chord
                ]
            )
            n = round(len(events) * _NOTE_SLOT_S * sr)
            y = synths.render(seq, synth=synth, sr=sr, length=n)
            clips.append(_note_clips(y, len(events), sr))
            labels += [f"synth {name}/{preset} {'+'.join(map(str, c))}" for _, c in events]
    return clips, labels


def _soundfont_clips(
    font_dirs: tuple[Path, ...],
) -> tuple[list[np.ndarray], list[str], str | None]:
    import mido

    from residue.models import soundfont

    state = soundfont.availability(font_dirs)
    if not state.available:
        return [], [], None
    font = state.fonts[0]
    ticks_per_s = 960  # 480 ticks per beat at the default 120 BPM
    track = mido.MidiTrack()
    events: list[tuple[int, mido.Message]] = []
    labels: list[str] = []
    slot = 0
    for program in _GM_PROGRAMS:
        for pitch in _GM_PITCHES:
            t_on = round(slot * _NOTE_SLOT_S * ticks_per_s)
            t_off = round((slot * _NOTE_SLOT_S + _NOTE_LENGTH_S) * ticks_per_s)
            events.append((t_on, mido.Message("program_change", program=program, channel=0)))
            events.append((t_on, mido.Message("note_on", note=pitch, velocity=100, channel=0)))
            events.append((t_off, mido.Message("note_off", note=pitch, velocity=0, channel=0)))
            labels.append(f"soundfont {font.name} {program}/{pitch}")
            slot += 1
    now = 0
    for at, msg in events:  # already in time order
        track.append(msg.copy(time=at - now))
        now = at
    mid = mido.MidiFile(ticks_per_beat=480)
    mid.tracks.append(track)
    buf = io.BytesIO()
    mid.save(file=buf)
    y = soundfont.render_midi(buf.getvalue(), font=font, sr=timbre.SR)
    mono = y.mean(axis=0)
    return [_note_clips(mono, slot, timbre.SR)], labels, font.name


def _noise_clips(rng: np.random.Generator) -> tuple[list[np.ndarray], list[str]]:
    from residue.dsp import compose

    sr = timbre.SR
    length = round(timbre.CLIP_S * sr)
    clips: list[np.ndarray] = []
    labels: list[str] = []
    for kind in compose.EFFECT_KINDS:
        for variant in range(4):
            loop = compose.procedural_effect(kind, rng=rng, duration_s=4.0).mean(axis=0)
            clips.append(loop[: 2 * length].reshape(2, length))
            labels += [f"{kind} {variant}"] * 2
    f = np.fft.rfftfreq(length, 1.0 / sr)
    f[0] = 1.0
    shaped = []
    for i in range(48):  # coloured noises: a tilt and a resonant band
        tilt = rng.uniform(-1.5, 0.5)
        centre = float(np.exp(rng.uniform(np.log(80.0), np.log(12000.0))))
        q = rng.uniform(0.5, 8.0)
        band = 1.0 / (1.0 + (q * (f / centre - centre / f)) ** 2)
        mag = f**tilt * (0.05 + band)
        spec = mag * np.exp(2j * np.pi * rng.random(f.size))
        x = np.fft.irfft(spec, n=length)
        shaped.append(0.1 * x / (float(np.std(x)) + 1e-12))
        labels.append(f"noise {i}")
    clips.append(np.stack(shaped).astype(np.float32))
    return clips, labels


def _pad_clips() -> tuple[list[np.ndarray], list[str]]:
    from residue.dsp import demo

    clips: list[np.ndarray] = []
    labels: list[str] = []
    for seed in range(2):
        pad = demo.demo_loops(bars=4, seed=seed)["pad"]
        found = timbre.extract_clips(pad, sr=timbre.SR, hop_s=1.0)
        clips.append(found.clips[found.usable])
        labels += [f"pad {seed}"] * int(found.usable.sum())
    return clips, labels


SOURCES = ("synths", "demo pad", "noises")
"""The sources of the default training set besides the SoundFont."""


def default_training_set(
    *,
    seed: int = DEFAULT_SEED,
    sources: tuple[str, ...] = SOURCES,
    soundfont: bool = True,
    font_dirs: tuple[Path, ...] = (),
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> TrainingSet:
    """Timbre vectors of sounds residue can always make, for the default model.

    Sustained notes and chords of every synthesizer preset (:mod:`residue.dsp.synths`), the
    demo loops' pad, procedural wind, rain and waves and coloured noises, and, when
    ``soundfont`` is true and FluidSynth and a General MIDI font are installed, sustained notes
    of 28 GM programs at four pitches. Each clip is 2 s from after the attack; silent clips
    are dropped; as many again are made by mixing random pairs of clips at random levels, so
    the space between sources is populated too.

    Parameters
    ----------
    seed : int
        Seed of every random choice.
    sources : tuple of str
        Which of :data:`SOURCES` to use (all by default).
    soundfont : bool
        Whether to use FluidSynth when it is available.
    font_dirs : tuple of Path
        Extra folders searched for SoundFonts first.
    progress, cancel
        Progress in ``[0, 1]``; cancellation between sources.

    Returns
    -------
    TrainingSet
    """
    report = progress if progress is not None else no_progress
    rng = np.random.default_rng(check_int("seed", seed, lo=0))
    parts: list[np.ndarray] = []
    labels: list[str] = []
    counts: dict[str, int] = {}
    font_name: str | None = None
    steps: list[tuple[str, Callable[[], tuple[list[np.ndarray], list[str]]]]] = [
        ("synths", lambda: _synth_clips(rng)),
        ("demo pad", _pad_clips),
        ("noises", lambda: _noise_clips(rng)),
    ]
    for name in sources:
        if name not in SOURCES:
            raise ParameterError(f"source {name!r} must be one of {list(SOURCES)}")
    steps = [(name, make) for name, make in steps if name in sources]
    for i, (name, make) in enumerate(steps):
        report(0.8 * i / (len(steps) + 1), f"making {name}")
        clips, lab = make()
        parts += clips
        labels += lab
        counts[name] = len(lab)
        if cancel is not None:
            cancel.raise_if_cancelled()
    if soundfont:
        report(0.6, "rendering SoundFont notes")
        clips, lab, font_name = _soundfont_clips(font_dirs)
        parts += clips
        labels += lab
        counts["soundfont"] = len(lab)
    if not parts:
        raise ParameterError("the default training set needs at least one source")
    audio = np.concatenate(parts)
    rms = np.sqrt(np.mean(np.square(audio, dtype=np.float64), axis=-1))
    keep = 20.0 * np.log10(np.maximum(rms, 1e-12)) > timbre.SILENCE_DBFS
    audio = audio[keep]
    labels = [lab for lab, k in zip(labels, keep, strict=True) if k]
    # Mixtures of random pairs at random levels fill the space between sources.
    n = audio.shape[0]
    a = rng.integers(n, size=n)
    b = rng.integers(n, size=n)
    gain_b = 10.0 ** (rng.uniform(-12.0, 12.0, size=n) / 20.0)
    norm = np.maximum(rms[keep], 1e-9)[:, None]
    mixes = audio[a] / norm[a] + gain_b[:, None] * audio[b] / norm[b]
    report(0.8, "analysing")
    if cancel is not None:
        cancel.raise_if_cancelled()
    vectors = timbre.timbre_vectors(
        np.concatenate([audio, mixes.astype(np.float32)]), sr=timbre.SR
    )
    labels += [f"mix {labels[i]} + {labels[j]}" for i, j in zip(a, b, strict=True)]
    report(1.0, "done")
    provenance = {
        "kind": "default",
        "seed": seed,
        "counts": counts,
        "dropped_silent": int((~keep).sum()),
        "mixes": n,
        "soundfont": font_name,
        "n_vectors": int(vectors.shape[0]),
    }
    return TrainingSet(vectors=vectors, labels=tuple(labels), provenance=provenance)


def train_default(
    *,
    seed: int = DEFAULT_SEED,
    epochs: int = DEFAULT_EPOCHS,
    soundfont: bool = True,
    font_dirs: tuple[Path, ...] = (),
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    on_epoch: OnEpoch | None = None,
) -> TrainResult:
    """Build :func:`default_training_set` and train the default model on it.

    Progress: the first fifth is making sounds, the rest training.
    """
    report = progress if progress is not None else no_progress
    data = default_training_set(
        seed=seed,
        soundfont=soundfont,
        font_dirs=font_dirs,
        progress=lambda f, s: report(0.2 * f, s),
        cancel=cancel,
    )
    return train(
        data.vectors,
        epochs=epochs,
        seed=seed,
        provenance={"training_set": data.provenance},
        labels=data.labels,
        progress=lambda f, s: report(0.2 + 0.8 * f, s),
        cancel=cancel,
        on_epoch=on_epoch,
    )
