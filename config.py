"""Configuration, read from the environment.

`APP_ENV` picks the class: development (the default), production or testing.
Every setting the README lists comes from an environment variable of the same
name; the classes only hold the defaults.
"""
import os
from datetime import timedelta


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def database_url(url: str | None) -> str | None:
    """Let `postgresql://` (and Heroku's `postgres://`) URLs use psycopg 3."""
    if url and url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url and url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


class Config:
    SQLALCHEMY_DATABASE_URI = database_url(os.environ.get("DATABASE_URL"))
    # A connection that died while idle (database restart) is replaced, not used.
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}

    JWT_SECRET_KEY = os.environ.get("JWT_SECRET_KEY")
    JWT_ACCESS_TOKEN_EXPIRES = timedelta(seconds=env_int("JWT_ACCESS_TOKEN_EXPIRES", 15 * 60))
    JWT_REFRESH_TOKEN_EXPIRES = timedelta(
        seconds=env_int("JWT_REFRESH_TOKEN_EXPIRES", 30 * 24 * 3600)
    )

    MAX_CONTENT_LENGTH = env_int("MAX_CONTENT_LENGTH", 64 * 1024)
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")

    API_TITLE = "messaging"
    API_VERSION = "1.0.0"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "/docs/"
    OPENAPI_SWAGGER_UI_URL = "/docs/static/"

    DEBUG = False
    TESTING = False


class DevelopmentConfig(Config):
    # Good enough on a laptop; production refuses to start without a real one.
    JWT_SECRET_KEY = Config.JWT_SECRET_KEY or "development-only-secret-change-me-in-production"


class ProductionConfig(Config):
    pass


class TestingConfig(DevelopmentConfig):
    TESTING = True


configs = {
    "development": DevelopmentConfig,
    "production": ProductionConfig,
    "testing": TestingConfig,
}


def config_for_environment() -> type[Config]:
    return configs[os.environ.get("APP_ENV", "development")]
