"""Load, briefly: 50 clients in 5 sessions against the real server; nothing lost, all converge.

The figures (latency, memory) are printed by ``benchmarks/load.py``, never asserted.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import load

pytestmark = pytest.mark.slow


def test_fifty_clients_converge_without_losing_an_op() -> None:
    result = load.run(n_clients=50, n_sessions=5, seconds=8.0)
    print("\n" + load.report(result))
    assert result["acked"] > 200, result
    assert result["auditions"] > 50, result
    assert result["lost"] == 0, result
    assert result["converged"], result
    assert set(result["errors"]) <= {"conflict", "not_found"}, result["errors"]
