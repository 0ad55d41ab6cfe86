"""Messages, nested under a conversation.

routes.py (the views, under /conversations/<id>/messages/), schemas.py (bodies),
service.py (the rules).
"""
