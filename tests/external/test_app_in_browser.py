"""The example client at /app/, in a real browser, against a real gunicorn.

Headless Chromium (Debian's `chromium`, at CHROMIUM or /usr/bin/chromium),
driven by Playwright; alice and bob each in a browser context of their own
(their own cookies and storage, like two people). Both log in through the
page; what bob's page shows of alice comes through its event stream, without
a reload. Needs Chromium: `make test-external` (README, "Tests").
"""
import pytest
from helpers import PASSWORD, request
from playwright.sync_api import Page, expect


@pytest.fixture
def open_page(browser):
    """open_page(base): a page in a browser context of its own. After the test, the
    page must have logged no error: a refused script or style (the page's
    Content-Security-Policy), a failed request, an uncaught exception."""
    pages = []

    def open_(base: str) -> Page:
        page = browser.new_context().new_page()
        page.set_default_timeout(10_000)
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.on("console", lambda message: logged(page, message))
        page.goto(f"{base}/app/")
        page.evaluate("window.loadedOnce = true")  # gone if the page reloads
        pages.append(page)
        return page

    yield open_
    for page in pages:
        assert page.errors == []
        assert page.evaluate("window.loadedOnce") is True


def logged(page: Page, message) -> None:
    # A browser asks for /favicon.ico by itself; the API has none (404).
    if message.type == "error" and not message.location["url"].endswith("/favicon.ico"):
        page.errors.append(f"{message.text} ({message.location['url']})")


def log_in(page: Page, username: str) -> None:
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#me")).to_have_text(username)
    expect(page.locator("#connection")).to_have_text("live")  # its event stream is open


def conversation_in_list(page: Page, name: str):
    return page.locator("#conversations li").filter(has_text=name)


def test_bob_sees_alices_messages_and_typing_live(server, open_page, alice, bob):
    alices, bobs = open_page(server), open_page(server)
    log_in(bobs, "bob")
    log_in(alices, "alice")

    # Alice starts a conversation with bob by his username, and writes.
    alices.get_by_label("Talk to").fill("bob")
    alices.get_by_role("button", name="Start").click()
    expect(alices.locator("#title")).to_have_text("bob")
    alices.get_by_label("Message").fill("Hello Bob")
    alices.get_by_role("button", name="Send").click()
    expect(alices.locator("#messages li")).to_have_count(1)

    # Bob's list gets the conversation, one unread message; he opens it.
    expect(conversation_in_list(bobs, "alice").locator(".unread")).to_have_text("1")
    conversation_in_list(bobs, "alice").get_by_role("button").click()
    expect(bobs.locator("#messages li")).to_have_count(1)
    expect(bobs.locator("#messages li .content")).to_have_text("Hello Bob")
    expect(conversation_in_list(bobs, "alice").locator(".unread")).to_have_count(0)

    # Alice types: bob sees it. Her message comes: the notice goes, the message shows.
    alices.get_by_label("Message").press_sequentially("How are")
    expect(bobs.locator("#typing")).to_have_text("alice is typing…")
    alices.get_by_label("Message").fill("How are you?")
    alices.get_by_role("button", name="Send").click()
    expect(bobs.locator("#messages li .content")).to_have_text(["Hello Bob", "How are you?"])
    expect(bobs.locator("#typing")).to_have_text("")


def test_bob_sees_edits_and_deletes_live(server, open_page, alice, bob):
    status, conversation = request(server, "POST", "/conversations/",
                                   {"participants": [bob.id]}, alice.access)
    assert status == 201
    url = f"/conversations/{conversation['id']}/messages/"
    first = request(server, "POST", url, {"content": "first"}, alice.access)[1]
    second = request(server, "POST", url, {"content": "second"}, alice.access)[1]

    bobs = open_page(server)
    log_in(bobs, "bob")
    conversation_in_list(bobs, "alice").get_by_role("button").click()
    messages = bobs.locator("#messages li .content")
    expect(messages).to_have_text(["first", "second"])  # the oldest at the top

    assert request(server, "PATCH", f"{url}{first['id']}/", {"content": "first, edited"},
                   alice.access)[0] == 200
    expect(messages).to_have_text(["first, edited", "second"])
    expect(bobs.locator("#messages li").first.locator("time")).to_contain_text("edited")
    assert request(server, "DELETE", f"{url}{second['id']}/", token=alice.access)[0] == 204
    expect(messages).to_have_text(["first, edited"])


def test_the_page_gets_new_tokens_and_resumes_when_its_access_token_expires(
    make_server, open_page, alice, bob
):
    base = make_server(WEB_CONCURRENCY="1", JWT_ACCESS_TOKEN_EXPIRES="3")
    bobs = open_page(base)
    log_in(bobs, "bob")
    status, conversation = request(base, "POST", "/conversations/",
                                   {"participants": [bob.id]}, alice.access)
    assert status == 201
    expect(conversation_in_list(bobs, "alice")).to_be_visible()  # an event: a position

    # Bob's token expires: his stream ends with `event: auth`. The page refreshes
    # the tokens and opens a new stream from where the last one stopped.
    def resumes(req):
        return req.url.startswith(f"{base}/api/events/?ticket=") and "&after=" in req.url

    with bobs.expect_request(resumes, timeout=10_000):
        pass
    url = f"/conversations/{conversation['id']}/messages/"
    assert request(base, "POST", url, {"content": "still there?"}, alice.access)[0] == 201
    expect(conversation_in_list(bobs, "alice").locator(".unread")).to_have_text("1")
