"""One run of one page over Streamlit's own websocket, as a browser's first load would make it, with the ``Host``
header (and the browser URL) of our choosing: what a forged request sees, without a browser.

It speaks Streamlit 1.67's protocol the way bench/st_driver.py does (a ``rerun_script`` BackMsg naming the page
and its query, ForwardMsg deltas back until ``script_finished``), synchronously and for one run only.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from typing import Any

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg


@dataclass
class PageRun:
    link_buttons: list[tuple[str, str]] = field(default_factory=list)  # (label, url)
    page_links: list[tuple[str, str, str]] = field(default_factory=list)  # (label, page, query)
    html: list[str] = field(default_factory=list)
    markdown: list[str] = field(default_factory=list)
    code: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)


def run_page(
    port: int, *, host: str, page: str = "", query: str = "", url: str | None = None, timeout: float = 30
) -> PageRun:
    """Connect to the app on 127.0.0.1:``port`` saying ``Host: host``, run ``page`` with ``query`` once (``url``:
    the address the "browser" reports; None: like a client that reports none) and collect what it drew."""
    from websockets.sync.client import connect

    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    found = PageRun()
    with connect(f"ws://{host}/_stcore/stream", sock=sock, subprotocols=["streamlit"], open_timeout=timeout) as ws:
        back = BackMsg()
        rerun = back.rerun_script
        rerun.page_name, rerun.query_string = page, query
        context = rerun.context_info
        context.timezone, context.timezone_offset, context.locale = "UTC", 0, "en-US"
        context.is_embedded, context.color_scheme = False, "light"
        if url is not None:
            context.url = url
        ws.send(back.SerializeToString())
        deadline = time.monotonic() + timeout
        while True:
            msg = ForwardMsg()
            msg.ParseFromString(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            kind = msg.WhichOneof("type")
            if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                _collect(found, msg.delta.new_element)
            elif kind == "script_finished" and msg.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                return found


def _collect(found: PageRun, element: Any) -> None:  # a protobuf Element
    which = element.WhichOneof("type")
    if which == "link_button":
        found.link_buttons.append((element.link_button.label, element.link_button.url))
    elif which == "page_link":
        link = element.page_link
        found.page_links.append((link.label, link.page, link.query_string))
    elif which == "html":
        found.html.append(element.html.body)
    elif which == "markdown":
        found.markdown.append(element.markdown.body)
    elif which == "code":
        found.code.append(element.code.code_text)
    elif which == "exception":
        found.exceptions.append(f"{element.exception.type}: {element.exception.message}")
