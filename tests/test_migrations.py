"""The migrations build exactly the schema the models describe (`flask db check`)."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from messaging.extensions import db


# SQLite cannot reflect the lower(username) expression index; PostgreSQL compares it.
@pytest.mark.filterwarnings("ignore:.*expression-based index")
def test_the_migrated_database_matches_the_models(app):
    with app.app_context(), db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert differences == []
