"""Writing the command's answer, and its receipts, so that nothing sent goes unrecorded.

A reader that closes the pipe early (``| head``) ends the output, not the command: the AWS CLI
exits 0 then, and so does this one, with the receipts file (if any) already written. Receipts
are appended and flushed one by one as SQS accepts each request, so a crash, a kill or a Ctrl-C
afterwards cannot lose them.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from typing import IO, Any

from resend_client.enqueue.exits import UsageError
from resend_client.enqueue.output import render
from resend_client.receipts import EnqueueReceipt

TITLE = "Enqueue"
PROG = "resend-client enqueue"


class Printer:
    def __init__(self, output: str, query: Any) -> None:
        self.output = output
        self.query = query
        self.pipe_closed = False

    def print(self, data: Any) -> bool:
        """False when the reader has gone; raises ``QueryFailed`` before writing anything."""
        text = render(data, self.output, query=self.query, title=TITLE)
        if self.pipe_closed:
            return False
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            self.pipe_closed = True
            # Python would report the lost flush again at exit: send what is left nowhere.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return False
        return True


def note(message: str) -> None:
    sys.stderr.write(f"{PROG}: {message}\n")
    sys.stderr.flush()


def sent_note(receipt: EnqueueReceipt) -> str:
    return f"RequestId {receipt.request_id} was sent as MessageId {receipt.message_id}"


def line_digest(text: str) -> str:
    """Which line a receipt belongs to, without storing the line (it holds usernames)."""
    return hashlib.sha256(text.strip().encode()).hexdigest()[:32]


class ReceiptsFile:
    """``--receipts-file``: one JSON line per accepted request, appended and flushed at once."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.recorded = self._read()
        try:
            self._stream: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise UsageError(
                [f"argument --receipts-file: cannot write the file: {exc.strerror}"]
            ) from None

    def _read(self) -> set[tuple[int, str]]:
        """(line, digest) of every line an earlier run recorded; a torn last line is ignored."""
        recorded: set[tuple[int, str]] = set()
        try:
            with open(self.path, encoding="utf-8") as stream:
                for text in stream:
                    try:
                        document = json.loads(text)
                        recorded.add((int(document["Line"]), str(document["Digest"])))
                    except (ValueError, KeyError, TypeError):
                        continue
        except FileNotFoundError:
            pass
        except (OSError, UnicodeDecodeError):
            raise UsageError(["argument --receipts-file: cannot read the file"]) from None
        return recorded

    def record(self, receipt: EnqueueReceipt, line: int | None = None, digest: str = "") -> None:
        document = receipt.document()
        if line is not None:
            document.update({"Line": line, "Digest": digest})
        self._stream.write(json.dumps(document) + "\n")
        self._stream.flush()

    def close(self) -> None:
        self._stream.close()
