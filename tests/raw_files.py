"""Small raw files in the layout of a real dataset, written by the tests that read files."""

from __future__ import annotations

from pathlib import Path


def digi_file(path: Path, n_sessions: int, shift: int = 0) -> Path:
    """A DIGINETICA-layout file: sessions over 6 items, dates spread over 20 days."""
    lines = ["sessionId;userId;itemId;timeframe;eventdate"]
    for s in range(n_sessions):
        day = 1 + s % 20
        for k in range(2 + s % 3):
            lines.append(f"{s + 1};NA;{100 + (s + k + shift) % 6};{1000 * k};2016-05-{day:02d}")
    path.write_text("\n".join(lines) + "\n")
    return path
