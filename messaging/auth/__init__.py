"""Accounts and tokens: register, log in and out, refresh, profile, and finding people.

routes.py (the views, under /api/), schemas.py (bodies), service.py (the rules),
tokens.py (JWTs) and revocation.py (the revoked list).
"""
