"""One vendor HTTP API: retries where retrying helps, vendor error text where it does not.

429 and 5xx (and dropped connections) are retried with backoff, honouring ``Retry-After`` and Okta's
``X-Rate-Limit-Reset``; 401/403 mean the credentials are wrong or lack a permission and are never
retried; any failure raises ``ActionFailedError`` with the status and the vendor's own message, so nothing
is swallowed. Credentials live in the auth hook and never appear in messages or the request log."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from pushguard.respond.actions import ActionFailedError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_ATTEMPTS = 4
MAX_WAIT_S = 30.0  # never sleep longer than this for one retry, whatever the vendor asks

# (method, path, query params, body bytes) -> headers to add (authorization, date...)
AuthHook = Callable[[str, str, Mapping[str, str], bytes], dict[str, str]]


def _retry_wait(response: httpx.Response | None, attempt: int, now: float) -> float:
    backoff = float(2 ** (attempt - 1))
    if response is None:
        return min(backoff, MAX_WAIT_S)
    retry_after = response.headers.get("retry-after")
    if retry_after:
        try:
            return min(max(float(retry_after), 0.0), MAX_WAIT_S)
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(retry_after)
            return min(max(parsed.timestamp() - now, 0.0), MAX_WAIT_S)
    reset = response.headers.get("x-rate-limit-reset")  # Okta: epoch seconds when the window resets
    if response.status_code == 429 and reset and reset.isdigit():
        return min(max(int(reset) - now, 0.0) + 1.0, MAX_WAIT_S)
    return min(backoff, MAX_WAIT_S)


def vendor_message(response: httpx.Response) -> str:
    """The vendor's own words for an error: Okta errorSummary, Graph error.message, Duo message."""
    try:
        body: Any = response.json()
    except ValueError:
        return response.text.strip()[:200]
    if not isinstance(body, dict):
        return str(body)[:200]
    if "errorSummary" in body:  # Okta
        causes = [c.get("errorSummary", "") for c in body.get("errorCauses") or [] if isinstance(c, dict)]
        text = f"{body.get('errorCode', '')}: {body['errorSummary']}"
        return text + (f" ({'; '.join(causes)})" if causes else "")
    error = body.get("error")
    if isinstance(error, dict):  # Graph
        return f"{error.get('code', '')}: {error.get('message', '')}"
    if "message" in body:  # Duo
        detail = body.get("message_detail")
        return f"{body.get('code', '')}: {body['message']}" + (f" ({detail})" if detail else "")
    return str(body)[:200]


class VendorHttp:
    """Calls against one vendor's base URL; remembers "METHOD path" of every call for the audit log."""

    def __init__(
        self,
        vendor: str,
        base_url: str,
        auth: AuthHook,
        *,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = MAX_ATTEMPTS,
        timeout_s: float = 15.0,
    ) -> None:
        self.vendor = vendor
        self.base_url = base_url.rstrip("/")
        self._auth = auth
        self._client = client if client is not None else httpx.Client(timeout=timeout_s)
        self._sleep = sleep
        self._max_attempts = max_attempts
        self.requests: list[str] = []

    def close(self) -> None:
        self._client.close()

    def take_requests(self) -> tuple[str, ...]:
        made, self.requests = tuple(self.requests), []
        return made

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: bytes = b"",
        content_type: str | None = None,
        ok: frozenset[int] = frozenset({200, 201, 202, 204}),
    ) -> httpx.Response:
        params = dict(params or {})
        label = f"{method} {path}" + ("?" + str(httpx.QueryParams(params)) if params else "")
        for attempt in range(1, self._max_attempts + 1):
            headers = {"Accept": "application/json", **self._auth(method, path, params, body)}
            if content_type:
                headers["Content-Type"] = content_type
            self.requests.append(label)
            try:
                response = self._client.request(
                    method, self.base_url + path, params=params or None, content=body or None, headers=headers
                )
            except httpx.TransportError as exc:
                if attempt == self._max_attempts:
                    raise ActionFailedError(
                        f"{self.vendor}: {label}: no answer after {attempt} attempts ({type(exc).__name__})",
                        requests=tuple(self.requests),
                    ) from None
                self._sleep(_retry_wait(None, attempt, time.time()))
                continue
            if response.status_code in ok:
                return response
            if response.status_code in RETRY_STATUSES and attempt < self._max_attempts:
                self._sleep(_retry_wait(response, attempt, time.time()))
                continue
            raise ActionFailedError(
                self._explain(label, response, attempt), response.status_code, tuple(self.requests)
            )
        raise AssertionError("unreachable: the loop returns or raises")

    def _explain(self, label: str, response: httpx.Response, attempts: int) -> str:
        status = response.status_code
        why = vendor_message(response)
        if status in (401, 403):
            hint = "credentials rejected" if status == 401 else "the credentials lack a permission"
            return f"{self.vendor}: {label}: HTTP {status} ({hint}): {why}"
        tries = f" after {attempts} attempts" if status in RETRY_STATUSES else ""
        return f"{self.vendor}: {label}: HTTP {status}{tries}: {why}"
