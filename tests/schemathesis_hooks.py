"""Schemathesis hooks for tests/test_schemathesis.py: requests carry a real bearer token.

The token comes from logging in as the account the test names (SCHEMATHESIS_USERNAME,
SCHEMATHESIS_PASSWORD) at SCHEMATHESIS_BASE_URL. When an answer is 401 (a generated
logout revoked the token), schemathesis logs in again and retries the request.
"""
import json
import os
import urllib.request

import schemathesis


@schemathesis.auth()
class LoginToken:
    def get(self, case, ctx):
        credentials = {
            "username": os.environ["SCHEMATHESIS_USERNAME"],
            "password": os.environ["SCHEMATHESIS_PASSWORD"],
        }
        request = urllib.request.Request(
            f"{os.environ['SCHEMATHESIS_BASE_URL']}/api/auth/login/",
            data=json.dumps(credentials).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)["access"]

    def set(self, case, token, ctx):
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
