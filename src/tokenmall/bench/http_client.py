"""A lean HTTP/1.1 load client for ``tokenmall bench api``: raw ``asyncio`` streams, stdlib only.

``httpx`` clients in threads cost 1-2 ms of CPU per request, a large share of the two cores the
server under test runs on. Here one thread runs one event loop with C keep-alive connections to
the server; each request is one ``bytes`` write (request line, headers, body with its
``Content-Length``) and the answer is read as status line, headers and a body framed by
``Content-Length``, ``Transfer-Encoding: chunked`` or the connection's end.

A unit of work is a *flow*: ``async def flow(conn, n) -> status`` makes one or more requests
on its connection (``await conn.request("POST", path, headers=..., json=...)`` answers a
:class:`Response`) and returns the status that decides whether the unit counts as ok.
:func:`run_load` runs C flows at a time until a shared counter reaches ``requests`` or the
deadline passes (a flow in flight then finishes), in its own thread with its own loop
(``asyncio.run``), so callers stay synchronous. It measures each unit's latency
(``time.perf_counter``) and the client thread's CPU (``time.thread_time``).

A connection is reopened after ``Connection: close``, after any error (its state is then
unknown), and once, transparently, when a reused connection turns out to have been closed by
the server before any byte of the answer (an idle keep-alive timed out); the bench's requests
carry Idempotency-Keys, so that one resend is safe.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import urlencode, urlsplit

_LIMIT = 1 << 20  # the longest head (status line and headers) we read
_NO_BODY = frozenset((204, 304))


class ProtocolError(Exception):
    """The server's answer is not HTTP/1.x as this client reads it."""


class Response(NamedTuple):
    status: int
    headers: dict[str, str]  # names in lower case; repeated headers joined with ", "
    body: bytes

    def json(self) -> Any:
        return jsonlib.loads(self.body)


class _Stale(Exception):
    """A reused connection was closed by the server before any byte of the answer."""


class Connection:
    """One keep-alive HTTP/1.1 connection to ``host:port``, (re)opened when needed.

    Not shared between tasks: one request at a time."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        fixed = {"Host": f"{host}:{port}", "User-Agent": "tokenmall-bench", **(headers or {})}
        self._fixed = "".join(f"{name}: {value}\r\n" for name, value in fixed.items())
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self.connects = 0  # connections opened (keep-alive reuse: few per many requests)
        self.requests = 0  # answers read, on every connection
        self.resent = 0  # requests sent again after a stale keep-alive connection

    @property
    def is_open(self) -> bool:
        return self._writer is not None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(self.host, self.port, limit=_LIMIT)
        self._reader, self._writer = reader, writer
        self.connects += 1
        return reader, writer

    def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()

    async def request(
        self,
        method: str,
        target: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        form: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        body: bytes | None = None,
    ) -> Response:
        """Send one request and read its whole answer. ``target`` is a path (with its query)
        or an absolute URL, whose path is then asked of this connection's server."""
        if target.startswith(("http://", "https://")):
            parts = urlsplit(target)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        extra = ""
        if json is not None:
            body = jsonlib.dumps(json, separators=(",", ":")).encode()
            extra = "Content-Type: application/json\r\n"
        elif form is not None:
            body = urlencode(form).encode()
            extra = "Content-Type: application/x-www-form-urlencoded\r\n"
        if body is not None or method in ("POST", "PUT", "PATCH"):
            body = body or b""
            extra += f"Content-Length: {len(body)}\r\n"
        if headers:
            extra += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        data = f"{method} {target} HTTP/1.1\r\n{self._fixed}{extra}\r\n".encode() + (body or b"")
        try:
            try:
                answer = await self._exchange(method, data)
            except _Stale:
                self.close()
                self.resent += 1
                answer = await self._exchange(method, data)
        except BaseException:
            self.close()  # its state is unknown (cancelled by a timeout too): a new one next
            raise
        self.requests += 1
        return answer

    async def _exchange(self, method: str, data: bytes) -> Response:
        if self._reader is not None and self._reader.at_eof():  # closed by the server, idle
            self.close()
        reused = self._writer is not None
        if self._reader is None or self._writer is None:
            reader, writer = await self._open()
        else:
            reader, writer = self._reader, self._writer
        try:
            writer.write(data)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if reused and not exc.partial:
                raise _Stale from exc
            raise
        except (ConnectionResetError, BrokenPipeError) as exc:
            if reused:
                raise _Stale from exc
            raise
        except asyncio.LimitOverrunError as exc:
            raise ProtocolError("the answer's head is too long") from exc
        version, status, headers = _parse_head(head)
        while 100 <= status < 200 and status != 101:  # an interim answer: the real one follows
            version, status, headers = _parse_head(await reader.readuntil(b"\r\n\r\n"))
        close = _closes(version, headers)
        if method == "HEAD" or status in _NO_BODY or status < 200:
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = await _read_chunked(reader)
        elif "content-length" in headers:
            try:
                length = int(headers["content-length"])
            except ValueError:
                raise ProtocolError(f"bad Content-Length {headers['content-length']!r}") from None
            body = await reader.readexactly(length)
        else:  # framed by the connection's end
            body = await reader.read()
            close = True
        if close:
            self.close()
        return Response(status, headers, body)


def _parse_head(head: bytes) -> tuple[str, int, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or not code.isdigit():
        raise ProtocolError(f"bad status line {lines[0][:100]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise ProtocolError(f"bad header line {line[:100]!r}")
        name = name.strip().lower()
        value = value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return version, int(code), headers


def _closes(version: str, headers: Mapping[str, str]) -> bool:
    tokens = {token.strip() for token in headers.get("connection", "").lower().split(",")}
    if "close" in tokens:
        return True
    return version == "HTTP/1.0" and "keep-alive" not in tokens


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        line = await reader.readuntil(b"\r\n")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)  # a chunk may carry extensions
        except ValueError:
            raise ProtocolError(f"bad chunk size line {line[:100]!r}") from None
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, up to the empty line
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise ProtocolError("a chunk does not end with CRLF")


Flow = Callable[[Connection, int], Awaitable[int]]


async def _spread(conns: list[Connection], path: str, header: str, workers: int) -> dict[str, int]:
    """Open ``conns`` so that ``workers`` processes hold as even a share of them as they can
    (within a bounded number of reopenings); the connections each process holds."""
    held: dict[str, list[Connection]] = {}
    for conn in conns:
        held.setdefault((await conn.request("GET", path)).headers.get(header, "?"), []).append(conn)
    most = -(-len(conns) // workers)  # the most an even spread gives one process
    for _ in range(20 * len(conns)):
        crowded = max(held.values(), key=len)
        if len(crowded) <= most:
            break
        conn = crowded.pop()
        conn.close()
        await asyncio.sleep(0.005)  # float-ok: time (let another process take the next one)
        held.setdefault((await conn.request("GET", path)).headers.get(header, "?"), []).append(conn)
    return {worker: len(found) for worker, found in sorted(held.items()) if found}


@dataclass
class LoadResult:
    """What one :func:`run_load` did; a unit of work is one flow (one or more requests)."""

    clients: int
    sent: int = 0  # units done (ok or not)
    ok: int = 0  # units whose status was the one expected
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)  # status, or the exception's name
    latencies: list[float] = field(default_factory=list)  # float-ok: time (ok units, seconds)
    seconds: float = 0.0  # float-ok: time (wall time of the run)
    cpu_seconds: float = 0.0  # float-ok: time (the client thread's CPU, time.thread_time)
    http_requests: int = 0  # answers read, every request of every flow
    connections: int = 0  # connections opened
    resent: int = 0  # requests sent again on a new connection after a stale one
    # Connections each server process held when the run started (``spread``), by process.
    per_worker: dict[str, int] = field(default_factory=dict)

    def cpu_ms_per_request(self) -> float | None:  # float-ok: time
        if not self.http_requests:
            return None
        return round(self.cpu_seconds * 1000 / self.http_requests, 4)  # float-ok: time


def run_load(
    host: str,
    port: int,
    flow: Flow,
    *,
    clients: int,
    requests: int,
    duration: float,  # float-ok: time
    expect: int | Iterable[int] = 200,
    timeout: float = 30.0,  # float-ok: time (per unit of work)
    headers: Mapping[str, str] | None = None,
    clock: Callable[[], float] = time.monotonic,  # float-ok: time (the deadline's clock)
    spread: tuple[str, str, int] | None = None,
) -> LoadResult:
    """Run ``flow(conn, n)`` for n = 0, 1, … from ``clients`` concurrent connections until
    ``requests`` units are taken or ``duration`` seconds pass, in a thread of its own with its
    own event loop. A unit is ok when its status is ``expect`` (or one of them); an exception
    (connection refused or reset, a timeout, a bad answer, an error in the flow) counts as an
    error under its type's name and the connection is reopened for the next unit. ``clock``
    reads the seconds the deadline and ``seconds`` are counted in.

    ``spread`` (a path, a response header naming the server process that answered, the
    number of processes): before the clock starts, every connection is opened and asks the
    path, and connections are opened again until the processes hold as many each as they
    can (as a load balancer in front of them would spread them). The kernel gives a new
    connection to whichever process accepts first, so without it a run may put most of its
    connections on one process and measure that instead of the server."""
    expected = frozenset((expect,) if isinstance(expect, int) else expect)
    result = LoadResult(clients)
    failure: list[BaseException] = []

    async def main() -> None:
        conns = [Connection(host, port, headers=headers) for _ in range(clients)]
        if spread is not None:
            result.per_worker = await _spread(conns, *spread)
            for conn in conns:
                conn.requests = 0  # the spreading's requests are not the load's
        counter = iter(range(requests))
        start = clock()  # float-ok: time
        deadline = start + duration  # float-ok: time
        statuses = result.statuses
        latencies = result.latencies

        async def client(conn: Connection) -> None:
            while clock() < deadline:  # float-ok: time
                n = next(counter, None)
                if n is None:
                    return
                began = time.perf_counter()  # float-ok: time
                try:
                    async with asyncio.timeout(timeout):  # float-ok: time
                        status = await flow(conn, n)
                    code = str(status)
                    good = status in expected
                except Exception as exc:  # counted, never fatal to the run
                    conn.close()
                    code = type(exc).__name__
                    good = False
                took = time.perf_counter() - began  # float-ok: time
                result.sent += 1
                statuses[code] = statuses.get(code, 0) + 1
                if good:
                    result.ok += 1
                    latencies.append(took)
                else:
                    result.errors += 1

        try:
            await asyncio.gather(*(client(conn) for conn in conns))
        finally:
            result.seconds = clock() - start  # float-ok: time
            for conn in conns:
                conn.close()
                result.http_requests += conn.requests
                result.connections += conn.connects
                result.resent += conn.resent
            await asyncio.sleep(0)  # let the transports finish closing

    def thread() -> None:
        began = time.thread_time()  # float-ok: time
        try:
            asyncio.run(main())
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)
        result.cpu_seconds = time.thread_time() - began  # float-ok: time

    worker = threading.Thread(target=thread, name="bench-http", daemon=True)
    worker.start()
    worker.join()
    if failure:
        raise failure[0]
    return result
