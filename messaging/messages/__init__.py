"""Messages, nested under a conversation.

routes.py (the views, under /conversations/<id>/messages/), schemas.py
(marshmallow), queries.py (the read side), service.py (the rules and writes).
"""
