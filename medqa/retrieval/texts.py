"""The one shape of a search text that names its topic: ``"<focus>: <text>"``.

The dense index embeds questions and answer passages in this shape, a follow-up question is searched in
it, and the training recipe pairs queries with it; they must agree, so it is written here once.
"""

from __future__ import annotations


def focus_prefixed(focus: str, text: str) -> str:
    """``text`` prefixed with its topic, as the index embeds it (``"Gout: what causes it?"``)."""
    return f"{focus}: {text}"
