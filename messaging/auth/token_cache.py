"""flask-jwt-extended, reading each token once per process instead of three times a request.

flask-jwt-extended has no public hook for this: every way in (jwt_required,
decode_token) ends in JWTManager._decode_jwt_from_config, which verifies the
token with PyJWT each time. So TokenManager overrides that private method and
calls the library's private _decode_jwt, as the method itself does. The
version is pinned in requirements.txt, and tests/test_tokens.py fails, saying
what to review, if a new one changes either of them.

This module imports nothing of the app: extensions.py creates `jwt` from it.
"""
from datetime import UTC, datetime

from flask_jwt_extended import JWTManager
from flask_jwt_extended.config import config
from flask_jwt_extended.tokens import _decode_jwt
from jwt import ExpiredSignatureError, get_unverified_header


class TokenManager(JWTManager):
    """flask-jwt-extended, keeping the claims of each token it has verified.

    To let a key callback pick the key by a token's header and claims, the
    library reads both unverified before the verified read. Our key is one
    fixed secret, so the verified read is all a token needs. And a token says
    the same thing every time: once read and verified, its claims are kept
    (`verified`, keyed by the whole token, signature included, and the key),
    and later requests only check that it has not expired since. Whether it
    was revoked is asked of the database every time (tokens.token_user).
    """

    VERIFIED_KEPT = 10_000  # tokens; a few MB at most, emptied when full

    def __init__(self):
        super().__init__()
        self.verified: dict[tuple[str, str], dict] = {}

    def _decode_jwt_from_config(self, encoded_token, csrf_value=None, allow_expired=False):
        if csrf_value is not None or allow_expired:
            return self.read(encoded_token, csrf_value, allow_expired)
        seen = (encoded_token, config.decode_key)
        claims = self.verified.get(seen)
        if claims is None:
            claims = self.read(encoded_token)
            if len(self.verified) >= self.VERIFIED_KEPT:
                self.verified.clear()
            self.verified[seen] = claims
        elif "exp" in claims and claims["exp"] <= now() - config.leeway:
            self.verified.pop(seen, None)
            return self.read(encoded_token)  # to raise as the library does
        return dict(claims)

    def read(self, encoded_token, csrf_value=None, allow_expired=False) -> dict:
        """The token's claims, its signature and expiry checked: the library's one verified read."""
        verify = {
            "algorithms": config.decode_algorithms,
            "audience": config.decode_audience,
            "csrf_value": csrf_value,
            "encoded_token": encoded_token,
            "identity_claim_key": config.identity_claim_key,
            "issuer": config.decode_issuer,
            "leeway": config.leeway,
            "secret": config.decode_key,
            "verify_aud": config.decode_audience is not None,
            "verify_sub": config.verify_sub,
        }
        try:
            return _decode_jwt(**verify, allow_expired=allow_expired)
        except ExpiredSignatureError as error:  # as the library does: its callback gets these
            error.jwt_header = get_unverified_header(encoded_token)
            error.jwt_data = _decode_jwt(**verify, allow_expired=True)
            raise


def now() -> float:
    return datetime.now(UTC).timestamp()  # as PyJWT reads the time
