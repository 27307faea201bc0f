"""Assertions shared by the service tests."""

from __future__ import annotations

import socket
import time
from typing import Any

from service.errors import STATUS_BY_CODE


def assert_error_shape(response: Any, status: int, code: str) -> dict:
    """Check the one error shape and return its content."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    error = body["error"]
    assert error["code"] == code and isinstance(error["details"], dict)
    assert error["message"] and "Traceback" not in error["message"]
    assert STATUS_BY_CODE.get(code, status) == status
    assert response.headers["x-request-id"]
    return error


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_serving(client: Any, wanted: str, timeout: float = 10.0) -> dict:
    """Poll `/readyz` until the service answers with build `wanted`; returns its body."""
    deadline = time.monotonic() + timeout
    while True:
        ready = client.get("/readyz")
        if ready.status_code == 200 and ready.json()["build_id"] == wanted:
            return ready.json()
        assert time.monotonic() < deadline, f"toujours {ready.json()} au lieu de {wanted}"
        time.sleep(0.05)
