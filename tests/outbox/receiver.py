"""A real HTTP receiver on a local port for the outbox tests: it records what it gets,
answers with a chosen status, may be slow, and can be stopped and started on its port. Like
a careful receiver, it keeps a message once per idempotency key."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Records every request; ``status`` is the answer; ``delay_s`` how long it takes."""

    port: int = field(default_factory=free_port)
    status: int = 200
    delay_s: float = 0.0
    requests: list[Received] = field(default_factory=list)
    #: Bodies it answers 500 to, whatever ``status`` says.
    refuse: set[str] = field(default_factory=set)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    @property
    def kept(self) -> dict[str, bytes]:
        """The messages taken (2xx), once per idempotency key."""
        return {
            r.headers["Idempotency-Key"]: r.body for r in self.requests if r.headers.get("Idempotency-Key")
        }

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                time.sleep(receiver.delay_s)
                status = receiver.status
                if body.decode(errors="replace") in receiver.refuse:
                    status = 500
                if 200 <= status < 300:
                    receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
