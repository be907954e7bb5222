"""The same customer on SMS and on the phone: recognised, but separate conversations."""

from __future__ import annotations

from tests.customers import PhoneCall, inbound, replies
from tests.stack import Stack

SAM = "+14155550178"


def test_unfinished_sms_form_does_not_hijack_a_call_from_the_same_number(
    stack: Stack,
) -> None:
    # Sam starts a change request by SMS and stops halfway (the form waits for a number).
    asked = replies(stack.twilio_post("/webhooks/sms/webhook",
                                      inbound("i need to change my order", SAM)))  # fmt: skip
    assert "order number" in " ".join(asked)

    # Then he calls: a new conversation, which still knows him by his number.
    call = PhoneCall(stack, SAM)
    greeting = call.start()
    assert "order status" in greeting.said
    call.press("1")
    call.press("108842")
    status = call.press("1")
    assert "out for delivery" in status.said and "FedEx" in status.said
    assert "change" not in status.said.lower()

    # The SMS conversation picks up where it left off.
    details = replies(
        stack.twilio_post("/webhooks/sms/webhook", inbound("108842", SAM))
    )
    assert "What would you like to change on the order?" in details
