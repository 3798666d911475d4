"""Every `DeliveryError.reason` a channel may raise: a closed set, because each is a metric label.

Add a word here before raising it; tests/unit/channels check every translation lands in this set.
"""

from __future__ import annotations

# Transient (retryable): their fault or nobody's; a later attempt may succeed.
RATE_LIMITED = "rate_limited"  # HTTP 429 / Twilio 20429; honour retry_after_s
PROVIDER_5XX = "provider_5xx"  # the provider failed (HTTP 5xx)
TIMEOUT = "timeout"  # no answer in time; the provider may still have taken the message
CONNECTION = "connection"  # could not connect, or the connection dropped
PROVIDER_ERROR = "provider_error"  # an answer we could not understand
SMTP_4XX = "smtp_4xx"  # an SMTP server's temporary refusal (greylisting, mailbox busy…)
OUTBOX_UNWRITABLE = "outbox_unwritable"

# Permanent for this recipient on this channel: fall back (another channel, the next on call).
INVALID_NUMBER = "invalid_number"  # Twilio 21211 / 21614, or not a phone number at all
UNSUBSCRIBED = "unsubscribed"  # Twilio 21610: the recipient replied STOP
REGION_NOT_ENABLED = "region_not_enabled"  # Twilio 21408: geo permissions
BODY_TOO_LONG = "body_too_long"  # Twilio 21617
REJECTED_4XX = "rejected_4xx"  # any other HTTP 4xx
AUTH = "auth"  # credentials refused (our configuration); retryable only for SMTP 454
TLS = "tls"  # TLS could not be set up or verified
SMTP_5XX = "smtp_5xx"  # an SMTP server's permanent refusal
RECIPIENT_REJECTED = "recipient_rejected"  # SMTP 5xx to RCPT TO
INVALID_ADDRESS = "invalid_address"  # not an email address we will write into a header
DOMAIN_NOT_ALLOWED = "domain_not_allowed"  # recipient outside smtp.allowed_domains
NOT_SUPPORTED = "not_supported"  # the server lacks what config requires (STARTTLS, AUTH, SMTPUTF8)
REDIRECTED = "redirected"  # a webhook subscriber answered 3xx: redirects are not followed (fix its URL)

# From status callbacks: accepted by Twilio, then not delivered (alerts.channels.twilio_status).
UNDELIVERED = "undelivered"  # Twilio gave up, no error code we map
FAILED = "failed"  # Twilio could not send it at all
QUEUE_OVERFLOW = "queue_overflow"  # 30001
ACCOUNT_SUSPENDED = "account_suspended"  # 30002
UNREACHABLE = "unreachable"  # 30003: handset off or out of coverage
BLOCKED = "blocked"  # 30004
UNKNOWN_DESTINATION = "unknown_destination"  # 30005
LANDLINE = "landline"  # 30006
CARRIER_FILTERED = "carrier_filtered"  # 30007
CARRIER_ERROR = "carrier_error"  # 30008
EXPIRED = "expired"  # 30036: ValidityPeriod ran out in Twilio's queue

# From call status callbacks and key presses (alerts.channels.twilio_voice): try the next on call.
NO_ANSWER = "no_answer"  # CallStatus no-answer: it rang out
BUSY = "busy"  # CallStatus busy
CALL_FAILED = "call_failed"  # CallStatus failed: Twilio could not place the call
CANCELED = "canceled"  # CallStatus canceled
PASSED_ON = "passed_on"  # the person answered and pressed 2: pass it to the next on call

CALLBACK: frozenset[str] = frozenset(
    {
        UNDELIVERED,
        FAILED,
        QUEUE_OVERFLOW,
        ACCOUNT_SUSPENDED,
        UNREACHABLE,
        BLOCKED,
        UNKNOWN_DESTINATION,
        LANDLINE,
        CARRIER_FILTERED,
        CARRIER_ERROR,
        EXPIRED,
        NO_ANSWER,
        BUSY,
        CALL_FAILED,
        CANCELED,
        PASSED_ON,
    }
)

ALL: frozenset[str] = CALLBACK | frozenset(
    {
        RATE_LIMITED,
        PROVIDER_5XX,
        TIMEOUT,
        CONNECTION,
        PROVIDER_ERROR,
        SMTP_4XX,
        OUTBOX_UNWRITABLE,
        INVALID_NUMBER,
        UNSUBSCRIBED,
        REGION_NOT_ENABLED,
        BODY_TOO_LONG,
        REJECTED_4XX,
        AUTH,
        TLS,
        SMTP_5XX,
        RECIPIENT_REJECTED,
        INVALID_ADDRESS,
        DOMAIN_NOT_ALLOWED,
        NOT_SUPPORTED,
        REDIRECTED,
    }
)
