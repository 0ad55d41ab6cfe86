"""The read side of accounts: finding people, and the JSON a user is answered with.

user_json() and profile_json() give UserSchema's and ProfileSchema's shapes, of
a User or of a row with the same names; tests/test_shapes.py checks them
against the schemas.
"""
from sqlalchemy import bindparam, select

from ..models import User
from ..pagination import Keyset


def user_json(user) -> dict:
    """UserSchema's shape: a user as anybody sees them (never with the email)."""
    return {
        "id": user.id, "username": user.username, "first_name": user.first_name,
        "last_name": user.last_name, "created_at": user.created_at,
    }


def profile_json(user: User) -> dict:
    """ProfileSchema's shape: a user as they see themselves."""
    return {**user_json(user), "email": user.email}


# Users by the start of their name: a range of the username_key index, compared
# byte by byte: every name that starts with "ali" lies between "ali" and "ali"
# followed by the highest character there is. Built once (see pagination.Keyset).
USERS_BY_PREFIX = Keyset(
    select(User.id, User.username, User.first_name, User.last_name, User.created_at).where(
        User.username_key >= bindparam("prefix"), User.username_key < bindparam("beyond")
    ),
    User.username_key,
)


def search(prefix: str, limit: int, cursor: str | None) -> dict:
    """Users whose username starts with `prefix`, in any case, in username order
    (UserPageSchema's shape)."""
    prefix = prefix.lower()
    page = USERS_BY_PREFIX.page(
        {"prefix": prefix, "beyond": prefix + "\U0010ffff"},
        descending=False, limit=limit, cursor=cursor,
    )
    page["results"] = [user_json(row) for row in page["results"]]
    return page
