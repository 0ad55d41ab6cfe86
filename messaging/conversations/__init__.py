"""The conversations blueprint: the conversations I am in, and their members."""
from ..blueprint import Blueprint

blp = Blueprint(
    "conversations", __name__, url_prefix="/conversations", description="Conversations."
)

from . import routes  # noqa: E402, F401  (registers the views on blp)
