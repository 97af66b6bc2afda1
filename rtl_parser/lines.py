"""Bytes → lines, without a Python object per line.

The landing reader hands the parser chunks that end on a line boundary. Lines are located
with numpy and exposed as one Arrow string array over the chunk's own buffer, so splitting
costs a vector scan, not a loop. Lines that cannot be parsed at all (invalid UTF-8, longer
than the cap) become rejects here; blank lines are skipped and not counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from rtl_parser import arrow

NEWLINE = 0x0A


@dataclass(frozen=True)
class Lines:
    """Non-blank, valid lines of one chunk, each still ending in its line terminator.

    `part` says which object of a batch a line came from (see `concat`): the pipeline parses
    the lines of several small landing objects at once, so fixed per-call costs are shared.
    """

    text: pa.StringArray | pa.ChunkedArray  # each line keeps its "\n" (or "\r\n")
    line_no: np.ndarray  # 1-based line number within its object, int64
    rejects: list[tuple[int, str, bytes]]  # (line_no, reason, raw bytes)
    count: int  # non-blank lines seen, valid or not
    part: np.ndarray | None = None  # int32 object index within a batch; None = all 0
    span: int = 0  # lines the chunk held, blank ones included (where the next chunk's numbering starts)

    def parts(self) -> np.ndarray:
        return self.part if self.part is not None else np.zeros(len(self.line_no), np.int32)


def _bounds(chunk: bytes) -> tuple[np.ndarray, np.ndarray]:
    view = np.frombuffer(chunk, dtype=np.uint8)
    newlines = np.flatnonzero(view == NEWLINE)
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines + 1, [len(chunk)]))
    if starts[-1] == len(chunk):  # chunk ends with "\n": no trailing partial line
        starts, ends = starts[:-1], ends[:-1]
    return starts.astype(np.int64), ends.astype(np.int64)


def _content_length(chunk: bytes, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Line length without its terminator ("\n", "\r\n")."""
    view = np.frombuffer(chunk, dtype=np.uint8)
    length = ends - starts
    has_nl = (length > 0) & (view[np.maximum(ends - 1, 0)] == NEWLINE)
    length = length - has_nl
    has_cr = (length > 0) & (view[np.maximum(starts + length - 1, 0)] == 0x0D)
    return length - has_cr


def _invalid_utf8_lines(chunk: bytes, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Indexes of lines that are not valid UTF-8. Only lines holding a byte >= 0x80 can be
    invalid, so only those few are decoded one by one."""
    view = np.frombuffer(chunk, dtype=np.uint8)
    high = np.flatnonzero(view >= 0x80)
    candidates = np.unique(np.searchsorted(starts, high, side="right") - 1)
    bad = []
    for i in candidates:
        try:
            chunk[starts[i] : ends[i]].decode("utf-8")
        except UnicodeDecodeError:
            bad.append(i)
    return np.asarray(bad, dtype=np.int64)


def split_lines(chunk: bytes, first_line_no: int = 1, max_line_bytes: int = 65536) -> Lines:
    """Locate the lines of `chunk`, rejecting invalid UTF-8 and over-long lines."""
    starts, ends = _bounds(chunk)
    content = _content_length(chunk, starts, ends)
    line_no = np.arange(first_line_no, first_line_no + len(starts), dtype=np.int64)

    keep = content > 0  # blank lines are skipped, as Firehose may leave them
    count = int(keep.sum())
    rejects: list[tuple[int, str, bytes]] = []

    too_long = keep & (content > max_line_bytes)
    for i in np.flatnonzero(too_long):
        raw = chunk[starts[i] : starts[i] + max_line_bytes]
        rejects.append((int(line_no[i]), f"line longer than {max_line_bytes} bytes "
                        f"({int(content[i])} bytes; first {max_line_bytes} kept)", raw))
    keep &= ~too_long

    if not chunk.isascii():
        bad = _invalid_utf8_lines(chunk, starts, ends)
        for i in bad:
            if keep[i]:
                rejects.append((int(line_no[i]), "invalid UTF-8",
                                chunk[starts[i] : starts[i] + content[i]]))
        keep[bad] = False

    offsets = np.append(starts, ends[-1] if len(ends) else 0).astype(np.int32)
    text = pa.StringArray.from_buffers(len(starts), pa.py_buffer(offsets), pa.py_buffer(chunk))
    if not keep.all():  # blank or rejected lines present: drop them, still vectorised
        text = text.filter(arrow.mask(keep))
        line_no = line_no[keep]
    rejects.sort()
    return Lines(text=text, line_no=line_no, rejects=rejects, count=count, span=len(starts))


def select(lines: Lines, mask: np.ndarray) -> Lines:
    """The subset of `lines` where `mask` holds; rejects and count stay with the caller."""
    return Lines(text=lines.text.filter(arrow.mask(mask)), line_no=lines.line_no[mask],
                 rejects=[], count=int(mask.sum()), part=lines.parts()[mask])


def slice_lines(lines: Lines, start: int, stop: int) -> Lines:
    """Lines [start, stop) of `lines`, without copying; rejects and count stay with the caller."""
    return Lines(text=lines.text.slice(start, stop - start), line_no=lines.line_no[start:stop],
                 rejects=[], count=stop - start, part=lines.parts()[start:stop])


def concat(batch: list[tuple[int, Lines]]) -> Lines:
    """Lines of several objects as one batch; `part` records each line's object.

    Line-level rejects stay with the pieces: the caller attributes them per object.
    """
    return Lines(
        text=pa.chunked_array([b.text for _, b in batch], type=pa.string()),
        line_no=np.concatenate([b.line_no for _, b in batch]),
        rejects=[],
        count=sum(len(b.line_no) for _, b in batch),
        part=np.concatenate([np.full(len(b.line_no), p, np.int32) for p, b in batch]),
    )
