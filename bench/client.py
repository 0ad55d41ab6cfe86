"""A small JSON client on the standard library's urllib, for seeding and for timing requests."""
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

# The server is on this machine: never go through a proxy set in the environment.
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Client:
    base: str  # e.g. http://127.0.0.1:8000
    timeout: float = 60

    def call(self, method: str, path: str, body=None, token: str | None = None) -> tuple[int, Any]:
        """(status, JSON body) of one request; error statuses are answers too, not exceptions."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with opener.open(request, timeout=self.timeout) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def expect(self, status: int, method: str, path: str, body=None, token=None) -> Any:
        """The JSON body of a request that must answer `status`; anything else stops the run."""
        got, answer = self.call(method, path, body, token)
        if got != status:
            raise RuntimeError(f"{method} {path} answered {got}, expected {status}: {answer}")
        return answer
