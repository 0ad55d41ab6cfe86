"""Accounts and tokens: register, log in and out, refresh, profile, and finding people.

routes.py (the views, under /api/), schemas.py (marshmallow), queries.py (the
read side), service.py (the rules and writes), tokens.py (JWTs), token_cache.py
(each token verified once per worker) and revocation.py (the revoked list).
"""
