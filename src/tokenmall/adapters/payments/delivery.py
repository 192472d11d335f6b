"""Posting a gateway's signed event to a URL over HTTP, as the gateway itself would.

Used only with a URL the operator configured (``sandbox_webhook_url``); the default delivery
is in-process. Never called with an address taken from a request.
"""

from __future__ import annotations

import urllib.error
import urllib.request

TIMEOUT_SECONDS = 15


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    """POST ``body``: (the status, the answer's text); (0, why) if nothing answered."""
    call = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(call, timeout=TIMEOUT_SECONDS) as answer:
            return int(answer.status), answer.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode("utf-8", "replace")
    except OSError as exc:
        return 0, str(exc)
