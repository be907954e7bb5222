"""Insights: Rasa's conversation events turned into analytics tables.

`schema` holds the tables, `events` what each Rasa event means for them (written
idempotently), `sources` where the events come from (Rasa's SQL event broker table,
or a RabbitMQ queue) and `consumer` the process that moves them
(`python -m bot run insights`). The figures read from these tables, and their
definitions, are in bot/services/insights.py.
"""
