"""Settings, read once from the environment (``RESIDUE_*``); defaults in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from residue.errors import ParameterError

DEFAULT_DATA_DIR = Path(".residue")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_MAX_UPLOAD_BYTES = 200 * 1024 * 1024
DEFAULT_MAX_DURATION_S = 20 * 60.0
DEFAULT_MAX_FRAME_BYTES = 1024 * 1024
DEFAULT_MAX_CHANNELS = 8
DEFAULT_MIN_SAMPLE_RATE = 8_000
DEFAULT_MAX_SAMPLE_RATE = 192_000
DEFAULT_WORKERS = 2
#: Frames a socket may send per second on average, and in one burst (a token bucket).
DEFAULT_MAX_FRAMES_PER_S = 40.0
DEFAULT_FRAME_BURST = 80
#: Heavy jobs (decompositions, transcriptions) one session may run at once.
DEFAULT_MAX_JOBS_PER_SESSION = 2
#: Sessions with people in them at once, sessions that may exist, and sockets per session.
DEFAULT_MAX_LIVE_SESSIONS = 16
DEFAULT_MAX_SESSIONS = 200
DEFAULT_MAX_SESSION_SOCKETS = 64
DEFAULT_MAX_GRID_CELLS = 200
_KIND_WORDS = {int: "an integer", float: "a number", str: "text"}


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything a deployment may change.

    Each field maps to an environment variable: ``data_dir`` <- ``RESIDUE_DATA``,
    ``max_upload_bytes`` <- ``RESIDUE_MAX_UPLOAD_BYTES``, and so on (see README).
    """

    data_dir: Path = DEFAULT_DATA_DIR
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    max_duration_s: float = DEFAULT_MAX_DURATION_S
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    max_channels: int = DEFAULT_MAX_CHANNELS
    min_sample_rate: int = DEFAULT_MIN_SAMPLE_RATE
    max_sample_rate: int = DEFAULT_MAX_SAMPLE_RATE
    workers: int = DEFAULT_WORKERS
    device: str | None = None
    demo: bool = True
    static_dir: Path | None = None
    models_dir: Path | None = field(default=None)
    # Sessions and limits (see README "Sessions and sharing").
    allowed_origins: tuple[str, ...] = ()
    local_access: bool = True
    redis_url: str | None = None
    max_frames_per_s: float = DEFAULT_MAX_FRAMES_PER_S
    frame_burst: int = DEFAULT_FRAME_BURST
    max_jobs_per_session: int = DEFAULT_MAX_JOBS_PER_SESSION
    max_live_sessions: int = DEFAULT_MAX_LIVE_SESSIONS
    max_sessions: int = DEFAULT_MAX_SESSIONS
    max_session_sockets: int = DEFAULT_MAX_SESSION_SOCKETS
    max_grid_cells: int = DEFAULT_MAX_GRID_CELLS
    # Warm the separation code at start (``RESIDUE_WARM_UP``): on when read from the
    # environment, off when built directly (tests start many apps and need no warm-up).
    warm_up: bool = False
    # Serve https (``RESIDUE_HTTPS``): with these files, or a self-signed certificate.
    https: bool = False
    tls_cert: Path | None = None
    tls_key: Path | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from ``RESIDUE_*`` variables, then apply ``overrides``."""
        env = dict(os.environ if env is None else env)
        values: dict[str, object] = {}
        if "RESIDUE_DATA" in env:
            values["data_dir"] = Path(env["RESIDUE_DATA"])
        if "RESIDUE_MODELS_DIR" in env:
            values["models_dir"] = Path(env["RESIDUE_MODELS_DIR"])
        if "RESIDUE_STATIC" in env:
            values["static_dir"] = Path(env["RESIDUE_STATIC"])
        if "RESIDUE_DEVICE" in env:
            values["device"] = env["RESIDUE_DEVICE"] or None
        if "RESIDUE_DEMO" in env:
            values["demo"] = env["RESIDUE_DEMO"].lower() not in {"0", "false", "no", "off"}
        values["warm_up"] = env.get("RESIDUE_WARM_UP", "1").lower() not in {
            "0", "false", "no", "off"
        }
        if "RESIDUE_HTTPS" in env:
            values["https"] = env["RESIDUE_HTTPS"].lower() not in {"0", "false", "no", "off", ""}
        for name in ("tls_cert", "tls_key"):
            if env.get(f"RESIDUE_{name.upper()}"):
                values[name] = Path(env[f"RESIDUE_{name.upper()}"])
        if "RESIDUE_LOCAL_ACCESS" in env:
            values["local_access"] = env["RESIDUE_LOCAL_ACCESS"].lower() not in {
                "0", "false", "no", "off"
            }
        if "RESIDUE_ALLOWED_ORIGINS" in env:
            origins = env["RESIDUE_ALLOWED_ORIGINS"].split(",")
            values["allowed_origins"] = tuple(o.strip().rstrip("/") for o in origins if o.strip())
        if env.get("RESIDUE_REDIS_URL"):
            values["redis_url"] = env["RESIDUE_REDIS_URL"]
        for name, kind in (
            ("host", str),
            ("port", int),
            ("max_upload_bytes", int),
            ("max_duration_s", float),
            ("max_frame_bytes", int),
            ("max_channels", int),
            ("min_sample_rate", int),
            ("max_sample_rate", int),
            ("workers", int),
            ("max_frames_per_s", float),
            ("frame_burst", int),
            ("max_jobs_per_session", int),
            ("max_live_sessions", int),
            ("max_sessions", int),
            ("max_session_sockets", int),
            ("max_grid_cells", int),
        ):
            key = f"RESIDUE_{name.upper()}"
            if key in env:
                try:
                    values[name] = kind(env[key])
                except ValueError:
                    raise ParameterError(
                        f"{key}={env[key]!r} must be {_KIND_WORDS[kind]}"
                    ) from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
