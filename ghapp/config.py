"""Settings read from the environment, validated once at start-up.

Names follow Probot where Probot has one (``APP_ID``, ``PRIVATE_KEY``,
``WEBHOOK_SECRET``, ``GHE_HOST`` …) so people who know Probot feel at home,
plus Heroku's ``REDIS_URL`` / ``DATABASE_URL`` and ghapp's own pod settings.
A ``.env`` file in the working directory is honoured for development.

Validation errors are sentences a person can act on, and never contain a
secret's value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

INSTANCE_DIR_VARIABLE = "GHAPP_INSTANCE_DIR"
SQLITE_FILE_NAME = "ghapp.sqlite3"
SECRET_FIELDS = frozenset({"private_key", "webhook_secrets", "pod_secret", "status_token", "client_secret"})
APPROVAL_POLICIES = ("pod", "github", "either", "none")
MERGE_METHODS = ("merge", "squash", "rebase")
UPDATE_BRANCH_POLICIES = ("auto", "notify")
MERGE_STRATEGIES = ("auto", "direct", "queue")
LOG_FORMATS = ("pretty", "json")
# How notices pushed to the pod are signed; "legacy" (X-Pod-Signature-256) stays for one release.
NOTICE_SIGNATURES = ("standard", "legacy")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message says which and what to do."""


@dataclass(frozen=True)
class Settings:
    """Everything ghapp reads from its environment."""

    app_id: int | None = None
    private_key: str | None = field(default=None, repr=False)
    webhook_secrets: tuple[str, ...] = field(default=(), repr=False)
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    ghe_host: str | None = None
    github_api_url: str = "https://api.github.com"
    github_graphql_url: str = "https://api.github.com/graphql"
    redis_url: str | None = None
    database_url: str = ""
    pod_secret: str | None = field(default=None, repr=False)
    pod_callback_url: str | None = None
    notice_signature: str = "standard"
    status_token: str | None = field(default=None, repr=False)
    webhook_path: str = "/api/github/webhooks"
    port: int = 3000
    log_level: str = "INFO"
    log_format: str = "pretty"
    approval_policy: str = "pod"
    merge_method: str = "squash"
    reviewers: tuple[str, ...] = ()
    checks_required: bool = True
    merge_methods: tuple[str, ...] = ("squash", "merge", "rebase")
    update_branch: str = "auto"
    checks_settle_s: int = 120
    checks_timeout_s: int = 3600
    merge_strategy: str = "auto"
    merge_strategy_by_repo: tuple[tuple[str, str], ...] = ()  # (owner/repo lower-cased, strategy)
    check_run: bool = True
    content_per_minute: int = 80
    content_per_hour: int = 500
    write_spacing_s: float = 1.0
    github_read_timeout_s: float = 30.0
    sync_retry_intervals_s: tuple[int, ...] = (5, 20, 60, 180, 600)
    sweep_interval_s: int = 300
    sweep_min_s: int = 60
    sweep_max_s: int = 1800
    redelivery_interval_s: int = 600
    max_body_bytes: int = 25 * 1024 * 1024
    public_url: str | None = None
    inbox_retention_days: int = 14

    @property
    def redelivery_days(self) -> int:
        """How long GitHub keeps deliveries for redelivery: 3 days on github.com, 7 on Enterprise Server."""
        return REDELIVERY_DAYS_ENTERPRISE if self.ghe_host else REDELIVERY_DAYS_GITHUB_COM

    @property
    def github_configured(self) -> bool:
        """True when the app can authenticate to GitHub (id, key and a webhook secret)."""
        return self.app_id is not None and bool(self.private_key) and bool(self.webhook_secrets)

    def missing_github_settings(self) -> list[str]:
        """Names of the variables still to set before ghapp can talk to a real GitHub."""
        missing = []
        if self.app_id is None:
            missing.append("APP_ID")
        if not self.private_key:
            missing.append("PRIVATE_KEY or PRIVATE_KEY_PATH")
        if not self.webhook_secrets:
            missing.append("WEBHOOK_SECRET")
        return missing

    def describe(self) -> dict[str, object]:
        """A printable view of the settings with every secret masked."""
        view: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in SECRET_FIELDS:
                value = "(set)" if value else "(unset)"
            view[f.name] = value
        return view


def _env_int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _env_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{name} must not be negative, got {raw!r}")
    return value


def _env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _env_choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = env.get(name, "").strip().lower() or default
    if raw not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


def _env_intervals(env: Mapping[str, str], name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    parts = _split_list(raw)
    if not parts or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise ConfigError(f"{name} must be a comma-separated list of positive whole seconds, got {raw!r}")
    return tuple(int(p) for p in parts)


def _split_list(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def load_private_key(env: Mapping[str, str]) -> str | None:
    """Read the app's key from ``PRIVATE_KEY`` or the file at ``PRIVATE_KEY_PATH`` and check it.

    Heroku config vars often carry the PEM with literal ``\\n``; those are
    turned back into newlines, as Probot does.
    """
    inline = env.get("PRIVATE_KEY", "").strip()
    path = env.get("PRIVATE_KEY_PATH", "").strip()
    if inline and path:
        raise ConfigError("set PRIVATE_KEY or PRIVATE_KEY_PATH, not both")
    if path:
        try:
            inline = Path(path).read_text()
        except OSError as exc:
            raise ConfigError(f"PRIVATE_KEY_PATH {path!r} cannot be read: {exc.strerror}") from None
        source = "PRIVATE_KEY_PATH"
    else:
        source = "PRIVATE_KEY"
    if not inline:
        return None
    pem = inline.replace("\\n", "\n").strip() + "\n"
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ConfigError(f"{source} is not a PEM-encoded RSA private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(f"{source} is not a PEM-encoded RSA private key (GitHub Apps use RSA keys)")
    return pem


def instance_dir(env: Mapping[str, str] | None = None) -> Path:
    """The folder for one machine's local state (the default SQLite file, the embedded Redis's address).

    ``instance/`` in the working directory, as Flask names it; ``GHAPP_INSTANCE_DIR`` moves it
    (the test suite points it at a temporary folder, so no test touches a developer's data).
    """
    env = os.environ if env is None else env
    return Path(env.get(INSTANCE_DIR_VARIABLE, "").strip() or "instance")


def normalise_database_url(url: str) -> str:
    """Accept Heroku's ``postgres://`` URLs, which SQLAlchemy 2 rejects, and pick psycopg 3."""
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _github_urls(env: Mapping[str, str]) -> tuple[str | None, str, str]:
    ghe_host = env.get("GHE_HOST", "").strip() or None
    protocol = env.get("GHE_PROTOCOL", "https").strip() or "https"
    explicit = env.get("GITHUB_API_URL", "").strip().rstrip("/")
    if explicit:
        if not explicit.startswith(("http://", "https://")):
            raise ConfigError(f"GITHUB_API_URL must start with http:// or https://, got {explicit!r}")
        return ghe_host, explicit, explicit + "/graphql"
    if ghe_host:
        if "/" in ghe_host:
            raise ConfigError(f"GHE_HOST is a host name such as github.example.com, got {ghe_host!r}")
        return ghe_host, f"{protocol}://{ghe_host}/api/v3", f"{protocol}://{ghe_host}/api/graphql"
    return None, "https://api.github.com", "https://api.github.com/graphql"


def from_env(env: Mapping[str, str] | None = None) -> Settings:
    """Build validated settings from ``env`` (the process environment by default)."""
    env = os.environ if env is None else env
    raw_app_id = env.get("APP_ID", "").strip()
    app_id: int | None = None
    if raw_app_id:
        if not raw_app_id.isdigit():
            raise ConfigError(f"APP_ID must be the numeric id of your GitHub App, got {raw_app_id!r}")
        app_id = int(raw_app_id)
    ghe_host, api_url, graphql_url = _github_urls(env)
    database_url = env.get("DATABASE_URL", "").strip()
    if not database_url:
        database_url = f"sqlite:///{instance_dir(env) / SQLITE_FILE_NAME}"
    database_url = normalise_database_url(database_url)
    if not database_url.startswith(("sqlite", "postgresql")):
        raise ConfigError("DATABASE_URL must be a sqlite:// or postgres:// URL")
    redis_url = env.get("REDIS_URL", "").strip() or None
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("REDIS_URL must start with redis://, rediss:// or unix://")
    callback = env.get("POD_CALLBACK_URL", "").strip() or None
    if callback and not callback.startswith(("http://", "https://")):
        raise ConfigError("POD_CALLBACK_URL must be an http:// or https:// URL")
    webhook_path = env.get("WEBHOOK_PATH", "").strip() or "/api/github/webhooks"
    if not webhook_path.startswith("/"):
        raise ConfigError(f"WEBHOOK_PATH must start with '/', got {webhook_path!r}")
    log_level = env.get("LOG_LEVEL", "info").strip().upper() or "INFO"
    if log_level not in ("TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR", "FATAL", "CRITICAL"):
        raise ConfigError(f"LOG_LEVEL must be one of debug, info, warning, error, got {log_level.lower()!r}")
    log_level = {"TRACE": "DEBUG", "WARN": "WARNING", "FATAL": "CRITICAL"}.get(log_level, log_level)
    sweep_min = _env_int(env, "SWEEP_MIN_SECONDS", 60, minimum=1)
    sweep_max = _env_int(env, "SWEEP_MAX_SECONDS", 1800, minimum=1)
    sweep_default = _env_int(env, "SWEEP_INTERVAL_SECONDS", 300, minimum=1)
    if not sweep_min <= sweep_default <= sweep_max:
        raise ConfigError("SWEEP_INTERVAL_SECONDS must lie between SWEEP_MIN_SECONDS and SWEEP_MAX_SECONDS")
    return Settings(
        app_id=app_id,
        private_key=load_private_key(env),
        webhook_secrets=_split_list(env.get("WEBHOOK_SECRET", "")),
        client_id=env.get("GITHUB_CLIENT_ID", "").strip() or None,
        client_secret=env.get("GITHUB_CLIENT_SECRET", "").strip() or None,
        ghe_host=ghe_host,
        github_api_url=api_url,
        github_graphql_url=graphql_url,
        redis_url=redis_url,
        database_url=database_url,
        pod_secret=env.get("POD_SECRET", "").strip() or None,
        pod_callback_url=callback,
        notice_signature=_env_choice(env, "NOTICE_SIGNATURE", "standard", NOTICE_SIGNATURES),
        status_token=env.get("STATUS_TOKEN", "").strip() or None,
        webhook_path=webhook_path,
        port=_env_int(env, "PORT", 3000, minimum=1),
        log_level=log_level,
        log_format=_env_choice(env, "LOG_FORMAT", "pretty", LOG_FORMATS),
        approval_policy=_env_choice(env, "APPROVAL_POLICY", "pod", APPROVAL_POLICIES),
        merge_method=_env_choice(env, "MERGE_METHOD", "squash", MERGE_METHODS),
        reviewers=_split_list(env.get("REVIEWERS", "")),
        checks_required=_env_bool(env, "CHECKS_REQUIRED", True),
        merge_methods=_merge_methods(env),
        update_branch=_env_choice(env, "UPDATE_BRANCH", "auto", UPDATE_BRANCH_POLICIES),
        checks_settle_s=_env_int(env, "CHECKS_SETTLE_SECONDS", 120, minimum=1),
        checks_timeout_s=_env_int(env, "CHECKS_TIMEOUT_SECONDS", 3600, minimum=60),
        merge_strategy=_env_choice(env, "MERGE_STRATEGY", "auto", MERGE_STRATEGIES),
        merge_strategy_by_repo=_strategy_by_repo(env),
        check_run=_env_bool(env, "CHECK_RUN", True),
        content_per_minute=_env_int(env, "GITHUB_CONTENT_PER_MINUTE", 80, minimum=1),
        content_per_hour=_env_int(env, "GITHUB_CONTENT_PER_HOUR", 500, minimum=1),
        write_spacing_s=_env_float(env, "GITHUB_WRITE_SPACING_SECONDS", 1.0),
        github_read_timeout_s=_env_float(env, "GITHUB_READ_TIMEOUT_SECONDS", 30.0),
        sync_retry_intervals_s=_env_intervals(env, "SYNC_RETRY_INTERVALS", (5, 20, 60, 180, 600)),
        sweep_interval_s=sweep_default,
        sweep_min_s=sweep_min,
        sweep_max_s=sweep_max,
        redelivery_interval_s=_env_int(env, "REDELIVERY_INTERVAL_SECONDS", 600, minimum=10),
        max_body_bytes=_env_int(env, "MAX_BODY_BYTES", 25 * 1024 * 1024, minimum=1024),
        public_url=env.get("PUBLIC_URL", "").strip().rstrip("/") or None,
        inbox_retention_days=_retention_days(env, enterprise=ghe_host is not None),
    )


def _strategy_by_repo(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """``MERGE_STRATEGY_BY_REPO`` (``owner/repo=queue,owner/other=direct``): per-repository strategies."""
    found: list[tuple[str, str]] = []
    for item in _split_list(env.get("MERGE_STRATEGY_BY_REPO", "")):
        repo, sep, strategy = item.partition("=")
        repo, strategy = repo.strip().lower(), strategy.strip().lower()
        if not sep or repo.count("/") != 1 or strategy not in MERGE_STRATEGIES:
            raise ConfigError(
                f"MERGE_STRATEGY_BY_REPO entries look like owner/repo=auto|direct|queue, got {item!r}"
            )
        found.append((repo, strategy))
    return tuple(found)


def merge_strategy_for(settings: Settings, repo: str) -> str:
    """The merge strategy of one repository: its ``MERGE_STRATEGY_BY_REPO`` entry, else ``MERGE_STRATEGY``."""
    return dict(settings.merge_strategy_by_repo).get(repo.lower(), settings.merge_strategy)


def _merge_methods(env: Mapping[str, str]) -> tuple[str, ...]:
    """``MERGE_METHODS``: the order of preference when the repository refuses ``MERGE_METHOD``."""
    methods = _split_list(env.get("MERGE_METHODS", "")) or ("squash", "merge", "rebase")
    unknown = [m for m in methods if m not in MERGE_METHODS]
    if unknown or len(set(methods)) != len(methods):
        raise ConfigError(
            f"MERGE_METHODS must list some of merge, squash, rebase, each once, in order of preference; "
            f"got {','.join(methods)!r}"
        )
    return methods


# How far back GitHub's delivery log, and so its "Redeliver", reaches: 3 days on github.com, 7 on Enterprise Server.
REDELIVERY_DAYS_GITHUB_COM = 3
REDELIVERY_DAYS_ENTERPRISE = 7


def _retention_days(env: Mapping[str, str], *, enterprise: bool) -> int:
    """``INBOX_RETENTION_DAYS``: 0 keeps every delivery; otherwise at least GitHub's redelivery window,
    since a redelivered GUID whose row was pruned would be processed a second time."""
    window = REDELIVERY_DAYS_ENTERPRISE if enterprise else REDELIVERY_DAYS_GITHUB_COM
    days = _env_int(env, "INBOX_RETENTION_DAYS", 14)
    if 0 < days < window:
        where = "GitHub Enterprise Server" if enterprise else "github.com"
        raise ConfigError(
            f"INBOX_RETENTION_DAYS must be 0 (keep every delivery) or at least {window}, the days {where} "
            f"can redeliver a delivery for; got {days}"
        )
    return days


def load_dotenv_file(path: str | os.PathLike[str] = ".env") -> None:
    """Honour a development ``.env`` without overriding variables already set."""
    from dotenv import load_dotenv

    load_dotenv(path, override=False)


_cached: Settings | None = None


def get_settings() -> Settings:
    """The process-wide settings, read once (``.env`` first, then the environment)."""
    global _cached
    if _cached is None:
        load_dotenv_file()
        _cached = from_env()
    return _cached


def reset_settings_cache() -> None:
    """Forget the cached settings (tests and the setup flow, which writes ``.env``)."""
    global _cached
    _cached = None
