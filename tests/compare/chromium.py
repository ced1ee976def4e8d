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

#: Runs in the page: every visible chart with its rendered size and its bars' rendered
#: sizes, plus what a small screen breaks: page-wide horizontal overflow, table cells whose
#: content spills out (over the next cell), chart labels that overlap each other or the
#: dashed reference line, the smallest chart text as rendered (font size x scale), and
#: elements allowed to break words anywhere (only URLs and error messages may).
MEASURE = """
(() => {
  const rect = (el) => el.getBoundingClientRect();
  const box = (el) => { const r = rect(el); return [r.width, r.height]; };
  const shown = (el) => { const r = rect(el); return r.width > 0 && r.height > 0; };
  const meet = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 &&
    a.top < b.bottom - 1 && b.top < a.bottom - 1;
  const charts = [...document.querySelectorAll('svg.chart')].filter(shown).map((svg) => {
    const frame = rect(svg);
    const scale = frame.width / svg.viewBox.baseVal.width;
    const texts = [...svg.querySelectorAll('text')];
    const boxes = texts.map((t) => rect(t));
    const overlaps = [];
    for (let i = 0; i < texts.length; i++) {
      for (let j = i + 1; j < texts.length; j++) {
        if (meet(boxes[i], boxes[j])) {
          overlaps.push([texts[i].textContent, texts[j].textContent]);
        }
      }
    }
    const crossed = [];
    for (const line of svg.querySelectorAll('line.reference')) {
      const l = rect(line); const x = l.left + l.width / 2;
      texts.forEach((t, i) => {
        const b = boxes[i];
        if (x > b.left + 0.5 && x < b.right - 0.5 && b.top < l.bottom && l.top < b.bottom) {
          crossed.push(t.textContent);
        }
      });
    }
    return {
      id: svg.dataset.chart,
      kind: svg.dataset.kind,
      variant: svg.dataset.variant,
      size: box(svg),
      bars: [...svg.querySelectorAll('rect.bar')].map(box),
      texts: texts.length,
      min_font: Math.min(...texts.map(
        (t) => parseFloat(getComputedStyle(t).fontSize) * scale)),
      overlaps,
      crossed,
      clipped: texts.filter((t, i) => boxes[i].left < frame.left - 1 ||
        boxes[i].right > frame.right + 1 || boxes[i].top < frame.top - 1 ||
        boxes[i].bottom > frame.bottom + 1).map((t) => t.textContent),
    };
  });
  const spills = [];
  for (const cell of document.querySelectorAll('td, th')) {
    if (!shown(cell)) continue;
    const range = document.createRange();
    range.selectNodeContents(cell);
    const c = range.getBoundingClientRect(); const r = rect(cell);
    if (c.width && (c.left < r.left - 1 || c.right > r.right + 1)) {
      spills.push(cell.textContent.trim().slice(0, 60));
    }
  }
  const anywhere = [...document.querySelectorAll('body *')].filter((el) =>
    ['anywhere', 'break-word'].includes(getComputedStyle(el).overflowWrap) &&
    !el.closest('.url, .message')).map((el) => el.tagName + '.' + el.className);
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
    width: window.innerWidth,
    scroll_width: document.documentElement.scrollWidth,
    spills,
    anywhere: [...new Set(anywhere)],
    first_section: document.querySelector('section') && document.querySelector('section').id,
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
