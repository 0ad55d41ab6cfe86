"""Try it out, in a real browser: Swagger UI at /docs/ drives the API through a real gunicorn.

Headless Chromium (Debian's `chromium`, at CHROMIUM or /usr/bin/chromium),
driven by Playwright: log in through the login operation, paste the token into
Authorize, start a conversation and send a message, and read the answers the
page shows. Needs Chromium: `make test-external` (README, "Tests").
"""
import json
import re

import pytest
from helpers import PASSWORD, request
from playwright.sync_api import Page, expect


@pytest.fixture
def page(browser):
    page = browser.new_page()
    page.set_default_timeout(15_000)
    return page


def operation(page: Page, operation_id: str, tag: str):
    """The operation's block, opened, in "Try it out" mode."""
    block = page.locator(f"#operations-{tag}-{operation_id}")
    block.locator(".opblock-summary").first.click()
    block.get_by_role("button", name="Try it out").click()
    return block


def execute(block, body: dict) -> tuple[str, dict]:
    """Send `body` from the block's editor; the status code and JSON answer the page shows."""
    block.locator("textarea.body-param__text").fill(json.dumps(body))
    block.get_by_role("button", name="Execute").click()
    response = block.locator(".live-responses-table .response").first
    expect(response).to_be_visible()
    status = response.locator(".response-col_status").inner_text().strip()
    text = response.locator(".response-col_description pre.microlight").first.inner_text()
    return status, json.loads(text)


def test_swagger_ui_logs_in_authorizes_and_sends_a_message(server, page):
    request(server, "POST", "/api/auth/register/",
            {"username": "alice", "email": "alice@example.com", "password": PASSWORD})
    _, bob = request(server, "POST", "/api/auth/register/",
                     {"username": "bob", "email": "bob@example.com", "password": PASSWORD})
    page.goto(f"{server}/docs/")
    expect(page.locator(".information-container .title")).to_contain_text("messaging")

    # Log in through the login operation; the answer holds the tokens.
    status, session = execute(operation(page, "login", "auth"),
                              {"username": "alice", "password": PASSWORD})
    assert status == "200"
    assert session["user"]["username"] == "alice"

    # Paste the access token into Authorize.
    page.get_by_role("button", name=re.compile("Authorize")).first.click()
    dialog = page.locator(".modal-ux")
    dialog.locator("input").first.fill(session["access"])
    dialog.locator("button.modal-btn.authorize").click()
    expect(dialog.locator("h6")).to_have_text("Authorized")
    dialog.locator("button.btn-done").click()

    # Start a conversation with Bob.
    status, conversation = execute(operation(page, "createConversation", "conversations"),
                                   {"participants": [bob["id"]], "title": None})
    assert status == "201"
    assert {member["username"] for member in conversation["participants"]} == {"alice", "bob"}

    # Send a message in it.
    send = operation(page, "sendMessage", "messages")
    send.locator('tr[data-param-name="conversation_id"] input').fill(conversation["id"])
    status, message = execute(send, {"content": "Hello from Swagger UI"})
    assert status == "201"
    assert message["content"] == "Hello from Swagger UI"
    assert message["conversation_id"] == conversation["id"]
    assert message["sender"]["username"] == "alice"

    # The API agrees: the message is there.
    _, history = request(server, "GET", f"/conversations/{conversation['id']}/messages/",
                         token=session["access"])
    assert [item["id"] for item in history["results"]] == [message["id"]]
