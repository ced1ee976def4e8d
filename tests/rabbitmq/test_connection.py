"""Connecting to RabbitMQ: failed, timed-out and cancelled starts leave nothing behind.

aio-pika's robust connection keeps a reconnect task (and a socket) alive until it is
closed; a start that fails or is cancelled must close it, or the task retries forever,
``asyncio.run()`` cannot finish and Ctrl-C does not stop the CLI. The servers here are
local stand-ins: a closed port, and a port that accepts TCP but never speaks AMQP.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

import anymq

pytestmark = [pytest.mark.rabbitmq, pytest.mark.anymq]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def open_sockets() -> int:
    """Sockets this process holds (Linux: /proc/self/fd)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                count += 1
    return count


def library_tasks() -> list[asyncio.Task[object]]:
    """Running tasks started by anymq, aio-pika or aiormq (not the test's own)."""
    found = []
    for task in asyncio.all_tasks() - {asyncio.current_task()}:
        coro = task.get_coro()
        code = getattr(coro, "cr_code", None)
        where = code.co_filename if code is not None else type(coro).__module__
        if any(part in where for part in ("anymq", "aio_pika", "aiormq")):
            found.append(task)
    return found


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def mute_listener() -> Iterator[socket.socket]:
    """A listening socket whose kernel completes the TCP handshake; nobody ever answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield sock


class SilentServer:
    """Accepts TCP connections, never speaks AMQP; counts the connections still open."""

    def __init__(self) -> None:
        self.open = 0
        self.accepted = 0
        self.server: asyncio.Server | None = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.open += 1
        self.accepted += 1
        try:
            await reader.read()  # until the client closes its end
        finally:
            self.open -= 1
            writer.close()

    async def __aenter__(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()


async def _settle(predicate: Callable[[], bool], seconds: float) -> None:
    """Poll until ``predicate`` holds or ``seconds`` pass (the asserts then tell which)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not predicate():
        if loop.time() >= deadline:
            return
        await asyncio.sleep(0.05)


async def _fail_to_start(url: str, times: int) -> None:
    for _ in range(times):
        broker = anymq.connect(url)
        with pytest.raises(anymq.BrokerUnavailable):
            await broker.start()
        await broker.close()


async def test_failed_connects_to_a_closed_port_leave_no_task_or_socket() -> None:
    url = f"amqp://127.0.0.1:{closed_port()}/?connect_timeout=1&reconnect_interval=0.2"
    sockets = open_sockets()
    await _fail_to_start(url, 5)
    await asyncio.sleep(1.0)  # several reconnect intervals: a leaked retry loop would show
    assert library_tasks() == []
    assert open_sockets() == sockets


@pytest.mark.parametrize("mode", ["classic", "stream"])
async def test_timed_out_connects_to_a_silent_port_leave_no_task_or_socket(mode: str) -> None:
    silent = SilentServer()
    async with silent as port:
        sockets = open_sockets()
        url = f"amqp://127.0.0.1:{port}/?connect_timeout=0.5&reconnect_interval=0.2&mode={mode}"
        started = time.monotonic()
        await _fail_to_start(url, 5)
        took = time.monotonic() - started
        await _settle(lambda: silent.open == 0 and not library_tasks(), 1.0)
        await asyncio.sleep(0.5)  # a leaked reconnect loop would have connected again
        accepted = silent.accepted
        await asyncio.sleep(0.5)
        assert silent.accepted == accepted, "a closed broker still reconnects"
        assert library_tasks() == []
        assert silent.open == 0, f"{silent.open} client connection(s) left open"
        assert open_sockets() == sockets
    assert took < 5 * 0.5 + 3, f"5 starts with connect_timeout=0.5 took {took:.1f}s"


async def test_cancelled_start_leaves_no_task_or_socket() -> None:
    silent = SilentServer()
    async with silent as port:
        sockets = open_sockets()
        broker = anymq.connect(f"amqp://127.0.0.1:{port}/?connect_timeout=30")
        task = asyncio.create_task(broker.start())
        await _settle(lambda: silent.accepted > 0, 5.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await broker.close()
        await _settle(lambda: silent.open == 0 and not library_tasks(), 2.0)
        assert library_tasks() == []
        assert silent.open == 0
        assert open_sockets() == sockets


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.join(ROOT, "src"), os.path.join(ROOT, "plugins"), env.get("PYTHONPATH", "")]
    )
    env["COLUMNS"] = "200"
    return env


def test_asyncio_run_of_a_cancelled_start_returns() -> None:
    with mute_listener() as listener:
        port = listener.getsockname()[1]
        script = textwrap.dedent(
            f"""
            import asyncio, anymq

            async def main():
                loop = asyncio.get_running_loop()
                loop.call_later(0.5, asyncio.current_task().cancel)  # like Ctrl-C
                await anymq.connect("amqp://127.0.0.1:{port}/?connect_timeout=30").start()

            try:
                asyncio.run(main())
            except asyncio.CancelledError:
                print("cancelled")
            """
        )
        started = time.monotonic()
        try:
            done = subprocess.run(
                [sys.executable, "-c", script],
                capture_output=True,
                text=True,
                timeout=15,
                env=_env(),
            )
        except subprocess.TimeoutExpired:
            pytest.fail("asyncio.run() of a cancelled start did not return within 15s")
    took = time.monotonic() - started
    assert "cancelled" in done.stdout, done.stderr
    assert took < 10, f"asyncio.run() took {took:.1f}s to return after the cancel"


def test_cli_exits_on_ctrl_c_while_connecting() -> None:
    with mute_listener() as listener:
        port = listener.getsockname()[1]
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "anymq.cli",
                "topics",
                "list",
                "--url",
                f"amqp://127.0.0.1:{port}/?connect_timeout=60",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        try:
            listener.settimeout(30)
            client, _ = listener.accept()  # the CLI is connecting; it is never answered
            assert process.poll() is None, process.communicate()
            process.send_signal(signal.SIGINT)
            started = time.monotonic()
            try:
                _, stderr = process.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                pytest.fail("anymq topics list ignored Ctrl-C while connecting")
            took = time.monotonic() - started
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()
        client.close()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    assert took < 5, f"exiting after Ctrl-C took {took:.1f}s"


def _with_vhost(url: str, vhost: str) -> str:
    parsed = anymq.URL.parse(url)
    auth = f"{parsed.username or 'guest'}:{parsed.password or 'guest'}@"
    return f"amqp://{auth}{parsed.host}:{parsed.port or 5672}/{vhost}"


async def test_missing_vhost_is_a_config_error_naming_it(rabbitmq_url: str) -> None:
    vhost = f"anymq-missing-{uuid.uuid4().hex[:8]}"
    sockets = open_sockets()
    broker = anymq.connect(_with_vhost(rabbitmq_url, vhost))
    with pytest.raises(anymq.ConfigError) as info:
        await broker.start()
    await broker.close()
    text = str(info.value)
    assert repr(vhost) in text, text
    assert "add_vhost" in text, text  # says how to fix it
    assert ":guest@" not in text  # no credentials
    await _settle(lambda: not library_tasks(), 2.0)
    assert library_tasks() == []
    assert open_sockets() == sockets


def test_cli_prints_a_missing_vhost_without_a_traceback(rabbitmq_url: str) -> None:
    vhost = f"anymq-missing-{uuid.uuid4().hex[:8]}"
    url = _with_vhost(rabbitmq_url, vhost)
    done = subprocess.run(
        [sys.executable, "-m", "anymq.cli", "topics", "list", "--url", url],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert vhost in done.stderr, done.stderr
