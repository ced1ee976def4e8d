"""Target.redact masks every secret of its URL in error text and logs that reach the compare
JSON/HTML: the password, secret options (declared or named like one) and the secrets of a
URL nested in an option (endpoint_url's user info and query) (issue 18 item 5)."""

from __future__ import annotations

import pytest

from anymq.compare.targets import targets

pytestmark = pytest.mark.memory

MARKER = "s3cr3t-MARKER"


@pytest.mark.parametrize(
    "url",
    [
        f"amqp://app:{MARKER}@127.0.0.1:1/",
        f"kafka://127.0.0.1:1?sasl_username=u&sasl_password={MARKER}",
        f"kafka://127.0.0.1:1?ssl_password={MARKER}",
        f"kafka://127.0.0.1:1?token={MARKER}",
        f"sqs://?region=us-east-1&endpoint_url=http://u:{MARKER}@127.0.0.1:1",
        f"sqs://?region=us-east-1&endpoint_url=http%3A%2F%2Fh%3A1%2F%3Fpassword%3D{MARKER}",
    ],
)
def test_redact_masks_every_secret_of_the_url(url: str) -> None:
    (target,) = targets([url])
    assert MARKER not in target.shown
    assert MARKER not in target.redact(f"connect failed ({MARKER}): {MARKER}")
