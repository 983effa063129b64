"""Settings from the environment (and ``.env``), validated once at start-up.

The variable names are a contract shared with the README, ``.env.example``, the Dockerfile and
the tests (see docs/ARCHITECTURE.md). A mistake is reported as one :class:`ConfigError` line that names the
variable and what is wrong, never as a traceback.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url

from bot.botapi.budget import TELEGRAM_LIMITS, Limits
from bot.database_url import normalise_database_url
from bot.money import AmountError, normalise_currency

if TYPE_CHECKING:
    from telegram.error import NetworkError

GATEWAY_URLS = {
    "uat": "https://pay-gate-uat.payermax.com",
    "production": "https://pay-gate.payermax.com",
}
# What the embedded sandbox gateway calls the merchant when PAYERMAX_APP_ID and friends are not set.
SANDBOX_APP_ID = "sandbox-app"
SANDBOX_MERCHANT_NO = "SANDBOX000001"
SANDBOX_CONTACT_EMAIL = "sandbox@example.com"
MIN_LINK_EXPIRY = timedelta(hours=1)  # PayerMax's bounds for expiresTime
MAX_LINK_EXPIRY = timedelta(days=30)
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$", re.IGNORECASE)
_DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
MIN_METRICS_TOKEN_CHARS = 16
# Values people paste from examples; refused outside the sandbox so nobody goes live with them.
_PLACEHOLDER = re.compile(
    r"^(|changeme|change-me|replace-me|your[-_].*|xxx+|<.*>|\.\.\.|placeholder|todo)$", re.IGNORECASE
)


class ConfigError(Exception):
    """A setting is missing or wrong; the message names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


def parse_duration(text: str) -> timedelta:
    """Read ``90m``, ``24h``, ``7d`` or a number of seconds."""
    text = text.strip()
    if text.isdigit():
        return timedelta(seconds=int(text))
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"'{text}' is not a duration; use e.g. 1h, 24h, 7d")
    return timedelta(**{_DURATION_UNITS[match.group(2).lower()]: int(match.group(1))})


def is_placeholder(value: str | None) -> bool:
    """Tell whether a value looks like an example placeholder rather than a real secret."""
    return value is None or bool(_PLACEHOLDER.match(value.strip()))


class Settings(BaseSettings):
    """Every setting of the bot, read from the environment or ``.env``."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True)

    telegram_bot_token: SecretStr
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    bot_mode: Literal["polling", "webhook"] = "polling"
    telegram_webhook_secret: SecretStr | None = None
    public_base_url: str = "http://127.0.0.1:8080"
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    # /metrics: on a listener of its own (METRICS_PORT), and/or on the web port behind a bearer token.
    metrics_token: SecretStr | None = None
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    database_url: str | None = None
    data_dir: Path = Path("data")

    payermax_env: Literal["sandbox", "uat", "production"] = "sandbox"
    payermax_base_url: str | None = None
    payermax_app_id: str | None = None
    payermax_merchant_no: str | None = None
    payermax_merchant_private_key: SecretStr | None = None
    payermax_merchant_private_key_file: Path | None = None
    payermax_platform_public_key: str | None = None
    payermax_platform_public_key_file: Path | None = None
    payermax_contact_email: str = ""
    payermax_logo_url: str = ""
    payermax_timeout: float = Field(default=15.0, gt=0)

    # No built-in currency: a chat without its own uses DEFAULT_CURRENCY if set, else the bot asks.
    default_currency: str | None = None
    # None: a link's country follows its currency (IDR -> ID) unless the chat chose one.
    default_country: str | None = None
    default_language: str = "en"
    default_timezone: str = "UTC"
    link_expiry: str = "24h"
    admin_user_ids: Annotated[list[int], NoDecode] = []
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # Telegram's sending limits the bot paces itself by: per_second,private_per_second,group_per_minute.
    telegram_send_limits: Annotated[tuple[int, int, int], NoDecode] = TELEGRAM_LIMITS

    # How long the outbox holds the messages it claimed: after a crash, they wait this long to be sent again.
    outbox_lease_seconds: float = Field(default=60.0, gt=0)
    # Days handled update ids and delivered outbox messages are kept (at least 2: the retry windows).
    retention_days: int = Field(default=30, ge=2)

    # Sandbox only: PayerMax's notification retry delays, shortened by tests.
    sandbox_notify_schedule: Annotated[list[float], NoDecode] = [0, 30, 300, 600, 3600, 43200]
    # Sandbox only: seconds a refund stays REFUND_PENDING before it settles.
    sandbox_refund_settle_seconds: float = Field(default=2.0, ge=0)
    # Sandbox only: fault switches in force from the start (JSON, as POST /sandbox/_faults takes them).
    sandbox_faults: Annotated[dict[str, object], NoDecode] = {}

    @field_validator("admin_user_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            if not all(part.lstrip("-").isdigit() for part in parts):
                raise ValueError("must be comma-separated numeric Telegram user ids, e.g. 12345,67890")
            return [int(part) for part in parts]
        return value

    @field_validator("telegram_send_limits", mode="before")
    @classmethod
    def _three_limits(cls, value: object) -> object:
        parts = value.split(",") if isinstance(value, str) else value
        if not isinstance(parts, list | tuple):
            return value  # pydantic names the wrong type
        shown = ",".join(str(part).strip() for part in parts)
        if len(parts) != 3 or not all(str(part).strip().isdigit() and int(part) > 0 for part in parts):
            raise ValueError(
                f"'{shown}' is not three whole numbers above 0: per_second,private_per_second,group_per_minute "
                f"(Telegram's are {','.join(map(str, TELEGRAM_LIMITS))})"
            )
        return tuple(int(part) for part in parts)

    @field_validator("sandbox_notify_schedule", mode="before")
    @classmethod
    def _split_schedule(cls, value: object) -> object:
        if isinstance(value, str):
            return [float(part) for part in value.split(",") if part.strip()]
        return value

    @field_validator("sandbox_faults", mode="before")
    @classmethod
    def _faults_object(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else {}
            except ValueError:
                raise ValueError('must be a JSON object such as {"query_delay": 10}') from None
        if not isinstance(value, dict):
            raise ValueError('must be a JSON object such as {"query_delay": 10}')
        from bot.sandbox.faults import Faults  # the sandbox's own rules say which switches exist

        Faults().update(value)
        return value

    @field_validator("log_level", "bot_mode", "payermax_env", mode="before")
    @classmethod
    def _fold_case(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        return (
            value.strip().upper()
            if value.strip().upper() in {"DEBUG", "INFO", "WARNING", "ERROR"}
            else value.strip().lower()
        )

    @field_validator("default_currency")
    @classmethod
    def _known_currency(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return normalise_currency(value)
        except AmountError:
            raise ValueError(f"'{value.strip()}' is not a currency code; use 3 letters such as IDR or USD") from None

    @field_validator("default_country")
    @classmethod
    def _country_code(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.fullmatch(r"[A-Za-z]{2}", value.strip()):
            raise ValueError("must be a 2-letter ISO country code such as US or ID")
        return value.strip().upper()

    @field_validator("default_language")
    @classmethod
    def _spoken_language(cls, value: str) -> str:
        from bot.i18n.locales import SUPPORTED, from_telegram

        language = value.strip() if value.strip() in SUPPORTED else from_telegram(value)
        if language is None:
            raise ValueError(f"'{value.strip()}' is not a language the bot speaks; use one of {', '.join(SUPPORTED)}")
        return language

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from bot.i18n.clock import is_zone

        if not is_zone(value.strip()):
            raise ValueError(f"'{value.strip()}' is not a time zone; use an IANA name such as Asia/Jakarta or UTC")
        return value.strip()

    @field_validator("link_expiry")
    @classmethod
    def _expiry_in_bounds(cls, value: str) -> str:
        expiry = parse_duration(value)
        if not MIN_LINK_EXPIRY <= expiry <= MAX_LINK_EXPIRY:
            raise ValueError("must be between 1h and 30d (PayerMax's limits)")
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str | None) -> str | None:
        return None if value is None else normalise_database_url(value)

    @field_validator("public_base_url", "telegram_api_base_url", "payermax_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http(s):// URL")
        return value.rstrip("/") if value and not value.endswith("/bot") else value

    @field_validator("metrics_token")
    @classmethod
    def _long_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        token = value.get_secret_value().strip()
        if len(token) < MIN_METRICS_TOKEN_CHARS:
            raise ValueError(f"must be at least {MIN_METRICS_TOKEN_CHARS} characters (e.g. openssl rand -hex 32)")
        return SecretStr(token)

    @model_validator(mode="after")
    def _mode_requirements(self) -> Settings:
        token = self.telegram_bot_token.get_secret_value()
        if not re.fullmatch(r"\d+:[A-Za-z0-9_-]{5,}", token):
            raise ValueError("TELEGRAM_BOT_TOKEN: does not look like a BotFather token (digits:letters)")
        if self.bot_mode == "webhook" and not self.telegram_webhook_secret:
            raise ValueError("TELEGRAM_WEBHOOK_SECRET: required when BOT_MODE=webhook")
        if self.metrics_port is not None and self.metrics_port == self.http_port:
            raise ValueError("METRICS_PORT: must differ from HTTP_PORT (unset, /metrics is served on the web port)")
        return self

    @property
    def is_sandbox(self) -> bool:
        """True when the embedded sandbox gateway plays PayerMax."""
        return self.payermax_env == "sandbox"

    @property
    def app_id(self) -> str:
        """The PayerMax appId in use (the sandbox's own when none is set; required outside the sandbox)."""
        return self.payermax_app_id or SANDBOX_APP_ID

    @property
    def merchant_no(self) -> str:
        """The PayerMax merchantNo in use (the sandbox's own when none is set)."""
        return self.payermax_merchant_no or SANDBOX_MERCHANT_NO

    @property
    def contact_email(self) -> str:
        """The contact e-mail shown on PayerMax's payment page (a sandbox placeholder when none is set)."""
        return self.payermax_contact_email or SANDBOX_CONTACT_EMAIL

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data folder."""
        return self.database_url or f"sqlite+aiosqlite:///{(self.data_dir / 'paylink.db').as_posix()}"

    @property
    def send_limits(self) -> Limits:
        """The send budget's limits, a little under TELEGRAM_SEND_LIMITS."""
        return Limits.for_telegram(*self.telegram_send_limits)

    @property
    def link_expiry_seconds(self) -> int:
        """Default link validity in seconds."""
        return int(parse_duration(self.link_expiry).total_seconds())

    @property
    def notify_url(self) -> str:
        """Where PayerMax sends payment notifications."""
        return f"{self.public_base_url.rstrip('/')}/payermax/notify"

    @property
    def refund_notify_url(self) -> str:
        """Where PayerMax sends refund results (sent as each refund's refundNotifyUrl)."""
        return f"{self.public_base_url.rstrip('/')}/payermax/refund-notify"

    @property
    def local_base_url(self) -> str:
        """How this process reaches its own web server (for the embedded sandbox)."""
        host = "127.0.0.1" if self.http_host in {"0.0.0.0", "::", ""} else self.http_host
        return f"http://{host}:{self.http_port}"

    @property
    def gateway_base_url(self) -> str:
        """The PayerMax gateway root the client talks to."""
        if self.payermax_base_url:
            return self.payermax_base_url
        if self.is_sandbox:
            return f"{self.local_base_url}/sandbox"
        return GATEWAY_URLS[self.payermax_env]

    def secret_values(self) -> list[str]:
        """Every secret this process knows, so logging can scrub them if one ever slips into a line."""
        values = [self.telegram_bot_token.get_secret_value()]
        if self.telegram_webhook_secret:
            values.append(self.telegram_webhook_secret.get_secret_value())
        if self.payermax_merchant_private_key:
            values.append(self.payermax_merchant_private_key.get_secret_value())
        if self.database_url and make_url(self.database_url).password:
            values.append(str(make_url(self.database_url).password))
        if self.metrics_token:
            values.append(self.metrics_token.get_secret_value())
        return [value for value in values if len(value) >= 8]

    def key_variable(self, variable: str) -> str:
        """The variable a key is read from: ``variable`` itself, or its ``_FILE`` when only that one is set."""
        sources: dict[str, tuple[object, Path | None]] = {
            "PAYERMAX_MERCHANT_PRIVATE_KEY": (
                self.payermax_merchant_private_key,
                self.payermax_merchant_private_key_file,
            ),
            "PAYERMAX_PLATFORM_PUBLIC_KEY": (self.payermax_platform_public_key, self.payermax_platform_public_key_file),
        }
        value, path = sources[variable]
        return f"{variable}_FILE" if value is None and path is not None else variable

    def merchant_private_key_text(self) -> str | None:
        """The merchant private key, from the variable or its _FILE."""
        if self.payermax_merchant_private_key is not None:
            return self.payermax_merchant_private_key.get_secret_value()
        return _read_key_file("PAYERMAX_MERCHANT_PRIVATE_KEY_FILE", self.payermax_merchant_private_key_file)

    def platform_public_key_text(self) -> str | None:
        """PayerMax's public key, from the variable or its _FILE."""
        if self.payermax_platform_public_key is not None:
            return self.payermax_platform_public_key
        return _read_key_file("PAYERMAX_PLATFORM_PUBLIC_KEY_FILE", self.payermax_platform_public_key_file)


def _read_key_file(variable: str, path: Path | None) -> str | None:
    """Read a key file named by a *_FILE variable, or explain why it cannot be read or holds nothing."""
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(variable, f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(variable, f"{path} is not a text file; a key file holds PEM or base64 text") from None
    if not text.strip():
        raise ConfigError(variable, f"{path} is empty; it must hold the key (PEM or base64)")
    return text


def live_problems(settings: Settings) -> list[ConfigError]:
    """List what is missing or placeholder for talking to the real PayerMax (empty in sandbox)."""
    if settings.is_sandbox:
        return []
    problems: list[ConfigError] = []
    for variable, value in (
        ("PAYERMAX_APP_ID", settings.payermax_app_id),
        ("PAYERMAX_MERCHANT_NO", settings.payermax_merchant_no),
    ):
        if is_placeholder(value):
            problems.append(
                ConfigError(
                    variable, f"required when PAYERMAX_ENV={settings.payermax_env} (found a placeholder or nothing)"
                )
            )
    for variable, reader in (
        ("PAYERMAX_MERCHANT_PRIVATE_KEY", settings.merchant_private_key_text),
        ("PAYERMAX_PLATFORM_PUBLIC_KEY", settings.platform_public_key_text),
    ):
        try:
            text = reader()
        except ConfigError as exc:
            problems.append(exc)
            continue
        if is_placeholder(text) and settings.key_variable(variable) != variable:
            problems.append(ConfigError(f"{variable}_FILE", "the file holds a placeholder, not a key"))
        elif is_placeholder(text):
            problems.append(
                ConfigError(variable, f"required when PAYERMAX_ENV={settings.payermax_env} (set it or {variable}_FILE)")
            )
    if not settings.admin_user_ids:
        problems.append(ConfigError("ADMIN_USER_IDS", "required outside the sandbox: who may create links"))
    if not settings.payermax_contact_email or is_placeholder(settings.payermax_contact_email):
        problems.append(
            ConfigError("PAYERMAX_CONTACT_EMAIL", "required outside the sandbox: PayerMax shows it on the payment page")
        )
    if settings.public_base_url.startswith("http://127.") or "localhost" in settings.public_base_url:
        problems.append(
            ConfigError("PUBLIC_BASE_URL", "must be reachable by PayerMax from the internet outside the sandbox")
        )
    if settings.bot_mode == "webhook" and is_placeholder(
        settings.telegram_webhook_secret.get_secret_value() if settings.telegram_webhook_secret else None
    ):
        problems.append(ConfigError("TELEGRAM_WEBHOOK_SECRET", "is a placeholder"))
    return problems


def telegram_unreachable(settings: Settings, exc: NetworkError) -> ConfigError:
    """Name TELEGRAM_API_BASE_URL for a Bot API that cannot be reached, never showing the token."""
    # The Bot API URL carries the token, so only the base URL and the error's own words are shown.
    problem = str(exc).replace(settings.telegram_bot_token.get_secret_value(), "[token]")
    where = settings.telegram_api_base_url
    return ConfigError("TELEGRAM_API_BASE_URL", f"cannot reach the Telegram Bot API at {where} ({problem})")


def load_settings(**overrides: object) -> Settings:
    """Build Settings, turning the first validation failure into a ConfigError."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise _config_errors(exc)[0] from None


def read_settings(**overrides: object) -> tuple[Settings | None, list[ConfigError]]:
    """Build Settings and list every problem: each invalid variable, or else what is missing to go live."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        return None, _config_errors(exc)
    return settings, live_problems(settings)


def _config_errors(exc: ValidationError) -> list[ConfigError]:
    """One ConfigError per validation failure, naming its variable."""
    problems = []
    for error in exc.errors():
        location = error.get("loc") or ()
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        if location:
            problem = "is required" if error.get("type") == "missing" else message
            problems.append(ConfigError(str(location[0]).upper(), problem))
        else:
            variable, _, problem = message.partition(": ")
            problems.append(ConfigError(variable, problem or message))
    return problems
