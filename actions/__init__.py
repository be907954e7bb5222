"""Rasa custom actions: thin adapters from conversations to `bot` services."""
