"""The proactive service's tables and message templates (rules: bot/services)."""
