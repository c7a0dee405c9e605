"""What a crawler reads of a page: its <title> text and meta tags (entities decoded), parsed with the standard
library's HTML parser."""

from __future__ import annotations

from html.parser import HTMLParser


class Head(HTMLParser):
    """The page's <title> text and its meta tags, as a browser or a crawler reads them (entities decoded)."""

    def __init__(self) -> None:
        super().__init__()
        self.titles: list[str] = []
        self.meta: dict[str, str] = {}
        self.canonical: list[str] = []
        self.scripts = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "title":
            self._in_title = True
            self.titles.append("")
        elif tag == "meta" and (values.get("property") or values.get("name")):
            self.meta[values.get("property") or values.get("name") or ""] = values.get("content") or ""
        elif tag == "link" and values.get("rel") == "canonical":
            self.canonical.append(values.get("href") or "")
        elif tag == "script":
            self.scripts += 1

    def handle_endtag(self, tag: str) -> None:
        self._in_title = self._in_title and tag != "title"

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.titles[-1] += data


def parsed(page: str) -> Head:
    head = Head()
    head.feed(page)
    return head
