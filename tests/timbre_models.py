"""A tiny timbre VAE for tests: trained in a fraction of a second on smooth synthetic vectors."""

from __future__ import annotations

import numpy as np

from residue.models import vae

TINY = vae.VAEConfig(latent_dim=6, channels=(4, 8, 8))
"""A 6-d latent and narrow convolutions: enough to exercise every code path."""


def tiny_model(seed: int = 0) -> vae.TimbreModel:
    """A model trained 2 epochs on 48 Gaussian-bump vectors (seeded)."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 1, 1233)
    c = rng.uniform(0.1, 0.9, size=(48, 1))
    v = np.exp(-0.5 * ((x - c) / 0.1) ** 2).astype(np.float32)
    return vae.train(v, epochs=2, batch_size=16, config=TINY, seed=seed).model
