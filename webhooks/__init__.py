"""Twilio webhooks: the HTTP edge for phone calls and texts. Thin: check, store, hand to intake."""
