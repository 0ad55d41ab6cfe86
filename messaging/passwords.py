"""Password hashing (Argon2id) and the password rules.

The cost is OWASP's minimum for Argon2id: 19 MiB of memory, 2 passes, one
lane (about 20 ms). A hash records its own parameters, so raising them later
still verifies the old hashes. Hashing runs off the worker's loop (serving.py),
so that a storm of logins does not freeze the worker's event streams.
"""
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .serving import off_the_loop

hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

MIN_LENGTH = 8
MAX_LENGTH = 128


def hash_password(password: str) -> str:
    return off_the_loop(hasher.hash, password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return off_the_loop(hasher.verify, password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def dummy_hash() -> str:
    """A hash to check against when there is no user, so that both cases take as long."""
    return hasher.hash("not the password of anybody")


@cache
def common_passwords() -> frozenset[str]:
    path = Path(__file__).with_name("common-passwords.txt")
    lines = path.read_text().splitlines()
    return frozenset(line.strip().lower() for line in lines if line and not line.startswith("#"))


def is_common(password: str) -> bool:
    return password.lower() in common_passwords()
