"""SIGTERM with requests in flight whose clients have gone (issue 15, item 3), on both stores,
with a real `igny8d serve`: every handler finishes (its write lands, its access line says
200, no 500 and no traceback), the store is closed only after them, and the process exits
within the 30 s the README promises."""

from __future__ import annotations

import json
import signal
import socket
import struct
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from igny8d.store.schema import refresh_tokens, users
from tests.helpers.client import PASSWORD
from tests.helpers.drill import Server, db

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]

LOGINS = 8


def sessions(db_url: str, email: str) -> int:
    async def count(conn: Any) -> int:
        return int((await conn.execute(
            select(func.count()).select_from(refresh_tokens).join(
                users, users.c.id == refresh_tokens.c.user_id).where(users.c.email == email))
        ).scalar_one())
    return int(db(db_url, count))


def send_and_hang_up(port: int, body: bytes) -> socket.socket:
    """A login sent whole; the caller resets the connection before the answer."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b"POST /api/v1/auth/login/ HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Type: application/json\r\n"
                 + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    return sock


def test_sigterm_lets_handlers_of_gone_clients_finish(tmp_path: Path, db_url: str) -> None:
    # cost 12: each login spends ~0.2 s of CPU in bcrypt, so they are all still running
    server = Server(tmp_path, db_url, "stop", IGNY8_BCRYPT_ROUNDS="12")
    try:
        server.wait_ready()
        email = f"stop-{uuid.uuid4().hex[:8]}@example.com"
        status, body = server.api.call("POST", "/api/v1/auth/register/", {
            "email": email, "password": PASSWORD, "password_confirm": PASSWORD})
        assert status == 201, body
        before = sessions(db_url, email)
        payload = json.dumps({"email": email, "password": PASSWORD}).encode()
        socks = [send_and_hang_up(server.port, payload) for _ in range(LOGINS)]
        time.sleep(0.15)  # read and dispatched: the handlers are hashing
        for sock in socks:  # gone: a reset, which the server notices at once
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        signalled = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        code = server.proc.wait(35)
        took = time.monotonic() - signalled
    finally:
        server.stop()
    log = server.log.read_text(errors="replace")
    assert code == 0, log[-3000:]
    assert took < 30, took
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    logins = [x for x in lines if x.get("path") == "/api/v1/auth/login/"]
    assert [x.get("status") for x in logins] == [200] * LOGINS, logins
    assert not [x for x in lines if x.get("levelname", x.get("level")) in ("ERROR", "error")
                or (x.get("status") or 0) >= 500], log[-3000:]
    assert "Traceback" not in log
    assert sessions(db_url, email) == before + LOGINS  # every handler's write landed
    print(f"\n[SIGTERM, {db_url.split(':')[0]}] {LOGINS} logins whose clients reset: all "
          f"200 and written; exited 0 {took:.2f}s after the signal")
