from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.worker import RunningWorker, prepare_worker


@pytest.fixture(scope="module")
def worker(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningWorker]:
    """One worker per test module, on its own topics; tests use distinct child references."""
    running = prepare_worker(tmp_path_factory.mktemp("worker"), kafka_bootstrap)
    took = running.start()
    print(f"\nworker ready in {took:.1f} s")
    try:
        yield running
    finally:
        running.close()
