"""Routing: classify complaints, route them to the responsible unit, and keep their deadlines."""
