"""Request and response bodies of the auth blueprint."""
from marshmallow import ValidationError, fields, validate

from .. import passwords
from ..pagination import PageArgsSchema, PageSchema
from ..schemas import Schema, UTCDateTime


class FullMatch(validate.Regexp):
    """A Regexp validator that matches the whole value.

    (`re.match` with `$` lets a value end in a newline: "alice\n" would pass.)
    """

    def __call__(self, value: str) -> str:
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


USERNAME = [
    validate.Length(3, 150),
    FullMatch(r"^[A-Za-z0-9_.-]+$", error="Only letters, digits, '_', '.' or '-'."),
]
NAME = validate.Length(max=150)


class PasswordField(fields.String):
    """A new password: 8 to 128 characters, and not a well-known one."""

    def __init__(self, **kwargs):
        length = validate.Length(passwords.MIN_LENGTH, passwords.MAX_LENGTH)
        super().__init__(load_only=True, validate=[length, self.not_common], **kwargs)

    @staticmethod
    def not_common(value: str) -> None:
        if passwords.is_common(value):
            raise ValidationError("This password is too common.")


class UserSchema(Schema):
    """A user as anybody sees them (never with the email); an answer, all fields always there."""

    id = fields.UUID(required=True)
    username = fields.String(required=True, metadata={"example": "alice"})
    first_name = fields.String(
        required=True, metadata={"example": "Alice", "description": "May be empty."}
    )
    last_name = fields.String(
        required=True, metadata={"example": "Liddell", "description": "May be empty."}
    )
    created_at = UTCDateTime(required=True)


class ProfileSchema(UserSchema):
    """A user as they see themselves."""

    email = fields.Email(required=True, metadata={"example": "alice@example.com"})


class RegisterSchema(Schema):
    """A new account: what the client chooses, nothing the server makes."""

    username = fields.String(required=True, validate=USERNAME, metadata={"example": "alice"})
    email = fields.Email(
        required=True, validate=validate.Length(max=254), metadata={"example": "alice@example.com"}
    )
    password = PasswordField(required=True, metadata={"example": "correct horse battery"})
    first_name = fields.String(validate=NAME, metadata={"example": "Alice"})
    last_name = fields.String(validate=NAME, metadata={"example": "Liddell"})


class ProfileUpdateSchema(Schema):
    first_name = fields.String(validate=NAME)
    last_name = fields.String(validate=NAME)
    email = fields.Email(validate=validate.Length(max=254))
    password = PasswordField()
    current_password = fields.String(
        load_only=True,
        validate=validate.Length(max=passwords.MAX_LENGTH),
        metadata={"description": "Needed to change the email or the password."},
    )


class LoginSchema(Schema):
    username = fields.String(
        required=True,
        validate=validate.Length(1, 254),
        metadata={"description": "The username or the email.", "example": "alice"},
    )
    password = fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(1, passwords.MAX_LENGTH),
        metadata={"example": "correct horse battery"},
    )


class RefreshSchema(Schema):
    refresh = fields.String(
        required=True,
        validate=validate.Length(1, 2000),
        metadata={"description": "A refresh token from login or a previous refresh."},
    )


class LogoutSchema(Schema):
    refresh = fields.String(
        validate=validate.Length(1, 2000),
        metadata={"description": "The refresh token to revoke along with the access token."},
    )


class TokensSchema(Schema):
    access = fields.String(
        required=True, metadata={"description": "Access token: `Authorization: Bearer ...`."}
    )
    refresh = fields.String(
        required=True, metadata={"description": "Refresh token, for /api/auth/refresh/."}
    )


class LoginResponseSchema(TokensSchema):
    user = fields.Nested(ProfileSchema, required=True)


class UserSearchArgsSchema(PageArgsSchema):
    q = fields.String(
        required=True,
        validate=validate.Length(1, 150),
        metadata={"description": "Start of a username, any case.", "example": "ali"},
    )


class UserPageSchema(PageSchema):
    results = fields.List(fields.Nested(UserSchema), required=True)
