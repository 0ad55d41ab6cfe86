"""Event views: the stream, its tickets, and typing notices."""
import re

from flask import Response, current_app, request
from flask.views import MethodView
from flask_jwt_extended import current_user, get_jwt, verify_jwt_in_request
from flask_smorest import abort

from ..auth.tokens import token_user
from ..blueprint import Blueprint
from ..conversations.membership import member_or_404
from ..errors import invalid
from ..extensions import limiter
from ..limits import typing_limit
from . import log, tickets
from .hub import TooManyStreams, hub, typing
from .schemas import EVENT_STREAM, StreamArgsSchema, TicketSchema
from .stream import EventStream

# ASCII digits only: str.isdigit() also takes "²", which int() refuses.
EVENT_ID = re.compile(r"[0-9]{1,19}")

STREAM_HEADERS = {
    "Cache-Control": "no-store",
    "X-Accel-Buffering": "no",  # nginx: pass each event on at once
}

blp = Blueprint("events", __name__, description="Live events (Server-Sent Events).")


@blp.route("/api/events/")
class EventsView(MethodView):
    @blp.arguments(StreamArgsSchema, location="query")
    @blp.doc(operationId="streamEvents", security=[{"bearerAuth": []}, {}])
    @blp.response(200, EVENT_STREAM, content_type="text/event-stream", description=(
        "A stream of events (README, \"Live events\"), as Server-Sent Events text, not "
        "JSON: each event is an `id:` line (the position to resume from; `auth` has none, "
        "`typing` may have none), an `event:` line (its type) and a `data:` line (its "
        "payload, JSON on one line), then a blank line. Lines starting with `:` are "
        "heartbeats. The schema is one event as an SSE client reads it, `data` parsed."
    ))
    @blp.errors(401, 422, 429)
    def get(self, args):
        """Open my event stream (Authorization: Bearer, or ?ticket=)

        Resume with the header Last-Event-ID (EventSource sends it by itself) or
        `?after=`, the digits of an event id: every event after that position
        comes first, in order. A replay shows messages as the REST API does now:
        a deleted message's events are gone (but its `message.deleted`), an
        edited one's show the new text. A newer stream of mine over the per-user
        cap ends my oldest with a `replaced` event: do not reopen that one by
        yourself. A client that reads nothing for two heartbeats is let go.
        """
        ticket = tickets.read(args["ticket"]) if "ticket" in args else None
        grant = ticket["grant"] if ticket else bearer_grant()
        user = token_user(grant)
        if user is None:
            abort(401, message="Token has been revoked.")
        after = position(args)
        if request.method == "HEAD":  # its headers alone: no stream opened, no slot held
            return Response(mimetype="text/event-stream", headers=STREAM_HEADERS)
        if ticket:  # used up only now: a request refused above may try again with it
            tickets.use(ticket)
        try:
            stream = hub().open(user.id, grant)
        except TooManyStreams as error:  # another worker may have room: try again soon
            if ticket:
                tickets.give_back(ticket)
            abort(429, message=str(error), headers={"Retry-After": "1"})
        if after is None:  # from now on: read before answering, so that a client that
            after = log.head()[0]  # then loads through the REST API misses nothing
        let_go_if_stalled(2 * current_app.config["EVENTS_HEARTBEAT"])
        events = EventStream(current_app._get_current_object(), stream, grant, after)
        return Response(events, mimetype="text/event-stream", headers=STREAM_HEADERS)


def let_go_if_stalled(seconds: int) -> None:
    """A client that takes nothing of its stream for `seconds` (its buffers full: it
    never reads) is let go: the write fails, and the stream closes. Under gunicorn
    only (its socket is in the environ); a reading client's writes never wait that long."""
    sock = request.environ.get("gunicorn.socket")
    if sock is not None:
        sock.settimeout(seconds)


def bearer_grant() -> dict:
    """The access token's sub, ver, jti and exp (flask-jwt-extended checks it)."""
    verify_jwt_in_request()
    return {key: get_jwt()[key] for key in ("sub", "ver", "jti", "exp")}


def position(args: dict) -> int | None:
    """Where to resume: Last-Event-ID, else ?after=, else None (from now on)."""
    header = request.headers.get("Last-Event-ID")
    if header is None:
        return args.get("after")
    if not EVENT_ID.fullmatch(header) or int(header) >= 2**63:
        invalid("Last-Event-ID", "Not an event id.", location="headers")
    return int(header)


@blp.route("/api/events/ticket/")
class TicketView(MethodView):
    @blp.login_required
    @blp.doc(operationId="createEventTicket")
    @blp.response(201, TicketSchema)
    def post(self):
        """A ticket to open my stream with ?ticket= (single use, valid for seconds)"""
        return tickets.issue(get_jwt())


@blp.route("/conversations/<uuid:conversation_id>/typing/")
class TypingView(MethodView):
    @blp.login_required
    @limiter.limit(typing_limit)
    @blp.doc(operationId="sendTyping")
    @blp.response(204)
    @blp.errors(404, 429)
    def post(self, conversation_id):
        """Tell the other members I am typing (a `typing` event; never replayed)

        Send it every few seconds while typing; clients show it for about 5 s.
        """
        member_or_404(conversation_id, current_user.id)
        typing(conversation_id, current_user)
