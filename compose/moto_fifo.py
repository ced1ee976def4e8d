"""``python compose/moto_fifo.py -H 127.0.0.1 -p PORT``: moto_server with AWS's FIFO rule.

AWS never hands out a message of a FIFO message group while another message of that group
is in flight. moto 5.2 does, two ways:

- ``ReceiveMessage`` takes no lock, and a long poll decides which groups are in flight once,
  when it starts. So two members polling one FIFO queue get messages of the same group at
  the same time (measured: the contract suite's per-key order test with two members failed
  7 times in 8 on the shared moto_server, short polls included); see
  tests/sqs/test_partitions.py::test_emulator_holds_a_group_for_a_running_long_poll.
- its record of what is in flight forgets a message whose visibility ran out as soon as a
  pass meets it, even when the pass then skips it (another message of its group is still
  in flight), and nothing puts it back: the group's later messages then overtake it
  (measured: a SIGKILLed member's messages came back as ``5, 2, 3, 4``). Likewise
  ``ChangeMessageVisibility`` takes any handle a message ever had, also when it is no
  longer in flight, where AWS answers MessageNotInflight.

This launcher fixes those and nothing else: every pass over a queue, visibility change and
delete runs under one lock; before each pass, in flight is what AWS calls so (received and
invisible); a long poll is a series of such passes; a visibility change needs the message
in flight under that handle. The tests still talk HTTP to a real moto_server, as to AWS;
only the emulator's bugs are gone.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from moto.server import main
from moto.sqs.exceptions import ReceiptHandleIsInvalid
from moto.sqs.models import SQSBackend

_original = SQSBackend.receive_message
_change = SQSBackend.change_message_visibility
_delete = SQSBackend.delete_message
_lock = threading.RLock()

_PAUSE = 0.05
"""Seconds between passes while only held groups have visible messages."""


def _in_flight(queue: Any) -> None:
    """In flight = received and invisible, as on AWS: moto's own record of it misses
    messages whose visibility ran out and came back, so its groups would be handed out."""
    pending = queue.pending_messages
    pending.clear()
    pending.update(m for m in queue._messages if m.receipt_handle and not m.visible)


def receive_message(
    self: SQSBackend,
    queue_name: str,
    count: int,
    wait_seconds_timeout: int,
    visibility_timeout: int,
    message_attribute_names: list[str] | None = None,
) -> Any:
    end = time.monotonic() + wait_seconds_timeout
    while True:
        with _lock:  # one pass at a time, each with the groups in flight right now
            _in_flight(self.get_queue(queue_name))
            result = _original(
                self, queue_name, count, 0, visibility_timeout, message_attribute_names
            )
        remaining = end - time.monotonic()
        if result or remaining <= 0:
            return result
        started = time.monotonic()
        self.get_queue(queue_name).wait_for_messages(min(1.0, remaining))  # type: ignore[arg-type]
        if time.monotonic() - started < _PAUSE:  # visible, but all of groups in flight
            time.sleep(min(_PAUSE, max(0.0, end - time.monotonic())))


class MessageNotInflight(ReceiptHandleIsInvalid):
    def __init__(self) -> None:
        super().__init__()
        self.message = "MessageNotInflight: the message is not in flight under this handle"


def change_message_visibility(
    self: SQSBackend, queue_name: str, receipt_handle: str, visibility_timeout: int
) -> None:
    with _lock:
        queue = self.get_queue(queue_name)
        for message in queue._messages:
            if message.had_receipt_handle(receipt_handle):
                in_flight = message in queue.pending_messages and not message.visible
                if not in_flight or message.receipt_handle != receipt_handle:
                    raise MessageNotInflight()
                break
        _change(self, queue_name, receipt_handle, visibility_timeout)


def delete_message(self: SQSBackend, queue_name: str, receipt_handle: str) -> None:
    with _lock:
        _delete(self, queue_name, receipt_handle)


SQSBackend.receive_message = receive_message  # type: ignore[method-assign]
SQSBackend.change_message_visibility = change_message_visibility  # type: ignore[method-assign]
SQSBackend.delete_message = delete_message  # type: ignore[method-assign]

if __name__ == "__main__":
    main()
