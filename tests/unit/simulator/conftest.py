"""Fixtures: a simulator served on a free port (shared per module, reset per test)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from teamgate.http.serving import ServerThread
from teamgate.simulator import Simulator, SimulatorConfig, create_simulator

from .sample import KEY


@pytest.fixture(scope="module")
def _shared() -> Iterator[tuple[Simulator, str]]:
    sim = create_simulator()
    with ServerThread(sim.app) as url:
        yield sim, url


@pytest.fixture
def sim(_shared: tuple[Simulator, str]) -> Simulator:
    simulator = _shared[0]
    simulator.reset()
    return simulator


@pytest.fixture
def url(_shared: tuple[Simulator, str], sim: Simulator) -> str:
    return _shared[1]


@pytest.fixture
def client(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, headers={"authorization": f"Bearer {KEY}"}) as http:
        yield http


@pytest.fixture
def start_simulator() -> Iterator[Callable[[SimulatorConfig], tuple[Simulator, str]]]:
    """Start a simulator with its own config; stopped after the test."""
    servers: list[ServerThread] = []

    def start(config: SimulatorConfig) -> tuple[Simulator, str]:
        simulator = create_simulator(config)
        server = ServerThread(simulator.app)
        servers.append(server)
        return simulator, server.start()

    yield start
    for server in servers:
        server.stop()
