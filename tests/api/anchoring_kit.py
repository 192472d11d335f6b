"""What the anchoring API suites share: the in-process EVM put in the app's place, the
database, the log's configuration and anchoring, the CLI, the settings route and a run of
the anchoring job (every event so far under a freshly signed checkpoint)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from mall_api import Api, TenantFixture, ok
from typer.testing import CliRunner

from evm_kit import RPC, EvmAccess
from tokenmall import bootstrap
from tokenmall.cli.main import app as cli_app
from tokenmall.services.log import anchoring, checkpoints
from tokenmall.services.log.anchoring import Anchoring
from tokenmall.services.log.checkpoints import LogConfig
from tokenmall.services.mall.uow import Database, utc_now

runner = CliRunner()


@pytest.fixture
def evm(monkeypatch: pytest.MonkeyPatch) -> EvmAccess:
    access = EvmAccess()
    monkeypatch.setattr(bootstrap, "chain_access", access)
    return access


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = bootstrap.open_database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def config(server: Any) -> LogConfig:
    found: LogConfig = server.app.state.log_config
    return found


@pytest.fixture
def how(server: Any, evm: EvmAccess) -> Anchoring:
    return bootstrap.anchoring(server.settings.secret_key.get_secret_value())


def cli(server: Any, *args: str) -> Any:
    env = {
        "TOKENMALL_SECRET_KEY": server.settings.secret_key.get_secret_value(),
        "TOKENMALL_LOG_HOST": server.settings.log_host,
    }
    return runner.invoke(cli_app, list(args), env=env)


def settings_path(t: TenantFixture, rest: str = "") -> str:
    return t.path(f"/log/anchoring{rest}")


def configure(api: Api, t: TenantFixture, evm: EvmAccess, **body: Any) -> dict[str, Any]:
    payload = {"rpc_url": RPC, "chain_id": evm.chain_id, "private_key": evm.new_key(), **body}
    found: dict[str, Any] = ok(api.call("PUT", settings_path(t), t.admin_token, payload))
    return found


def run(db: Database, config: LogConfig, how: Anchoring, tenant_id: str, later: int = 0) -> Any:
    now = utc_now() + timedelta(seconds=later)
    with db.unit() as unit:  # every event so far under a signed checkpoint
        checkpoints.sign_if_due(unit.log, config, tenant_id, now, force=True)
    [outcome] = anchoring.anchor_due(db, config, how, now, tenant_id)
    return outcome
