"""Conversations: the ones I am in, their members and read markers.

routes.py (the views, under /conversations/), schemas.py (bodies), service.py (the rules).
"""
