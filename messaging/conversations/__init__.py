"""Conversations: the ones I am in, their members and read markers.

routes.py (the views, under /conversations/), schemas.py (marshmallow),
queries.py (the read side), service.py (the rules and writes), and
membership.py (who sees a conversation, and its row lock).
"""
