"""``bench/http_client``: the bench's asyncio HTTP/1.1 client against real servers on
127.0.0.1 — a small stdlib asyncio server whose routes misbehave on purpose, and uvicorn with a
minimal ASGI app. Counts, keep-alive reuse, chunked bodies, reconnection after
``Connection: close`` and errors, non-2xx statuses counted as errors, the deadline."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tokenmall.bench.http_client import Connection, Response, run_load

CHUNKS = [b'{"parts": [', b'"a", "b",', b' "c"]}']


class TinyServer:
    """HTTP/1.1 on 127.0.0.1 in a thread with its own event loop; counts connections."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests = 0
        self.handlers: set[asyncio.Task[None]] = set()
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        assert ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0)
        )
        self.port = self.server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()
        self.loop.close()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    async def _shutdown(self) -> None:
        self.server.close()
        for task in self.handlers:
            task.cancel()
        await asyncio.gather(*self.handlers, return_exceptions=True)
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        # The "process" that took the connection, for ``/worker``: the first twelve land on
        # "a" (as a kernel may give a burst of connections to one process), then by turns.
        worker = "a" if self.connections <= 12 else "ab"[self.connections % 2]
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ")
                headers = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests += 1
                if target == "/worker":
                    writer.write(self._plain(200, b"{}", f"X-Worker: {worker}\r\n"))
                    await writer.drain()
                    continue
                if not await self._answer(writer, method, target, headers, body):
                    return
        finally:
            writer.close()
            self.handlers.discard(task)

    @staticmethod
    def _plain(status: int, body: bytes, extra: str = "") -> bytes:
        return (
            f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n"
        ).encode() + body

    async def _answer(
        self,
        writer: asyncio.StreamWriter,
        method: str,
        target: str,
        headers: dict[str, str],
        body: bytes,
    ) -> bool:
        """Write the answer; False closes the connection."""
        if target == "/ok":
            writer.write(self._plain(200, b'{"ok": true}'))
        elif target.startswith("/status/"):
            writer.write(self._plain(int(target.rsplit("/", 1)[1]), b"{}"))
        elif target == "/echo" or target.startswith("/echo?"):
            seen = {"method": method, "target": target, "headers": headers, "body": body.decode()}
            writer.write(self._plain(201, json.dumps(seen).encode()))
        elif target == "/chunked":
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for n, chunk in enumerate(CHUNKS):  # written apart: the client reads in pieces
                extension = ";name=value" if n == 1 else ""
                writer.write(f"{len(chunk):x}{extension}\r\n".encode() + chunk + b"\r\n")
                await writer.drain()
                await asyncio.sleep(0.001)
            writer.write(b"0\r\nX-Trailer: yes\r\n\r\n")
        elif target == "/close":
            writer.write(self._plain(200, b"{}", "Connection: close\r\n"))
            await writer.drain()
            return False
        elif target == "/until-eof":
            writer.write(b"HTTP/1.1 200 OK\r\n\r\nthe body ends with the connection")
            await writer.drain()
            return False
        elif target == "/interim":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n" + self._plain(200, b"{}"))
        elif target == "/no-content":
            writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        elif target == "/silent-close":  # answered, then closed without saying so
            writer.write(self._plain(200, b"{}"))
            await writer.drain()
            return False
        elif target == "/drop":  # closed without an answer
            return False
        elif target == "/garbage":
            writer.write(b"NOT HTTP\r\n\r\n")
        elif target == "/slow":
            await asyncio.sleep(0.2)
            writer.write(self._plain(200, b"{}"))
        else:
            writer.write(self._plain(404, b"{}"))
        await writer.drain()
        return True


@pytest.fixture
def server() -> Iterator[TinyServer]:
    s = TinyServer()
    yield s
    s.stop()


def _run(go: Any) -> Any:
    """``asyncio.run(go())`` in a thread of its own: in the whole suite an earlier test may
    leave an event loop running in this thread (Playwright's sync API does)."""
    result: list[Any] = []
    failure: list[BaseException] = []

    def main() -> None:
        try:
            result.append(asyncio.run(go()))
        except BaseException as error:
            failure.append(error)

    thread = threading.Thread(target=main)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]


def _on(port: int, *calls: tuple[str, str, dict[str, Any]]) -> tuple[list[Response], int]:
    """The answers to ``calls`` made one after another on ONE connection; its connects."""

    async def go() -> tuple[list[Response], int]:
        conn = Connection("127.0.0.1", port)
        answers = [await conn.request(method, path, **kw) for method, path, kw in calls]
        conn.close()
        return answers, conn.connects

    return _run(go)


def test_counts_and_keep_alive_reuse(server: TinyServer) -> None:
    async def flow(conn: Connection, n: int) -> int:
        return (await conn.request("GET", "/ok")).status

    result = run_load("127.0.0.1", server.port, flow, clients=4, requests=200, duration=60)
    assert (result.sent, result.ok, result.errors) == (200, 200, 0)
    assert result.statuses == {"200": 200}
    assert len(result.latencies) == 200
    assert all(t > 0 for t in result.latencies)
    assert result.http_requests == 200
    # Four connections for 200 requests, on both sides.
    assert result.connections == 4
    assert server.connections == 4
    assert server.requests == 200
    assert result.cpu_seconds > 0
    assert result.cpu_ms_per_request() is not None
    assert result.seconds > 0


def test_connections_are_spread_over_the_processes_before_the_clock(server: TinyServer) -> None:
    """``spread``: 12 of 16 connections land on one "process"; the client reopens them until
    each holds 8, before any flow runs, and reports the spread."""
    seen: list[int] = []

    async def flow(conn: Connection, n: int) -> int:
        seen.append(server.connections)
        return (await conn.request("GET", "/ok")).status

    result = run_load(
        "127.0.0.1",
        server.port,
        flow,
        clients=16,
        requests=32,
        duration=60,
        spread=("/worker", "x-worker", 2),
    )
    assert result.per_worker == {"a": 8, "b": 8}
    assert (result.sent, result.ok) == (32, 32)
    # 14 then landed on "a" and 2 on "b"; a reopened one lands on each by turns: 11 more
    # connections give "b" its 6, all of it before the first flow.
    assert server.connections == 27
    assert set(seen) == {27}
    # Without it, the connections stay where the server put them.
    plain = run_load("127.0.0.1", server.port, flow, clients=16, requests=16, duration=60)
    assert plain.per_worker == {}


def test_every_number_is_taken_once(server: TinyServer) -> None:
    seen: list[int] = []

    async def flow(conn: Connection, n: int) -> int:
        seen.append(n)
        return (await conn.request("GET", "/ok")).status

    result = run_load("127.0.0.1", server.port, flow, clients=8, requests=50, duration=60)
    assert result.ok == 50
    assert sorted(seen) == list(range(50))


def test_request_bytes_json_form_and_absolute_url(server: TinyServer) -> None:
    (as_json, as_form, empty), connects = _on(
        server.port,
        ("POST", "/echo", {"json": {"amount": "100.00", "名": 1}, "headers": {"X-A": "b"}}),
        ("POST", f"http://127.0.0.1:{server.port}/echo?x=1", {"form": {"outcome": "approve"}}),
        ("POST", "/echo", {}),
    )
    assert connects == 1
    seen = as_json.json()
    assert as_json.status == 201
    assert seen["method"] == "POST"
    assert json.loads(seen["body"]) == {"amount": "100.00", "名": 1}
    assert seen["headers"]["content-type"] == "application/json"
    assert int(seen["headers"]["content-length"]) == len(seen["body"].encode())
    assert seen["headers"]["x-a"] == "b"
    assert seen["headers"]["host"] == f"127.0.0.1:{server.port}"
    seen = as_form.json()
    assert seen["target"] == "/echo?x=1"
    assert seen["body"] == "outcome=approve"
    assert seen["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert empty.json()["headers"]["content-length"] == "0"
    assert as_json.headers["content-type"] == "application/json"


def test_chunked_bodies_and_the_connection_stays_usable(server: TinyServer) -> None:
    (first, after, second), connects = _on(
        server.port, ("GET", "/chunked", {}), ("GET", "/ok", {}), ("GET", "/chunked", {})
    )
    assert first.status == 200
    assert first.body == b"".join(CHUNKS)
    assert first.json() == {"parts": ["a", "b", "c"]}
    assert after.json() == {"ok": True}  # the framing ended exactly at the last chunk
    assert second.body == first.body
    assert connects == 1


def test_other_framings_interim_no_content_and_until_eof(server: TinyServer) -> None:
    (interim, none, eof, ok), connects = _on(
        server.port,
        ("GET", "/interim", {}),
        ("GET", "/no-content", {}),
        ("GET", "/until-eof", {}),
        ("GET", "/ok", {}),
    )
    assert (interim.status, interim.body) == (200, b"{}")
    assert (none.status, none.body) == (204, b"")
    assert eof.body == b"the body ends with the connection"
    assert ok.status == 200
    assert connects == 2  # the body read to the end of the connection: a new one after


def test_connection_close_reconnects(server: TinyServer) -> None:
    async def flow(conn: Connection, n: int) -> int:
        return (await conn.request("GET", "/close" if n % 2 else "/ok")).status

    result = run_load("127.0.0.1", server.port, flow, clients=2, requests=40, duration=60)
    assert (result.ok, result.errors) == (40, 0)
    assert result.resent == 0  # closed as the server said, never found stale
    # 20 answers said close: each made a new connection for the next request of its client.
    assert 20 <= result.connections <= 22
    assert server.connections == result.connections


def test_a_keep_alive_connection_closed_by_the_server_is_replaced(server: TinyServer) -> None:
    async def go() -> tuple[int, int, int, int]:
        conn = Connection("127.0.0.1", server.port)
        first = await conn.request("GET", "/silent-close")
        await asyncio.sleep(0.05)  # the server has closed it by now; we were not told
        second = await conn.request("GET", "/ok")
        conn.close()
        return first.status, second.status, conn.resent, conn.connects

    # Its end was read while idle: a new connection, nothing sent on the old one.
    assert _run(go) == (200, 200, 0, 2)


def test_no_answer_on_a_reused_connection_is_sent_once_more(server: TinyServer) -> None:
    async def go() -> tuple[int, int, str, int, int]:
        conn = Connection("127.0.0.1", server.port)
        first = await conn.request("GET", "/ok")
        try:
            await conn.request("GET", "/drop")
            second = "answered"
        except asyncio.IncompleteReadError:
            second = "IncompleteReadError"
        third = await conn.request("GET", "/ok")
        conn.close()
        return first.status, third.status, second, conn.resent, conn.connects

    # /drop on the kept-alive connection looks stale: sent again on a new one (dropped again,
    # then raised); the next request opens a third.
    assert _run(go) == (200, 200, "IncompleteReadError", 1, 3)
    assert server.requests == 4


def test_non_2xx_statuses_are_errors(server: TinyServer) -> None:
    async def flow(conn: Connection, n: int) -> int:
        return (await conn.request("GET", "/status/503" if n % 4 == 0 else "/ok")).status

    result = run_load("127.0.0.1", server.port, flow, clients=3, requests=40, duration=60)
    assert result.statuses == {"200": 30, "503": 10}
    assert (result.sent, result.ok, result.errors) == (40, 30, 10)
    assert len(result.latencies) == 30  # latency of ok units only
    assert result.connections == 3  # an HTTP error keeps the connection


def test_expect_another_status(server: TinyServer) -> None:
    async def flow(conn: Connection, n: int) -> int:
        return (await conn.request("POST", "/echo", json={"n": n})).status

    assert run_load("127.0.0.1", server.port, flow, clients=2, requests=10, duration=60).ok == 0
    result = run_load(
        "127.0.0.1", server.port, flow, clients=2, requests=10, duration=60, expect=201
    )
    assert (result.ok, result.errors) == (10, 0)


def test_dropped_and_garbled_answers_are_errors_and_the_connection_is_reopened(
    server: TinyServer,
) -> None:
    async def flow(conn: Connection, n: int) -> int:
        path = ("/drop", "/garbage", "/ok")[n % 3]
        return (await conn.request("GET", path)).status

    result = run_load("127.0.0.1", server.port, flow, clients=1, requests=30, duration=60)
    assert result.statuses == {"IncompleteReadError": 10, "ProtocolError": 10, "200": 10}
    assert (result.ok, result.errors) == (10, 20)
    # Reopened after each error; a drop on a reused connection looks like an idle keep-alive
    # closed by the server, so it is sent once more on a new connection before it counts.
    assert result.resent == 9
    assert result.connections == 30


def test_a_flow_of_several_requests_reading_json(server: TinyServer) -> None:
    async def flow(conn: Connection, n: int) -> int:
        first = await conn.request("POST", "/echo", json={"next": f"/status/{200 + n % 2}"})
        target = json.loads(first.json()["body"])["next"]
        return (await conn.request("POST", target, form={"outcome": "approve"})).status

    result = run_load("127.0.0.1", server.port, flow, clients=2, requests=20, duration=60)
    assert result.statuses == {"200": 10, "201": 10}
    assert result.http_requests == 40
    assert result.connections == 2


def test_an_exception_in_the_flow_is_counted_not_fatal(server: TinyServer) -> None:
    async def flow(conn: Connection, n: int) -> int:
        answer = await conn.request("GET", "/ok")
        if n % 2:
            raise KeyError("payments")
        return answer.status

    result = run_load("127.0.0.1", server.port, flow, clients=2, requests=10, duration=60)
    assert result.statuses == {"200": 5, "KeyError": 5}


def test_no_unit_starts_at_or_after_the_deadline(server: TinyServer) -> None:
    # The deadline is read on a clock the test owns, which moves 2 seconds whenever a unit
    # starts: the run's shape follows from the rule alone, whatever the machine's speed.
    now = [0]
    starts: list[int] = []

    async def flow(conn: Connection, n: int) -> int:
        starts.append(now[0])
        now[0] += 2
        return (await conn.request("GET", "/ok")).status

    result = run_load(
        "127.0.0.1", server.port, flow, clients=3, requests=10**9, duration=5,
        clock=lambda: now[0],
    )  # fmt: skip
    # Each client reads the clock before its unit: 0, 2 and 4 are before the deadline (5),
    # so three units start; every later reading is 6, so none other does, and the three in
    # flight finish and are counted.
    assert starts == [0, 2, 4]
    assert (result.sent, result.ok, result.errors) == (3, 3, 0)
    assert result.statuses == {"200": 3}
    assert result.seconds == 6
    assert len(result.latencies) == 3


def test_a_unit_over_its_timeout_is_an_error(server: TinyServer) -> None:
    async def flow(conn: Connection, n: int) -> int:
        return (await conn.request("GET", "/slow")).status

    result = run_load(
        "127.0.0.1", server.port, flow, clients=2, requests=4, duration=60, timeout=0.05
    )
    assert result.statuses == {"TimeoutError": 4}
    assert result.connections == 4  # a unit cut mid-answer leaves its connection unusable


def test_refused_connections_are_errors() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused

        async def flow(conn: Connection, n: int) -> int:
            return (await conn.request("GET", "/ok")).status

        result = run_load("127.0.0.1", port, flow, clients=2, requests=6, duration=60)
    assert result.statuses == {"ConnectionRefusedError": 6}
    assert result.http_requests == 0
    assert result.cpu_ms_per_request() is None


# uvicorn (h11), as ``tokenmall bench api`` drives it: JSON with Content-Length, a streamed
# body that uvicorn sends chunked, and Connection: close asked by the app.


async def _asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    path = scope["path"]
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for chunk in CHUNKS:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    headers = [(b"content-type", b"application/json")]
    if path == "/close":
        headers.append((b"connection", b"close"))
    answer = json.dumps({"path": path, "length": len(body)}).encode()
    headers.append((b"content-length", str(len(answer)).encode()))
    status = 201 if scope["method"] == "POST" else 200
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


@pytest.fixture
def uvicorn_port() -> Iterator[int]:
    uvicorn = pytest.importorskip("uvicorn")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(_asgi_app, log_level="warning", http="h11", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60  # a bound on a hang, not a measure of speed
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    yield int(sock.getsockname()[1])
    server.should_exit = True
    thread.join(10)
    sock.close()


def test_against_uvicorn(uvicorn_port: int) -> None:
    async def flow(conn: Connection, n: int) -> int:
        if n % 10 == 9:
            return (await conn.request("GET", "/close")).status
        streamed = await conn.request("GET", "/stream")
        assert streamed.headers.get("transfer-encoding") == "chunked"
        assert streamed.body == b"".join(CHUNKS)
        order = {"n": n, "amount": "1.00"}
        answer = await conn.request("POST", f"/orders/{n}", json=order)
        sent = len(json.dumps(order, separators=(",", ":")))
        assert answer.json() == {"path": f"/orders/{n}", "length": sent}
        return answer.status

    result = run_load(
        "127.0.0.1", uvicorn_port, flow, clients=4, requests=100, duration=60, expect=201
    )
    assert result.statuses == {"201": 90, "200": 10}
    assert result.ok == 90
    assert result.http_requests == 190
    # One connection per client, plus one after each of the 10 Connection: close answers.
    assert 10 <= result.connections <= 14
