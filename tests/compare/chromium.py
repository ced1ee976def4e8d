"""Open an HTML file in headless Chromium over the DevTools protocol; measure and screenshot.

Used by tests/compare/test_compare.py to prove the report renders offline, and runnable as
``python -m tests.compare.chromium REPORT.html SCREENSHOT.png`` to refresh the screenshot
in docs/images/. Needs Debian's ``chromium`` package (``apt-get install -y chromium``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

INSTALL = "apt-get update && apt-get install -y chromium"

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
)

#: Runs in the page: every chart with its rendered size and its bars' rendered sizes.
MEASURE = """
(() => {
  const box = (el) => { const r = el.getBoundingClientRect(); return [r.width, r.height]; };
  const charts = [...document.querySelectorAll('svg.chart')].map((svg) => ({
    id: svg.dataset.chart,
    kind: svg.dataset.kind,
    size: box(svg),
    bars: [...svg.querySelectorAll('rect.bar')].map(box),
    texts: svg.querySelectorAll('text').length,
  }));
  const cells = [...document.querySelectorAll('table.matrix td.cell')].map(
    (td) => td.dataset.result);
  return JSON.stringify({
    title: document.title,
    charts,
    cells,
    rows: document.querySelectorAll('table.matrix tr[data-test]').length,
    sparks: document.querySelectorAll('svg.spark').length,
    scripts: document.scripts.length,
    stylesheets: document.querySelectorAll('link[rel=stylesheet]').length,
    height: document.documentElement.scrollHeight,
    sections: Object.fromEntries([...document.querySelectorAll('section')].map(
      (el) => [el.id, Math.round(el.getBoundingClientRect().top + window.scrollY)])),
  });
})()
"""


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class Rendered:
    """What the page looked like in a real browser."""

    measured: dict[str, Any]
    screenshot: bytes
    requests: list[str] = field(default_factory=list)
    """Every URL the page asked for (the report itself included)."""


class DevTools:
    """A minimal Chrome DevTools Protocol client over one page's websocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self.ids)
        await self.ws.send_json({"id": ident, "method": method, "params": params})
        while True:
            message = await self.ws.receive_json()
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self.events.append(message)

    async def wait_for(self, event: str) -> dict[str, Any]:
        for index, seen in enumerate(self.events):
            if seen.get("method") == event:
                return self.events.pop(index)
        while True:
            message: dict[str, Any] = await self.ws.receive_json()
            if message.get("method") == event:
                return message
            self.events.append(message)


async def render(
    html: Path,
    *,
    width: int = 1280,
    timeout: float = 60.0,
    band: tuple[int, int] | None = None,
) -> Rendered:
    """Load ``html`` from disk in headless Chromium, measure the charts, take a screenshot.

    The screenshot is the whole page, or the ``band`` (top, height) of it in CSS pixels.
    """
    binary = chromium_path()
    if binary is None:
        raise FileNotFoundError(f"chromium is not installed; install it with: {INSTALL}")
    with tempfile.TemporaryDirectory(
        prefix="anymq-chromium-", ignore_cleanup_errors=True
    ) as profile:
        process = await asyncio.create_subprocess_exec(
            binary,
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={width},900",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,  # its helper processes share a group we can stop
        )
        try:
            async with asyncio.timeout(timeout):
                port = await _devtools_port(Path(profile))
                return await _drive(port, file_uri(html), width, band)
        finally:
            await _stop(process)


async def _stop(process: asyncio.subprocess.Process) -> None:
    """Stop the browser and every helper process it started (its own process group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), 10)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()


def _read_port(marker: Path) -> int | None:
    """Chromium writes its DevTools port into the profile once it listens."""
    try:
        text = marker.read_text().split()
    except FileNotFoundError:
        return None
    return int(text[0]) if text else None


async def _devtools_port(profile: Path) -> int:
    marker = profile / "DevToolsActivePort"
    for _ in itertools.count():
        port = _read_port(marker)
        if port is not None:
            return port
        await asyncio.sleep(0.05)
    raise AssertionError("unreachable")


def file_uri(path: Path) -> str:
    return path.resolve().as_uri()


async def _drive(port: int, uri: str, width: int, band: tuple[int, int] | None) -> Rendered:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/json/list") as answer:
            pages = [t for t in await answer.json() if t.get("type") == "page"]
        async with http.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            tools = DevTools(ws)
            await tools.call("Network.enable")
            await tools.call("Page.enable")
            await tools.call(
                "Emulation.setDeviceMetricsOverride",
                width=width,
                height=900,
                deviceScaleFactor=1,
                mobile=False,
            )
            await tools.call("Page.navigate", url=uri)
            await tools.wait_for("Page.loadEventFired")
            result = await tools.call("Runtime.evaluate", expression=MEASURE, returnByValue=True)
            measured = json.loads(result["result"]["value"])
            top, height = band or (0, int(measured["height"]))
            shot = await tools.call(
                "Page.captureScreenshot",
                format="png",
                captureBeyondViewport=True,
                clip={"x": 0, "y": top, "width": width, "height": height, "scale": 1},
            )
            requests = [
                e["params"]["request"]["url"]
                for e in tools.events
                if e.get("method") == "Network.requestWillBeSent"
            ]
    return Rendered(measured, base64.b64decode(shot["data"]), requests)


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 4):
        print("usage: python -m tests.compare.chromium REPORT.html SCREENSHOT.png [TOP HEIGHT]")
        return 2
    band = (int(argv[2]), int(argv[3])) if len(argv) == 4 else None
    rendered = asyncio.run(render(Path(argv[0]), band=band))
    Path(argv[1]).write_bytes(rendered.screenshot)
    charts = rendered.measured["charts"]
    print(f"{len(charts)} charts, {sum(len(c['bars']) for c in charts)} bars -> {argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
