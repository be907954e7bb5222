"""Twilio Voice input channel (the phone IVR): POST /webhooks/voice/webhook and /status.

Compared with Rasa's own `twilio_voice` channel this one checks every request's
X-Twilio-Signature, takes keypad input as well as speech (menus, numbered choices,
order and phone numbers keyed in and read back before use), transfers to a person or
hangs up when the assistant says so, and always answers with TwiML within
`VOICE_RESPONSE_TIMEOUT` seconds, speaking a slow turn's replies at the call's next
webhook.

A call is one conversation, ``voice:<CallSid>``. Caller ID can be spoofed, so its
`From` number is vouched for with a signed `ChannelIdentity` (verifying callers for
their own orders without an email address) only as `VOICE_TRUST_CALLER_ID` allows:
by default when Twilio reports full STIR/SHAKEN attestation (``StirVerstat`` is
``TN-Validation-Passed-A``). Any other caller is asked for their email like a web
visitor; a callback ticket still gets `From` as the number to call back.

Twilio signs every request, so a captured one can be replayed, and a field boundary
moved (``CallSid=CA…CallStatusringing``) without breaking the signature. So the
fields used must have Twilio's exact formats (`channels.twilio_checks`); every URL
we give Twilio carries a one-time ``step`` token, so no two genuine webhooks share a
signature and a request whose signature was seen is answered without acting on it;
and a call that ended (status callback) or began more than `MAX_CALL_SECONDS` ago is
only hung up on.

The modules, from the caller's words to the wire:

- `prompts`: what the IVR says itself (greeting, menus, reprompts, apologies).
- `speech`: reading digits, numbers and yes/no from speech; text made speakable.
- `state`: the call's state and a slow turn's replies, kept in the database.
- `ivr`: the pure decisions (`interpret`, `on_silence`) on a webhook's input.
- `replies`: the assistant's replies as speech, numbered choices and call control.
- `twiml`: the TwiML answers and the URLs Twilio calls next.
- `channel`: `VoiceInput`, the Sanic routes that tie them together (credentials.yml
  names ``channels.voice.channel.VoiceInput``).
"""
