"""panoramisk's AMI protocol with UTF-8 decoded across TCP reads.

panoramisk 1.4 decodes each chunk on its own with ``errors='ignore'``: a Chinese caller name
split between two reads loses its characters silently. Here an incremental decoder keeps the
incomplete bytes until the rest arrives, and panoramisk only ever sees whole characters.
"""

from __future__ import annotations

import codecs
from typing import Any

from panoramisk.ami_protocol import AMIProtocol


class Utf8AMIProtocol(AMIProtocol):  # type: ignore[misc]
    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def data_received(self, data: bytes) -> None:
        text = self._decoder.decode(data)
        if text:
            # Re-encode whole characters only; panoramisk's own decode then loses nothing.
            super().data_received(text.encode("utf-8"))
