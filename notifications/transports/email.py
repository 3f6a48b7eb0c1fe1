"""E-mail through Django's mail backends (SMTP from EMAIL_URL in production, Mailpit in
docker-compose, console in the embedded run)."""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.mail import EmailMessage

from notifications.transports.base import Message, TransportError


class EmailTransport:
    """SMTP 5xx answers are permanent (the address or the message is refused); 4xx answers,
    disconnects and network errors are transient."""

    def send(self, message: Message) -> None:
        email = EmailMessage(
            subject=message.subject,
            body=message.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[message.to],
            headers={"Auto-Submitted": "auto-generated", "X-Tracker-Delivery": message.key},
        )
        try:
            sent = email.send(fail_silently=False)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            permanent = bool(codes) and all(500 <= code < 600 for code in codes)
            raise TransportError(
                f"smtp: recipient refused {codes}", permanent=permanent, invalid_recipient=permanent
            ) from None
        except smtplib.SMTPResponseException as exc:
            permanent = 500 <= exc.smtp_code < 600
            raise TransportError(
                f"smtp: {type(exc).__name__} {exc.smtp_code}", permanent=permanent
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise TransportError(f"smtp: {type(exc).__name__}") from None
        if sent != 1:
            raise TransportError("smtp: backend reported nothing sent")
