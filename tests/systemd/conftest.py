"""Fixtures for the systemd integration tests."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator

import pytest

from .notify_socket import NotifyReceiver, bound_socket


@pytest.fixture(params=["path", "abstract"])
def receiver(request: pytest.FixtureRequest) -> Iterator[NotifyReceiver]:
    """A notification socket, once as a file-system path and once abstract ("@...")."""
    if request.param == "path":
        # A short directory: sun_path is limited to 108 bytes, pytest's tmp_path may not be.
        with tempfile.TemporaryDirectory(prefix="sdn-") as directory:
            path = os.path.join(directory, "notify")
            sock = bound_socket(path)
            try:
                yield NotifyReceiver(sock, path)
            finally:
                sock.close()
    else:
        name = f"shopwatch-test-{uuid.uuid4().hex}"
        sock = bound_socket("\0" + name)
        try:
            yield NotifyReceiver(sock, "@" + name)
        finally:
            sock.close()
