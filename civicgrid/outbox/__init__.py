"""Outgoing messages: webhooks, SMS and e-mail, written to the outbox in the transaction of
the event that causes them and delivered afterwards by the sender (``civicgrid worker``)."""
