"""HTTP GET for feeds and article pages, with the limits a service reading strangers' servers needs.

Connect and read timeouts, a deadline for the whole response (a server dripping one byte at a time never ends it),
a cap on the decoded size (a gzip bomb is stopped while it inflates, not after), a redirect cap, conditional GET
(ETag / Last-Modified), a clear User-Agent, and typed failures that say whether to retry and when.
"""

from __future__ import annotations

import email.utils
import importlib.metadata
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

try:
    _VERSION = importlib.metadata.version("briefbot")
except importlib.metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    _VERSION = "dev"
USER_AGENT = f"briefbot/{_VERSION} (feed reader; +https://github.com/briefbot/briefbot)"
ROBOTS_AGENT = "briefbot"  # the product token robots.txt rules name


@dataclass(frozen=True)
class FetchLimits:
    connect_timeout: float = 10.0
    read_timeout: float = 20.0  # between two reads
    deadline: float = 60.0  # for the whole response
    max_bytes: int = 5 * 1024 * 1024  # decoded body
    max_redirects: int = 5


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    status: int
    body: bytes
    content_type: str
    etag: str | None
    last_modified: str | None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class FetchError(Exception):
    """A fetch that did not give a usable body. `permanent`: retrying will not help (404, 410, not HTTP);
    `retry_after`: seconds the server asked us to wait (429/503 Retry-After)."""

    def __init__(
        self, reason: str, *, status: int | None = None, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.permanent = permanent
        self.retry_after = retry_after


_PERMANENT = {404: "not found (404)", 410: "gone (410)"}
_REFUSED = {401: "needs a login (401)", 403: "refused access (403)"}


class Fetcher:
    """One HTTP client for every fetch of a poll. `clock` is time.monotonic unless a test controls it."""

    def __init__(
        self,
        limits: FetchLimits | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.limits = limits or FetchLimits()
        self._clock = clock
        self._client = httpx.Client(
            follow_redirects=True,
            max_redirects=self.limits.max_redirects,
            timeout=httpx.Timeout(self.limits.read_timeout, connect=self.limits.connect_timeout),
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"},
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def get(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None, accept: str | None = None
    ) -> Fetched:
        """GET `url`; raises FetchError for anything but a usable 200 or a 304."""
        if not url.lower().startswith(("http://", "https://")):
            raise FetchError("is not an http(s) URL", permanent=True)
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if accept:
            headers["Accept"] = accept
        started = self._clock()
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                return self._read(response, started)
        except httpx.TooManyRedirects:
            raise FetchError(f"redirects more than {self.limits.max_redirects} times (a loop?)") from None
        except httpx.TimeoutException as exc:
            raise FetchError(f"timed out ({type(exc).__name__})") from None
        except httpx.InvalidURL as exc:
            raise FetchError(f"is not a valid URL ({exc})", permanent=True) from None
        except httpx.HTTPError as exc:
            raise FetchError(f"could not be reached ({type(exc).__name__}: {exc})") from None

    def _read(self, response: httpx.Response, started: float) -> Fetched:
        status = response.status_code
        final = str(response.url)
        if status == 304:
            return Fetched(final, 304, b"", "", response.headers.get("etag"), response.headers.get("last-modified"))
        if status != 200:
            raise _status_error(response)
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.limits.max_bytes:
            raise FetchError(f"is {_size(int(declared))}, over the {_size(self.limits.max_bytes)} limit")
        decoder = _decoder(response.headers.get("content-encoding", ""))
        body = bytearray()
        for chunk in response.iter_raw():
            if self._clock() - started > self.limits.deadline:
                raise FetchError(f"took longer than {self.limits.deadline:.0f} s to send")
            room = self.limits.max_bytes - len(body) + 1
            body += decoder(chunk, room) if decoder else chunk
            if len(body) > self.limits.max_bytes:
                raise FetchError(f"is over the {_size(self.limits.max_bytes)} limit")
        return Fetched(
            final,
            200,
            bytes(body),
            response.headers.get("content-type", ""),
            response.headers.get("etag"),
            response.headers.get("last-modified"),
        )


def _size(count: int) -> str:
    return f"{count / 1e6:.1f} MB" if count >= 1_000_000 else f"{count // 1000} kB"


def _decoder(encoding: str) -> Callable[[bytes, int], bytes] | None:
    """Inflate gzip/deflate no further than the room left, so a bomb costs at most the size limit."""
    encoding = encoding.strip().lower()
    if encoding in {"", "identity"}:
        return None
    if encoding not in {"gzip", "x-gzip", "deflate"}:
        raise FetchError(f"uses a content encoding we did not ask for ({encoding})")
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header, detected

    def inflate(data: bytes, room: int) -> bytes:
        try:
            return inflater.decompress(data, max(room, 1))
        except zlib.error as exc:
            raise FetchError(f"sent a broken {encoding} body ({exc})") from None

    return inflate


def _status_error(response: httpx.Response) -> FetchError:
    status = response.status_code
    if status in _PERMANENT:
        return FetchError(_PERMANENT[status], status=status, permanent=True)
    if status in _REFUSED:
        return FetchError(_REFUSED[status], status=status)
    if status == 429 or status >= 500:
        what = "is rate limiting us (429)" if status == 429 else f"had a server error ({status})"
        return FetchError(what, status=status, retry_after=retry_after(response.headers.get("retry-after")))
    return FetchError(f"answered HTTP {status}", status=status)


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())
