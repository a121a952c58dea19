"""The one error hierarchy of residue.

Every layer raises these; transport maps them to error frames in exactly one place.
This module is a leaf: it imports nothing of ours, so ``dsp`` may use it and stay pure.
"""

from __future__ import annotations


class ResidueError(Exception):
    """Base of every error residue raises on purpose.

    ``code`` is the stable, machine-readable name sent to clients.
    """

    code = "error"


class ParameterError(ResidueError):
    """An argument is out of range or of the wrong shape.

    Messages name the value and its range: ``n_components=0 must be in [1, 1025]``.
    """

    code = "bad_parameter"


class AudioDecodeError(ParameterError):
    """Bytes that were offered as audio are not audio residue can read."""

    code = "bad_audio"


class LimitExceeded(ParameterError):
    """A request is over a configured limit (upload size, duration, frame size, ...)."""

    code = "limit_exceeded"


class NotFound(ResidueError):
    """A sound, decomposition, component or job of that id does not exist."""

    code = "not_found"


class UnsupportedError(ResidueError):
    """A well-formed request that this build of residue cannot serve."""

    code = "unsupported"


class ModelUnavailableError(UnsupportedError):
    """A learned model's files are absent or unreadable; the message says where to put them."""

    code = "model_unavailable"


class NotAuthorized(ResidueError):
    """No valid token for what was asked: the session's data stays out of reach."""

    code = "not_authorized"


class Conflict(ResidueError):
    """A change was based on a state that has moved on (a stale rename); nothing was changed."""

    code = "conflict"


class JobCancelled(ResidueError):
    """Raised inside long work when its cancel token is set."""

    code = "cancelled"
