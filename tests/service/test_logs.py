"""JSON log lines: one object per line, extra fields kept, no terminal colour codes."""

from __future__ import annotations

import json
import logging

from service.logs import JsonFormatter


def test_uvicorn_colour_message_is_left_out() -> None:
    record = logging.makeLogRecord(
        {
            "name": "uvicorn.error",
            "levelname": "INFO",
            "msg": "Uvicorn running on %s",
            "args": ("http://127.0.0.1:8000",),
            "color_message": "Uvicorn running on \x1b[1m%s\x1b[0m",
            "request_id": "abc",
        }
    )
    line = JsonFormatter().format(record)
    assert "\x1b" not in line and "\\u001b" not in line
    data = json.loads(line)
    assert data["message"] == "Uvicorn running on http://127.0.0.1:8000" and data["request_id"] == "abc"
    assert "color_message" not in data
