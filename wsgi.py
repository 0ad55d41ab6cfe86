"""The WSGI entry point: `gunicorn wsgi:app` (and `flask --app wsgi ...`)."""
from dotenv import load_dotenv

load_dotenv()  # a .env file, if any, before the configuration is read

from messaging import create_app  # noqa: E402

app = create_app()
