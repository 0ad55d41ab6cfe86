"""Conversation views: list, create, read, change, delete, leave, mark read."""
from flask.views import MethodView
from flask_jwt_extended import current_user

from ..pagination import PageArgsSchema
from . import blp, service
from .schemas import (
    ConversationCreateSchema,
    ConversationPageSchema,
    ConversationReplaceSchema,
    ConversationSchema,
    ConversationUpdateSchema,
    ReadMarkerSchema,
)


@blp.route("/")
class ConversationViews(MethodView):
    @blp.login_required
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, ConversationPageSchema)
    def get(self, args):
        """My conversations, most recent activity first"""
        return service.list_conversations(current_user, args["limit"], args.get("cursor"))

    @blp.login_required
    @blp.arguments(ConversationCreateSchema)
    @blp.response(201, ConversationSchema)
    @blp.alt_response(200, schema=ConversationSchema, success=True,
                      description="The direct conversation with this person already exists.")
    def post(self, data):
        """Start a conversation (or get the existing direct one)"""
        conversation, created = service.create_conversation(
            current_user, data["participants"], data.get("title")
        )
        service.add_summaries([conversation], current_user)
        # The one view with two success codes: 201 made, 200 found (DESIGN.md).
        return conversation, 201 if created else 200


@blp.route("/<uuid:conversation_id>/")
class ConversationByIdViews(MethodView):
    @blp.login_required
    @blp.response(200, ConversationSchema)
    @blp.errors(404)
    def get(self, conversation_id):
        """One of my conversations"""
        conversation = service.conversation_or_404(conversation_id, current_user)
        return service.add_summaries([conversation], current_user)[0]

    @blp.login_required
    @blp.arguments(ConversationReplaceSchema)
    @blp.response(200, ConversationSchema)
    @blp.errors(403, 404, 409)
    def put(self, data, conversation_id):
        """Rename a conversation, or (owner) change its members; `title` is required"""
        return self._update(conversation_id, data)

    @blp.login_required
    @blp.arguments(ConversationUpdateSchema)
    @blp.response(200, ConversationSchema)
    @blp.errors(403, 404, 409)
    def patch(self, data, conversation_id):
        """Rename a conversation, or (owner) change its members"""
        return self._update(conversation_id, data)

    @staticmethod
    def _update(conversation_id, data):
        conversation = service.conversation_or_404(conversation_id, current_user)
        service.update_conversation(conversation, current_user, data)
        return service.add_summaries([conversation], current_user)[0]

    @blp.login_required
    @blp.response(204)
    @blp.errors(403, 404)
    def delete(self, conversation_id):
        """Delete a conversation and its messages (owner only)"""
        conversation = service.conversation_or_404(conversation_id, current_user)
        service.delete_conversation(conversation, current_user)


@blp.route("/<uuid:conversation_id>/leave/")
class LeaveView(MethodView):
    @blp.login_required
    @blp.response(204)
    @blp.errors(404)
    def post(self, conversation_id):
        """Leave a conversation"""
        conversation = service.conversation_or_404(conversation_id, current_user)
        service.leave(conversation, current_user)


@blp.route("/<uuid:conversation_id>/read/")
class ReadMarkerView(MethodView):
    @blp.login_required
    @blp.arguments(ReadMarkerSchema)
    @blp.response(200, ConversationSchema)
    @blp.errors(404)
    def post(self, data, conversation_id):
        """Mark messages read up to this one (the marker never moves back)"""
        conversation = service.conversation_or_404(conversation_id, current_user)
        service.mark_read(conversation, current_user, data["message_id"])
        return service.add_summaries([conversation], current_user)[0]
