"""Live events: what happens in my conversations, pushed to me as it happens.

log.py (the event log, numbered in commit order), hub.py (each worker's link
between the log and its open streams), stream.py (one client's stream: replay,
then live), tickets.py, schemas.py (each event's payload) and routes.py
(GET /api/events/, its tickets, typing notices).
"""
