"""Responders: the staff side. Sign-in, the workspace, tickets, and the SMS outbox."""
