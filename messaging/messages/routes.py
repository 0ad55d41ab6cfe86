"""Message views: history and sync, send, read, edit, delete."""
from flask.views import MethodView
from flask_jwt_extended import current_user

from ..blueprint import Blueprint
from ..extensions import limiter
from ..limits import send_limit
from . import queries, service
from .schemas import (
    IdempotencyKeySchema,
    MessageBodySchema,
    MessageListArgsSchema,
    MessagePageSchema,
    MessageSchema,
)

blp = Blueprint(
    "messages",
    __name__,
    url_prefix="/conversations/<uuid:conversation_id>/messages",
    description="Messages in a conversation.",
)

# OpenAPI links: where a new message's id is used next (see CONVERSATION_LINKS).
MESSAGE_LINKS = {
    operation_id: {
        "operationId": operation_id,
        "parameters": {
            "conversation_id": "$response.body#/conversation_id",
            "message_id": "$response.body#/id",
        },
    }
    for operation_id in ("getMessage", "replaceMessage", "editMessage", "deleteMessage")
}
MESSAGE_LINKS["listMessagesSince"] = {
    "operationId": "listMessages",
    "parameters": {
        "conversation_id": "$response.body#/conversation_id",
        "since": "$response.body#/id",
    },
}


@blp.route("/")
class MessageViews(MethodView):
    @blp.login_required
    @blp.doc(operationId="listMessages")
    @blp.arguments(MessageListArgsSchema, location="query")
    @blp.response(200, MessagePageSchema)
    @blp.errors(404)
    def get(self, args, conversation_id):
        """Message history, newest first; with `since`, what came after it, oldest first

        `next` leads to older messages (or, with `since`, to the rest of the new
        ones) and is null when there is nothing more now. To stay in sync, keep
        the id of the last message you saw and ask `?since=` that id.
        """
        return queries.history(
            conversation_id, current_user.id, args["limit"], args.get("cursor"), args.get("since")
        )

    @blp.login_required
    @blp.doc(operationId="sendMessage", responses={201: {"links": MESSAGE_LINKS}})
    @limiter.limit(send_limit)
    @blp.arguments(IdempotencyKeySchema, location="headers")
    @blp.arguments(MessageBodySchema, example={"content": "Hey, how are you?"})
    @blp.response(201, MessageSchema)
    @blp.errors(404, 409, 429)
    def post(self, headers, data, conversation_id):
        """Send a message (a retry with the same Idempotency-Key returns the first one)

        The key is yours to choose (a UUID per message is good) and is kept by
        the server for good: the same key again, for the same conversation and
        text, answers 201 with the first message; for anything else, 409.
        """
        return service.send_message(
            conversation_id, current_user, data["content"], headers.get("idempotency_key")
        )


@blp.route("/<uuid:message_id>/")
class MessageByIdViews(MethodView):
    @blp.login_required
    @blp.doc(operationId="getMessage")
    @blp.response(200, MessageSchema)
    @blp.errors(404)
    def get(self, conversation_id, message_id):
        """One message"""
        return queries.one(conversation_id, message_id, current_user.id)

    @blp.login_required
    @blp.doc(operationId="replaceMessage")
    @blp.arguments(MessageBodySchema)
    @blp.response(200, MessageSchema)
    @blp.errors(403, 404)
    def put(self, data, conversation_id, message_id):
        """Edit my message"""
        return service.edit_message(conversation_id, message_id, current_user, data["content"])

    @blp.login_required
    @blp.doc(operationId="editMessage")
    @blp.arguments(MessageBodySchema)
    @blp.response(200, MessageSchema)
    @blp.errors(403, 404)
    def patch(self, data, conversation_id, message_id):
        """Edit my message"""
        return service.edit_message(conversation_id, message_id, current_user, data["content"])

    @blp.login_required
    @blp.doc(operationId="deleteMessage")
    @blp.response(204)
    @blp.errors(403, 404)
    def delete(self, conversation_id, message_id):
        """Delete a message (its sender, or the conversation's owner)"""
        service.delete_message(conversation_id, message_id, current_user)
