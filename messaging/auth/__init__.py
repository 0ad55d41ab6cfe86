"""The auth blueprint: accounts, tokens and looking people up, under /api/."""
from ..blueprint import Blueprint

blp = Blueprint("auth", __name__, url_prefix="/api", description="Accounts and tokens.")

from . import routes  # noqa: E402, F401  (registers the views on blp)
