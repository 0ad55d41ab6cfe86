"""Account rules: registering, logging in and changing one's profile."""
import uuid

from flask import g, request
from flask_jwt_extended import get_jwt_identity
from flask_smorest import abort
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from ..errors import invalid
from ..extensions import db, write_lock
from ..limits import count_wrong_password
from ..models import User
from ..passwords import dummy_hash, hash_password, verify_password
from ..schemas import is_storable
from .tokens import Caller


def save_user(user: User) -> User:
    """Commit a new or changed user; 409 naming the field if the username or email is taken.

    The unique indexes decide, so two simultaneous sign-ups for one name get one 201 and one 409.
    """
    username, email = user.username, user.email
    write_lock()
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        errors = taken_fields(username, email, but=user.id)
        abort(409, message="Already taken.", errors={"json": errors})
    return user


def taken_fields(username: str, email: str, but: uuid.UUID | None) -> dict:
    """Which of this username and email belong to someone other than user `but`."""
    others = db.session.execute(
        select(User.username, User.email).where(
            or_(User.username_key == username.lower(), User.email == email),
            User.id != but,
        )
    ).all()
    errors = {}
    if any(other.username.lower() == username.lower() for other in others):
        errors["username"] = ["A user with that username already exists."]
    if any(other.email == email for other in others):
        errors["email"] = ["A user with that email already exists."]
    return errors


def register(data: dict) -> User:
    user = User(
        username=data["username"],
        email=data["email"].lower(),
        first_name=data.get("first_name", ""),
        last_name=data.get("last_name", ""),
    )
    user.set_password(data["password"])
    return save_user(user)


def find_login(login: str):
    """The query for the user a login names: by username or by email, in any case."""
    return select(User).where(
        or_(User.username_key == login.lower(), User.email == login.lower())
    )


def login_account() -> str:
    """Rate-limit key: the account a login tries to open, whichever name it uses for it."""
    if "login_account" not in g:  # two limits ask: look it up once
        body = request.get_json(silent=True)
        login = body.get("username") if isinstance(body, dict) else None
        if not isinstance(login, str) or len(login) > 254 or not is_storable(login):
            login = "-"  # not a login at all: the schema answers 422 for it next
        user_id = db.session.scalar(find_login(login).with_only_columns(User.id))
        g.login_account = f"account:{user_id or login.lower()}"
    return g.login_account


def profile_account() -> str:
    """Rate-limit key: the signed-in user's account (its current password may be guessed)."""
    return f"account:{get_jwt_identity()}"


def authenticate(login: str, password: str) -> User | None:
    """The user with this username (or email) and password, else None.

    An unknown user costs one hash check too, so that the answer's timing
    does not tell which usernames exist.
    """
    user = db.session.scalar(find_login(login))
    if user is None:
        verify_password(dummy_hash(), password)
    elif user.check_password(password):
        return user
    count_wrong_password()
    return None


def account(caller: Caller) -> User:
    """The signed-in user's whole account (a token carries only what most routes need)."""
    return db.session.get(User, caller.id)


def update_profile(user: User, data: dict) -> User:
    """Change names, email or password; the last two need the current password."""
    if "email" in data or "password" in data:
        current = data.get("current_password")
        if current is None or not user.check_password(current):
            count_wrong_password()
            invalid("current_password", "Wrong or missing current password.")
    # Hashed before the write lock: Argon2 is slow on purpose.
    new_hash = hash_password(data["password"]) if "password" in data else None
    write_lock()
    for name in ("first_name", "last_name"):
        if name in data:
            setattr(user, name, data[name])
    if "email" in data:
        user.email = data["email"].lower()
    if new_hash:
        user.password_hash = new_hash
        # Every token issued so far stops working (counted in SQL: no lost update).
        user.token_version = User.token_version + 1
    return save_user(user)
