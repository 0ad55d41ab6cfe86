"""The messages blueprint, nested under a conversation."""
from ..blueprint import Blueprint

blp = Blueprint(
    "messages",
    __name__,
    url_prefix="/conversations/<uuid:conversation_id>/messages",
    description="Messages in a conversation.",
)

from . import routes  # noqa: E402, F401  (registers the views on blp)
