"""A real SFTP server on loopback (asyncssh), serving one folder, for the files source's sftp:// tests."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import asyncssh

USER, PASSWORD = "dropbox", "s3cret-for-tests"


class _PasswordOnly(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return (username, password) == (USER, PASSWORD)


class SFTPServer:
    """``with SFTPServer(root) as server: server.port`` — chrooted to ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.port = 0

    async def _start(self) -> asyncssh.SSHAcceptor:
        return await asyncssh.create_server(
            _PasswordOnly, "127.0.0.1", 0,
            server_host_keys=[asyncssh.generate_private_key("ssh-ed25519")],
            sftp_factory=lambda channel: asyncssh.SFTPServer(channel, chroot=str(self.root)),
        )

    def __enter__(self) -> SFTPServer:
        self._thread.start()
        self._acceptor = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)
        self.port = self._acceptor.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        self._acceptor.close()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
