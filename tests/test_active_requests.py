"""middleware.ActiveRequests: at most N requests of a process at work at once."""
import io
import threading
import time

from helpers import run_at_once

from messaging.middleware import ActiveRequests


def test_no_more_requests_than_the_limit_work_at_once():
    working, most, lock = 0, 0, threading.Lock()

    def app(environ, start_response):
        nonlocal working, most
        with lock:
            working += 1
            most = max(most, working)
        time.sleep(0.05)
        with lock:
            working -= 1
        return [environ["wsgi.input"].read()]

    limited = ActiveRequests(app, limit=2, max_body=100)
    answers = run_at_once(8, lambda i: limited(
        {"CONTENT_LENGTH": "5", "wsgi.input": io.BytesIO(b"hello")}, None))
    assert most == 2
    assert answers == [[b"hello"]] * 8


def test_a_body_is_read_before_waiting_for_a_turn():
    read = threading.Event()

    class SlowBody(io.BytesIO):
        def read(self, *args):
            read.set()
            return super().read(*args)

    limited = ActiveRequests(lambda environ, start: [environ["wsgi.input"].read()],
                             limit=1, max_body=100)
    limited.turns.acquire()  # every turn taken
    environ = {"CONTENT_LENGTH": "2", "wsgi.input": SlowBody(b"hi")}
    waiting = threading.Thread(target=limited, args=(environ, None))
    waiting.start()
    assert read.wait(2)  # read while no turn was free
    assert waiting.is_alive()
    limited.turns.release()
    waiting.join(2)
    assert not waiting.is_alive()
