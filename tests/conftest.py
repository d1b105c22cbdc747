"""Engines for the suite: every ``engine`` test runs on sqlite, postgresql and dynamodb.

``--engines sqlite,postgresql`` (or CAREVAULT_ENGINES) narrows a local run; under CI every
engine is required, and an engine that cannot start fails the run instead of skipping.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from carevault.store import Store
from tests.domain.world import World, make_world
from tests.engines import ENGINES, DynamoLocal, EngineUnavailable, new_store

settings.register_profile(
    "carevault",
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.load_profile("carevault")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--engines",
        default=os.environ.get("CAREVAULT_ENGINES", ",".join(ENGINES)),
        help="comma-separated engines to run engine tests on (default: all three)",
    )


def selected_engines(config: pytest.Config) -> list[str]:
    chosen = [e.strip() for e in str(config.getoption("--engines")).split(",") if e.strip()]
    unknown = set(chosen) - set(ENGINES)
    if unknown:
        raise pytest.UsageError(f"--engines: unknown engine {sorted(unknown)[0]!r}")
    if os.environ.get("CI") and set(chosen) != set(ENGINES):
        raise pytest.UsageError("CI runs every engine: --engines may not narrow it")
    return chosen


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "engine" in metafunc.fixturenames:
        engines = selected_engines(metafunc.config)
        metafunc.parametrize("engine", engines, ids=engines)


@pytest.fixture(scope="session")
def dynamodb_endpoint() -> Iterator[str]:
    try:
        local = DynamoLocal()
    except EngineUnavailable as exc:
        pytest.fail(f"dynamodb engine cannot start: {exc}", pytrace=False)
    yield local.endpoint
    local.stop()


@pytest.fixture
def endpoint(engine: str, request: pytest.FixtureRequest) -> str | None:
    """The DynamoDB Local endpoint when the engine is dynamodb, started on first use."""
    if engine == "dynamodb":
        return str(request.getfixturevalue("dynamodb_endpoint"))
    return None


@pytest.fixture
def make_store(engine: str, endpoint: str | None, tmp_path: Path) -> Iterator[Callable[[], Store]]:
    """Opens fresh, created stores of the test's engine; drops them afterwards."""
    opened: list[Store] = []

    def make() -> Store:
        store = new_store(engine, tmp_path, endpoint)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.drop_table()
        store.close()


@pytest.fixture
def store(make_store: Callable[[], Store]) -> Store:
    """A fresh, empty store of the test's engine."""
    return make_store()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    """Tag each report with the engine the test ran on, for the summary below."""
    report: pytest.TestReport = yield
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "engine" in callspec.params:
        report.user_properties.append(("engine", callspec.params["engine"]))
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per engine: how many engine tests passed, failed or errored on it."""
    counts: dict[str, dict[str, int]] = {}
    for outcome in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            engine = dict(getattr(report, "user_properties", [])).get("engine")
            if engine is not None:
                bucket = counts.setdefault(str(engine), {})
                bucket[outcome] = bucket.get(outcome, 0) + 1
    if counts:
        terminalreporter.section("engines")
        for engine in ENGINES:
            if engine in counts:
                summary = ", ".join(f"{n} {k}" for k, n in sorted(counts[engine].items()))
                terminalreporter.write_line(f"{engine}: {summary}")


@pytest.fixture
def world(make_store: Callable[[], Store], tmp_path: Path) -> World:
    """A fresh clinic with a doctor on the test's engine (tests/domain/world.py)."""
    return make_world(make_store, tmp_path)
