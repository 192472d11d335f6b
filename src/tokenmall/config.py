"""Settings of a running tokenmall: environment variables (``TOKENMALL_*``) and an env file.

One ``Settings`` object is read at start-up and passed down; nothing else reads the
environment. Every field can be set as ``TOKENMALL_<NAME>`` (``TOKENMALL_DATABASE_URL``,
``TOKENMALL_PORT``…) or in the file named by ``TOKENMALL_ENV_FILE`` (default ``.env`` in the
working directory, if present). The database defaults to a SQLite file under the user's data
directory so that ``tokenmall serve`` works on a fresh machine with no server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
Environment = Literal["production", "development"]

# The secret key a fresh checkout runs with: public (it is in the source), so development only.
DEFAULT_SECRET_KEY = "dev-insecure-change-me"
MIN_SECRET_KEY_LENGTH = 32
DEVELOPMENT_NOTICE = (
    "development mode (TOKENMALL_ENV=development): not for real users or real money; the "
    "sandbox gateway and a public or short secret key are allowed"
)


def default_database_url() -> str:
    """SQLite under the user's data directory (created on first use)."""
    from platformdirs import user_data_dir

    folder = Path(user_data_dir("tokenmall", appauthor=False))
    return f"sqlite:///{folder / 'tokenmall.db'}"


def default_demo_url() -> str:
    """The demo's SQLite file, beside the default database (never the main database itself)."""
    from platformdirs import user_data_dir

    folder = Path(user_data_dir("tokenmall", appauthor=False))
    return f"sqlite:///{folder / 'demo.db'}"


class _EnvFile(BaseSettings):
    """Where the env file is (``TOKENMALL_ENV_FILE``), read before the settings themselves."""

    model_config = SettingsConfigDict(env_prefix="TOKENMALL_", extra="ignore")

    env_file: str = ".env"


class Settings(BaseSettings):
    """What ``tokenmall serve`` and the CLI need to run; see docs/api.md for each field."""

    model_config = SettingsConfigDict(
        env_prefix="TOKENMALL_",
        env_file=_EnvFile().env_file,
        env_file_encoding="utf-8",
        extra="ignore",
    )

    # ``development`` allows what must never serve real users (the public default secret key,
    # the sandbox gateway) and says so on every page and in the log; ``serve`` and
    # ``scheduler`` refuse those outside it. ``tokenmall demo`` runs in development mode.
    env: Environment = "production"
    database_url: str = Field(default_factory=default_database_url)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    # Keys the HMAC of cookie-session ids, the sandbox gateway's webhook secret and every
    # outgoing webhook endpoint's signing secret (derived, never stored). Set it in production,
    # the same for the API and the scheduler; changing it changes those secrets.
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET_KEY)
    log_level: LogLevel = "INFO"
    # Platform operator created at start-up if no operator with this email exists.
    operator_email: str | None = None
    operator_password: SecretStr | None = None
    session_hours: int = Field(default=24 * 14, gt=0, le=24 * 365)
    # A session unused this long stops working (0: no idle timeout, only session_hours).
    session_idle_minutes: int = Field(default=120, ge=0, le=60 * 24 * 365)
    # At most this many password hashes at once (default: CPUs - 1, at least 1); a sign-in
    # that cannot start hashing within the wait is answered 429.
    password_hash_concurrency: int | None = Field(default=None, ge=1, le=256)
    password_hash_wait_seconds: float = Field(default=5.0, gt=0, le=60)
    # Where account mail (password reset links) goes: "off" (no reset by email; admins reset
    # passwords) or "log" (development: written to the log). Links start with public_base_url.
    mail_sender: Literal["off", "log"] = "off"
    public_base_url: str = "http://127.0.0.1:8000"
    # Create the tables at start-up (alembic upgrade head); off when a deploy step migrates.
    migrate_on_start: bool = True
    # Make every tenant's payment channels at start-up (in a thread) and log each one whose
    # key set no longer opens or loads, naming the tenant and the channel.
    check_channels_on_start: bool = True
    # Send the session cookie only over HTTPS (leave off for local http://127.0.0.1).
    cookie_secure: bool = False
    # Request bodies above this many bytes are refused with 413 before they are parsed.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Test suites only: argon2 with tiny cost parameters (hashes are still argon2id).
    insecure_fast_password_hashing: bool = False
    # The sandbox payment gateway (an approve-anything page, /sandbox/pay/…, and its webhook).
    # Development only (anyone may approve their own payment on it): outside development mode
    # ``serve`` refuses to start with it on. Off, its page and webhook answer 404 and checkouts
    # with a money part are refused (409 no_gateway) until a real gateway is configured.
    sandbox_gateway: bool = True
    # Where the sandbox's page sends its signed events when a payer presses Approve or Fail.
    # Unset (the default): in-process, straight to the webhook's handling, never over the
    # network. Set, that URL (an operator's choice, never one taken from a request).
    sandbox_webhook_url: str | None = None
    # WeChat Pay's API host (its SDK's requests go there); a local fake in the tests.
    wechatpay_api_base: str = "https://api.mch.weixin.qq.com"
    # WeChat's web OAuth (the shopper's openid for JSAPI payments inside WeChat): where the
    # shopper is sent to authorize, and the API host the code is exchanged at; local fakes in
    # the tests.
    wechat_oauth_authorize_url: str = "https://open.weixin.qq.com/connect/oauth2/authorize"
    wechat_oauth_api_base: str = "https://api.weixin.qq.com"
    # The public https:// address the channels send their callbacks to and the payer back to
    # (``https://mall.example.com``); unset: the address the request came in on.
    payments_public_url: str | None = None
    # The mall the site's root (``/``) opens (a brand's own deployment, the demo); unset: the
    # root lists the platform's malls.
    home_tenant: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    # The host part of every tenant's transparency-log origin and key name
    # (``{log_host}/{tenant}``): the deployment's public name, as the checkpoints carry it.
    log_host: str = Field(default="tokenmall.example", pattern=r"^[A-Za-z0-9.-]+(:[0-9]+)?$")
    # How long a drop's reservation waits for its payment before its places return to sale.
    nfg_reservation_seconds: int = Field(default=600, ge=1, le=24 * 3600)
    # A Citus coordinator: refuse to migrate a database without the ``citus`` extension (on),
    # and how many shards each distributed table gets (Citus's own default is 32).
    citus_required: bool = False
    citus_shard_count: int = Field(default=32, ge=1, le=1024)
    # On a Citus coordinator the writer sends a batch as one call of the distributed function
    # ``ledger_write_batch`` on the tenant's worker; off: as its statements (to compare them).
    citus_batch_call: bool = True
    # With the call: the writer sends it over its own connection straight to the worker that
    # holds the tenant (found in the coordinator's pg_dist_placement and pg_dist_node, reached
    # with the coordinator URL's user, password and database), where the call checks and
    # locks its placement; off, or the worker unreachable: through the coordinator.
    citus_direct: bool = True
    # Connections to each worker per process for those calls, a pool shared by the process's
    # tenant writers (opened as calls overlap; one serialises the commits of the worker's
    # tenants: docs/performance.md).
    citus_direct_connections: int = Field(default=4, ge=1, le=64)
    # Integration ``paid`` pushes go through their tenant's unit writer (group commit); off:
    # one transaction a request.
    group_commit: bool = True

    @field_validator(
        "sandbox_webhook_url",
        "payments_public_url",
        "wechatpay_api_base",
        "wechat_oauth_authorize_url",
        "wechat_oauth_api_base",
    )
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value or None

    @property
    def development(self) -> bool:
        """Development mode (``TOKENMALL_ENV=development``): unsafe settings allowed, and shown."""
        return self.env == "development"

    def unsafe_reasons(self) -> list[str]:
        """What makes these settings unfit to serve real users, one sentence each saying what
        to set; empty in development mode (which allows them) or when there is nothing."""
        if self.development:
            return []
        reasons: list[str] = []
        secret = self.secret_key.get_secret_value()
        if secret == DEFAULT_SECRET_KEY:
            reasons.append(
                "TOKENMALL_SECRET_KEY is the built-in default, which is public: set it to a "
                f"random value of at least {MIN_SECRET_KEY_LENGTH} characters"
            )
        elif len(secret) < MIN_SECRET_KEY_LENGTH:
            reasons.append(
                f"TOKENMALL_SECRET_KEY is {len(secret)} characters long: set it to a random "
                f"value of at least {MIN_SECRET_KEY_LENGTH} characters"
            )
        if self.sandbox_gateway:
            reasons.append(
                "the sandbox payment gateway is on (anyone can approve their own payment): "
                "set TOKENMALL_SANDBOX_GATEWAY=false"
            )
        return reasons
