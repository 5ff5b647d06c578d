"""Intake: every complaint, by phone, SMS or the web form, becomes a ticket through one service."""
