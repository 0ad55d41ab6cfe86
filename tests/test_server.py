"""What reaches the app through a real gunicorn: bodies sent in chunks, long URLs.

Requests the server itself refuses (a request line over 8,190 bytes, a
malformed request) are answered by gunicorn before the app sees them; all
else gets the API's JSON answers.
"""
import http.client
import json
from urllib.parse import urlsplit

from helpers import request


def send_chunked(base: str, path: str, chunks: list[bytes], token: str) -> tuple[int, dict]:
    """POST `chunks` with Transfer-Encoding: chunked (no Content-Length): (status, JSON)."""
    url = urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    connection.request("POST", path, body=iter(chunks), headers=headers, encode_chunked=True)
    response = connection.getresponse()
    answer = response.status, json.loads(response.read())
    connection.close()
    return answer


def test_a_chunked_body_over_the_limit_is_413_and_stores_nothing(
    server, client, alice, bob, start_conversation
):
    conversation = start_conversation(alice, bob)
    path = f"/conversations/{conversation['id']}/messages/"
    # Valid JSON if cut anywhere after the first chunk: blanks are allowed after it.
    chunks = [b'{"content": "sneaky"}'] + [b" " * 8192] * 10

    status, body = send_chunked(server, path, chunks, alice.access)

    assert status == 413
    assert body["code"] == 413
    assert client.get(path, headers=alice.headers).json["results"] == []


def test_a_chunked_body_within_the_limit_is_read_whole(
    server, alice, bob, start_conversation
):
    conversation = start_conversation(alice, bob)
    path = f"/conversations/{conversation['id']}/messages/"

    status, body = send_chunked(server, path, [b'{"content": ', b'"in two parts"}'], alice.access)

    assert status == 201
    assert body["content"] == "in two parts"


def test_a_long_cursor_gets_the_apis_json_422_not_the_servers_414(server, alice):
    status, body = request(server, "GET", "/conversations/?cursor=" + "A" * 5000,
                           token=alice.access)

    assert status == 422
    assert "cursor" in body["errors"]["query"]
