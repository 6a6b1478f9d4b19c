"""The stored weights of the tiny test networks (tests/fixtures/tiny_weights) still fit the networks."""

from __future__ import annotations

import pytest

from tests.export_support import TINY_NETWORKS, read_weights, stored_weights_path, weights_fit


@pytest.mark.parametrize("name, dual_path_blocks", TINY_NETWORKS)
def test_stored_tiny_weights_fit_todays_network(name: str, dual_path_blocks: int) -> None:
    """Without this, a change to a network's layers would make the suite retrain it silently, about 15 s a network."""
    path = stored_weights_path(name, dual_path_blocks)
    weights = read_weights(path)
    assert weights is not None, f"{path} is missing: run python -m tests.export_support"
    assert weights_fit(weights, name, dual_path_blocks), f"{path} no longer fits {name}: run python -m tests.export_support"
