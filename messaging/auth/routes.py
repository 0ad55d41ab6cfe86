"""Register, log in, refresh and log out, read and change one's profile, find people."""
from flask.views import MethodView
from flask_jwt_extended import current_user, get_jwt
from flask_limiter.util import get_remote_address
from flask_smorest import abort

from ..blueprint import Blueprint
from ..extensions import limiter
from ..limits import (
    auth_limit,
    login_account_address_limit,
    login_account_limit,
    wrong_password,
)
from . import queries, service, tokens
from .schemas import (
    LoginResponseSchema,
    LoginSchema,
    LogoutSchema,
    ProfileSchema,
    ProfileUpdateSchema,
    RefreshSchema,
    RegisterSchema,
    TokensSchema,
    UserPageSchema,
    UserSearchArgsSchema,
)

blp = Blueprint("auth", __name__, url_prefix="/api", description="Accounts and tokens.")

REGISTER_EXAMPLE = {
    "username": "alice",
    "email": "alice@example.com",
    "password": "correct horse battery",
    "first_name": "Alice",
}


# OpenAPI link: a new user is someone to start a conversation with. (Schemathesis'
# stateful phase follows it; the ids it makes up for participants name nobody.)
NEW_USER_LINKS = {
    "startConversation": {
        "operationId": "createConversation",
        "requestBody": {"participants": ["$response.body#/id"]},
    },
}


@blp.route("/auth/register/")
class RegisterView(MethodView):
    @blp.public
    @blp.doc(operationId="register", responses={201: {"links": NEW_USER_LINKS}})
    @limiter.limit(auth_limit, key_func=get_remote_address)
    @blp.arguments(RegisterSchema, example=REGISTER_EXAMPLE)
    @blp.response(201, ProfileSchema)
    @blp.errors(409, 429)
    def post(self, data):
        """Create an account"""
        return queries.profile_json(service.register(data))


def password_guesses(account):
    """Limits on wrong passwords for the account `account()` names.

    Per account and address, which stops one address guessing early; and per
    account from all addresses together, a ceiling high enough (100 an hour)
    that locking the owner out takes many addresses and many guesses. Login
    and profile changes (current_password) use the same two budgets.
    """

    def decorate(view):
        view = limiter.shared_limit(
            login_account_address_limit, scope="password-guesses-per-address",
            key_func=lambda: f"{account()}@{get_remote_address()}", deduct_when=wrong_password,
            override_defaults=False,  # the route's other limits (or the default) still apply
        )(view)
        return limiter.shared_limit(
            login_account_limit, scope="password-guesses",
            key_func=account, deduct_when=wrong_password, override_defaults=False,
        )(view)

    return decorate


@blp.route("/auth/login/")
class LoginView(MethodView):
    # The inner limit is the one the X-RateLimit-* headers describe.
    @blp.public
    @blp.doc(operationId="login")
    @password_guesses(service.login_account)
    @limiter.limit(auth_limit, key_func=get_remote_address)
    @blp.arguments(LoginSchema, example={"username": "alice", "password": "correct horse battery"})
    @blp.response(200, LoginResponseSchema)
    @blp.errors(401, 429)
    def post(self, data):
        """Log in with a username (or email) and password"""
        user = service.authenticate(data["username"], data["password"])
        if user is None:
            abort(401, message="Invalid username or password.")
        return {**tokens.issue_tokens(user), "user": queries.profile_json(user)}


@blp.route("/auth/refresh/")
class RefreshView(MethodView):
    @blp.public
    @blp.doc(operationId="refreshTokens")
    @limiter.limit(auth_limit, key_func=get_remote_address)
    @blp.arguments(RefreshSchema)
    @blp.response(200, TokensSchema)
    @blp.errors(401, 429)
    def post(self, data):
        """Trade a refresh token for a new pair of tokens

        The refresh token is used up: a second use answers 401.
        """
        return tokens.refresh(data["refresh"])


@blp.route("/auth/logout/")
class LogoutView(MethodView):
    @blp.login_required
    @blp.doc(operationId="logout")
    @blp.arguments(LogoutSchema, required=False)
    @blp.response(204)
    def post(self, data):
        """Log out: this access token, and the refresh token if given, stop working"""
        tokens.logout(get_jwt(), data.get("refresh"))


@blp.route("/auth/profile/")
class ProfileView(MethodView):
    @blp.login_required
    @blp.doc(operationId="getProfile")
    @blp.response(200, ProfileSchema)
    def get(self):
        """My own account"""
        return queries.profile_json(service.account(current_user))

    @blp.login_required
    @blp.doc(operationId="updateProfile")
    @password_guesses(service.profile_account)
    @blp.arguments(ProfileUpdateSchema)
    @blp.response(200, ProfileSchema)
    @blp.errors(409, 429)
    def patch(self, data):
        """Change my names, email or password (a new password revokes every token)"""
        user = service.update_profile(service.account(current_user), data)
        return queries.profile_json(user)


@blp.route("/users/")
class UserViews(MethodView):
    @blp.login_required
    @blp.doc(operationId="searchUsers", tags=["users"])
    @blp.arguments(UserSearchArgsSchema, location="query")
    @blp.response(200, UserPageSchema)
    def get(self, args):
        """Find people by the start of their username"""
        return queries.search(args["q"], args["limit"], args.get("cursor"))
