"""Configuration: what production insists on, and how settings are read."""
import pytest

from config import ProductionConfig, database_url
from messaging import create_app


@pytest.fixture
def production(make_app):
    """production(**settings): the app with the production configuration, on the test database."""

    def make(**settings):
        return make_app(ProductionConfig, **settings)

    return make


def test_production_refuses_to_start_without_a_jwt_secret(production):
    with pytest.raises(RuntimeError, match="JWT_SECRET_KEY"):
        production(JWT_SECRET_KEY=None)


def test_production_refuses_a_short_jwt_secret(production):
    with pytest.raises(RuntimeError, match="at least 32"):
        production(JWT_SECRET_KEY="too short")


def test_production_never_runs_in_debug(production):
    app = production(JWT_SECRET_KEY="x" * 40, DEBUG=True)
    assert app.debug is False


def test_production_starts_with_a_real_secret(production):
    app = production(JWT_SECRET_KEY="x" * 40)
    assert app.test_client().get("/health/").json["status"] == "ok"


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql://u:p@db:5432/chat", "postgresql+psycopg://u:p@db:5432/chat"),
        ("postgres://u:p@db:5432/chat", "postgresql+psycopg://u:p@db:5432/chat"),
        ("postgresql+psycopg://u@db/chat", "postgresql+psycopg://u@db/chat"),
        ("sqlite:////tmp/chat.sqlite", "sqlite:////tmp/chat.sqlite"),
    ],
)
def test_database_urls_work_as_given(given, used):
    assert database_url(given) == used


def test_without_a_database_url_sqlite_lives_in_the_instance_folder():
    app = create_app(overrides={"SQLALCHEMY_DATABASE_URI": None})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{app.instance_path}/messaging.sqlite"
