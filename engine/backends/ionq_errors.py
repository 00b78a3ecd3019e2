"""Errors raised by the IonQ client, one small hierarchy so callers catch what they mean.

    IonQError                    anything that went wrong talking to IonQ
    ├── IonQAuthError            401/403: "invalid IonQ API key" (or no key at all)
    ├── IonQBadRequestError      400/404/413: IonQ refused the request; carries its message and validation keys
    ├── IonQRateLimitError       429 after the retries; carries `retry_after` (seconds or None)
    ├── IonQServerError          5xx/52x (or an unreadable body) after the retries; carries `status`
    ├── IonQTimeoutError         an HTTP timeout after the retries, or a job that outlived `max_queue_wait_time`
    ├── IonQConnectionError      the server could not be reached after the retries
    ├── IonQJobFailedError       the job ended `failed` or `canceled`; carries job_id, IonQ's code and message
    └── IonQSpendCapError        the next job would take the run's spend past `max_cost_usd`: not submitted

No message ever contains the API key: the client builds them from IonQ's response bodies and from its own
text, and `scrub` removes the key from anything that might echo it.
"""

from __future__ import annotations


class IonQError(Exception):
    """Base class. `circuits` is the (start, stop) row range of the batch the error concerns, when known."""

    circuits: tuple[int, int] | None = None

    def __str__(self) -> str:
        base = super().__str__()
        if self.circuits is not None:
            return f"{base} (circuits {self.circuits[0]}..{self.circuits[1] - 1})"
        return base


class IonQAuthError(IonQError):
    def __init__(self, message: str = "invalid IonQ API key"):
        super().__init__(message)


class IonQBadRequestError(IonQError):
    def __init__(self, message: str, *, status: int = 400, keys: tuple[str, ...] = ()):
        self.status = status
        self.message = message
        self.keys = keys
        detail = f" [{', '.join(keys)}]" if keys else ""
        super().__init__(f"IonQ rejected the request ({status}): {message}{detail}")


class IonQRateLimitError(IonQError):
    def __init__(self, message: str, *, retry_after: float | None = None):
        self.retry_after = retry_after
        super().__init__(message)


class IonQServerError(IonQError):
    def __init__(self, message: str, *, status: int):
        self.status = status
        super().__init__(message)


class IonQTimeoutError(IonQError):
    def __init__(self, message: str, *, job_id: str | None = None, last_status: str | None = None):
        self.job_id = job_id
        self.last_status = last_status
        super().__init__(message)


class IonQConnectionError(IonQError):
    pass


class IonQJobFailedError(IonQError):
    def __init__(self, job_id: str, code: str, message: str):
        self.job_id = job_id
        self.code = code
        self.message = message
        super().__init__(f"IonQ job {job_id} failed: {code}: {message}")


class IonQSpendCapError(IonQError):
    """Raised before a job is submitted whose estimate would take the spend past the cap."""

    def __init__(self, spent_usd: float, next_usd: float, cap_usd: float):
        self.spent_usd = spent_usd
        self.next_usd = next_usd
        self.cap_usd = cap_usd
        super().__init__(f"spend cap reached: ${spent_usd:,.2f} spent (or committed) + ${next_usd:,.2f} for the next "
                         f"job would pass max_cost_usd = ${cap_usd:,.2f}; no job was submitted")


def scrub(text: str, secret: str | None) -> str:
    """`text` with every occurrence of `secret` replaced, so server echoes cannot leak the key: as it is, and as a
    server quoting the raw header would write it (h11 echoed `b'Authorization: apiKey secret\\x01key'`)."""
    if not secret:
        return text
    for form in {secret, repr(secret)[1:-1], repr(secret.encode())[2:-1]}:
        text = text.replace(form, "***")
    return text
