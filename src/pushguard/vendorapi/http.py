"""One vendor HTTP API: retries where retrying helps, vendor error text where it does not.

429 and 5xx (and dropped connections) are retried with backoff, honouring ``Retry-After`` and Okta's
``X-Rate-Limit-Reset``; 401/403 mean the credentials are wrong or lack a permission and are never
retried; any failure raises ``VendorApiError`` with the status and the vendor's own message, so nothing
is swallowed. Credentials live in the auth hook and never appear in messages or the request log."""

from __future__ import annotations

import email.utils
import ipaddress
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from pushguard.model import ConfigError

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_ATTEMPTS = 4
MAX_WAIT_S = 30.0  # never sleep longer than this for one retry, whatever the vendor asks

# (method, path, query params, body bytes) -> headers to add (authorization, date...)
AuthHook = Callable[[str, str, Mapping[str, str], bytes], dict[str, str]]


class VendorApiError(Exception):
    """A vendor call failed for good (after retries where retrying makes sense)."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        requests: tuple[str, ...] = (),
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.requests = requests
        self.retry_after = retry_after  # seconds the vendor asked to wait (Retry-After), when it did

    @property
    def retryable(self) -> bool:
        """429, 5xx or no answer: the same request may succeed later."""
        return self.status is None or self.status in RETRY_STATUSES

    @property
    def credentials_rejected(self) -> bool:
        """401/403: waiting and asking again will not help."""
        return self.status in (401, 403)


def retry_wait(response: httpx.Response | None, attempt: int, now: float, cap: float = MAX_WAIT_S) -> float:
    """Seconds to wait before attempt ``attempt + 1``: what the vendor asks, else exponential backoff."""
    backoff = float(2 ** (attempt - 1))
    if response is None:
        return min(backoff, cap)
    retry_after = response.headers.get("retry-after")
    if retry_after:
        try:
            return min(max(float(retry_after), 0.0), cap)
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(retry_after)
            return min(max(parsed.timestamp() - now, 0.0), cap)
    reset = okta_reset_wait(response, now, cap)
    if response.status_code == 429 and reset is not None:
        return reset
    return min(backoff, cap)


def okta_reset_wait(response: httpx.Response, now: float, cap: float) -> float | None:
    """Seconds until Okta's rate-limit window resets (``X-Rate-Limit-Reset``, epoch seconds), plus one
    for clock skew, at most ``cap``; None without the header."""
    reset = response.headers.get("x-rate-limit-reset", "")
    if not reset.isdigit():
        return None
    return min(max(int(reset) - now, 0.0) + 1.0, cap)


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


def check_transport(vendor: str, base_url: str) -> None:
    """Credentials go over TLS: an ``https://`` base URL, or plain ``http://`` to a loopback address only
    (a local proxy or test double: nothing leaves the machine). A ConfigError otherwise."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return
    if parts.scheme == "http" and _loopback(host):
        return
    shown = f"{parts.scheme}://{host}" if parts.scheme else repr(base_url.split("?")[0][:80])
    raise ConfigError(
        f"{vendor}: the base URL {shown} is not https: the credentials would travel in clear "
        "(plain http is accepted to a loopback address only)"
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
        max_wait_s: float = MAX_WAIT_S,
        timeout_s: float = 15.0,
        record_requests: bool = True,
    ) -> None:
        check_transport(vendor, base_url)
        self.vendor = vendor
        self.base_url = base_url.rstrip("/")
        self._auth = auth
        self._client = client if client is not None else httpx.Client(timeout=timeout_s)
        self._sleep = sleep
        self._max_attempts = max_attempts
        self._max_wait_s = max_wait_s
        self._record = record_requests  # a long-running collector keeps no request history
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
        return self._send(method, self.base_url + path, path, params, body, content_type, ok, label)

    def follow(self, url: str, *, ok: frozenset[int] = frozenset({200})) -> httpx.Response:
        """GET a paging link the vendor returned (Okta ``Link: rel="next"``, Graph ``@odata.nextLink``),
        sent as given. It must lie under the base URL: the credentials never go to another host."""
        if not url.startswith(self.base_url + "/"):
            raise VendorApiError(
                f"{self.vendor}: the paging link {url.split('?')[0]!r} is not under {self.base_url}: "
                "refusing to send the credentials there"
            )
        parts = urlsplit(url)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        label = f"GET {url[len(self.base_url) :]}"
        return self._send("GET", url, parts.path, params, b"", None, ok, label, send_params=False)

    def _send(
        self,
        method: str,
        url: str,
        path: str,
        params: dict[str, str],
        body: bytes,
        content_type: str | None,
        ok: frozenset[int],
        label: str,
        *,
        send_params: bool = True,
    ) -> httpx.Response:
        for attempt in range(1, self._max_attempts + 1):
            headers = {"Accept": "application/json", **self._auth(method, path, params, body)}
            if content_type:
                headers["Content-Type"] = content_type
            if self._record:
                self.requests.append(label)
            try:
                response = self._client.request(
                    method,
                    url,
                    params=(params or None) if send_params else None,
                    content=body or None,
                    headers=headers,
                )
            except httpx.TransportError as exc:
                if attempt == self._max_attempts:
                    raise VendorApiError(
                        f"{self.vendor}: {label}: no answer after {attempt} attempts ({type(exc).__name__})",
                        requests=tuple(self.requests),
                    ) from None
                self._sleep(retry_wait(None, attempt, time.time(), self._max_wait_s))
                continue
            if response.status_code in ok:
                return response
            if response.status_code in RETRY_STATUSES and attempt < self._max_attempts:
                self._sleep(retry_wait(response, attempt, time.time(), self._max_wait_s))
                continue
            asked = (
                retry_wait(response, 1, time.time(), cap=3600.0)
                if "retry-after" in response.headers
                else None
            )
            raise VendorApiError(
                self._explain(label, response, attempt), response.status_code, tuple(self.requests), asked
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
