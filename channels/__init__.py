"""Rasa input channels: web chat, Twilio SMS and Twilio Voice (IVR)."""
