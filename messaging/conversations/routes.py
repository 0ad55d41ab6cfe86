"""Conversation views: list, create, read, change, delete, leave, mark read."""
from flask.views import MethodView
from flask_jwt_extended import current_user

from ..blueprint import Blueprint
from ..pagination import PageArgsSchema
from . import queries, service
from .membership import member_or_404
from .schemas import (
    ConversationCreateSchema,
    ConversationPageSchema,
    ConversationReplaceSchema,
    ConversationSchema,
    ConversationUpdateSchema,
    ReadMarkerSchema,
)

blp = Blueprint(
    "conversations", __name__, url_prefix="/conversations", description="Conversations."
)

CREATE_EXAMPLE = {"participants": ["7d0f1c1e-8a73-4a3c-9a55-2f7e8c1d0b6a"], "title": None}

# OpenAPI links: where a new conversation's id is used next. Generated clients
# show them, and schemathesis follows them to reach these routes with real ids.
CONVERSATION_LINKS = {
    operation_id: {
        "operationId": operation_id,
        "parameters": {"conversation_id": "$response.body#/id"},
    }
    for operation_id in (
        "getConversation", "replaceConversation", "updateConversation", "deleteConversation",
        "leaveConversation", "markConversationRead", "listMessages", "sendMessage",
    )
}


@blp.route("/")
class ConversationViews(MethodView):
    @blp.login_required
    @blp.doc(operationId="listConversations")
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, ConversationPageSchema)
    def get(self, args):
        """My conversations, most recent activity first"""
        return queries.mine(current_user.id, args["limit"], args.get("cursor"))

    @blp.login_required
    @blp.doc(
        operationId="createConversation",
        responses={201: {"links": CONVERSATION_LINKS}, 200: {"links": CONVERSATION_LINKS}},
    )
    @blp.arguments(ConversationCreateSchema, example=CREATE_EXAMPLE)
    @blp.response(201, ConversationSchema)
    @blp.alt_response(200, schema=ConversationSchema, success=True,
                      description="The direct conversation with this person already exists.")
    def post(self, data):
        """Start a conversation (or get the existing direct one)

        I am always a member and its owner. With exactly one other person and no
        title the conversation is *direct*: a pair has only one, so asking again
        (either of the two) answers 200 with the same conversation.
        """
        conversation, created = service.create_conversation(
            current_user, data["participants"], data.get("title")
        )
        # Two success codes: 201 made, 200 found (DESIGN.md).
        return service.answer(conversation.id, current_user), 201 if created else 200


@blp.route("/<uuid:conversation_id>/")
class ConversationByIdViews(MethodView):
    @blp.login_required
    @blp.doc(operationId="getConversation")
    @blp.response(200, ConversationSchema)
    @blp.errors(404)
    def get(self, conversation_id):
        """One of my conversations"""
        return service.answer(conversation_id, current_user)

    @blp.login_required
    @blp.doc(operationId="replaceConversation")
    @blp.arguments(ConversationReplaceSchema)
    @blp.response(200, ConversationSchema)
    @blp.errors(403, 404, 409)
    def put(self, data, conversation_id):
        """Rename a conversation, or (owner) change its members; `title` is required

        Any member may rename. `participants` is the full new member list: only
        the owner may send it, it must include the owner, and a direct
        conversation's members cannot change (409).
        """
        return service.update_conversation(conversation_id, current_user, data)

    @blp.login_required
    @blp.doc(operationId="updateConversation")
    @blp.arguments(ConversationUpdateSchema)
    @blp.response(200, ConversationSchema)
    @blp.errors(403, 404, 409)
    def patch(self, data, conversation_id):
        """Rename a conversation, or (owner) change its members

        As PUT, but every field is optional.
        """
        return service.update_conversation(conversation_id, current_user, data)


    @blp.login_required
    @blp.doc(operationId="deleteConversation")
    @blp.response(204)
    @blp.errors(403, 404)
    def delete(self, conversation_id):
        """Delete a conversation and its messages (owner only)"""
        service.delete_conversation(conversation_id, current_user)


@blp.route("/<uuid:conversation_id>/leave/")
class LeaveView(MethodView):
    @blp.login_required
    @blp.doc(operationId="leaveConversation")
    @blp.response(204)
    @blp.errors(404)
    def post(self, conversation_id):
        """Leave a conversation

        If the owner leaves, the longest-standing member becomes the owner; when
        the last member leaves, the conversation is deleted.
        """
        service.leave(conversation_id, current_user)


@blp.route("/<uuid:conversation_id>/read/")
class ReadMarkerView(MethodView):
    @blp.login_required
    @blp.doc(operationId="markConversationRead")
    @blp.arguments(ReadMarkerSchema, example={"message_id": "0b9f0a7e-6c1e-4c44-9b8f-1e2d3c4b5a69"})
    @blp.response(200, ConversationSchema)
    @blp.errors(404)
    def post(self, data, conversation_id):
        """Mark messages read up to this one (the marker never moves back)

        Answers the conversation with its new `unread_count`. Sending a message
        also marks everything up to it read.
        """
        member_or_404(conversation_id, current_user.id)
        service.mark_read(conversation_id, current_user, data["message_id"])
        return service.answer(conversation_id, current_user)
