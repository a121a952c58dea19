from __future__ import annotations

from pathlib import Path

import pytest

from residue.config import Settings
from residue.errors import ParameterError


def test_defaults() -> None:
    s = Settings.from_env({})
    assert s.data_dir == Path(".residue") and s.port == 8000 and s.demo


def test_env_and_overrides() -> None:
    s = Settings.from_env(
        {"RESIDUE_DATA": "/tmp/x", "RESIDUE_PORT": "9000", "RESIDUE_DEMO": "0"}, port=9100
    )
    assert s.data_dir == Path("/tmp/x") and s.port == 9100 and not s.demo


def test_bad_number() -> None:
    with pytest.raises(ParameterError, match="RESIDUE_PORT='eighty' must be an integer"):
        Settings.from_env({"RESIDUE_PORT": "eighty"})
