"""residue: mine loops of songs for new material."""

from __future__ import annotations

__version__ = "0.1.0"
