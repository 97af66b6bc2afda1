"""Bytes → lines, without a Python object per line.

The landing reader hands the parser chunks that end on a line boundary. Lines are located
with numpy and exposed as one Arrow string array over the chunk's own buffer, so splitting
costs a vector scan, not a loop. Lines that cannot be parsed at all (invalid UTF-8, longer
than the cap) become rejects here; blank lines are skipped and not counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
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
    # The chunks as read, one per piece of `text`, when they hold exactly these lines (none
    # dropped): the field splitter then reads them in place instead of copying the lines out.
    raw: tuple[bytes, ...] | None = None

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


def _without(chunk: bytes, text: pa.StringArray, starts: np.ndarray, ends: np.ndarray,
             keep: np.ndarray, max_runs: int = 256) -> tuple[pa.StringArray, tuple[bytes, ...] | None]:
    """The kept lines as one new buffer (one copy, from the runs of consecutive kept lines),
    so the field splitter can still read it in place. Chunks cut into very many runs are
    filtered instead."""
    kept = np.flatnonzero(keep)
    if len(kept) == 0:
        return text.slice(0, 0), ()
    breaks = np.flatnonzero(np.diff(kept) != 1) + 1
    if len(breaks) >= max_runs:
        return text.filter(arrow.mask(keep)), None
    view = memoryview(chunk)
    data = b"".join(view[starts[a] : ends[b]]
                    for a, b in zip(kept[np.r_[0, breaks]], kept[np.r_[breaks - 1, len(kept) - 1]], strict=True))
    offsets = np.concatenate(([0], np.cumsum((ends - starts)[kept]))).astype(np.int32)
    return pa.StringArray.from_buffers(len(kept), pa.py_buffer(offsets), pa.py_buffer(data)), (data,)


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
    whole: tuple[bytes, ...] | None = (chunk,) if len(starts) else ()
    if not keep.all():  # blank or rejected lines present: drop them
        text, whole = _without(chunk, text, starts, ends, keep)
        line_no = line_no[keep]
    rejects.sort()
    return Lines(text=text, line_no=line_no, rejects=rejects, count=count, span=len(starts), raw=whole)


def texts_at(lines: Lines, rows: np.ndarray | pl.Series) -> pl.Series:
    """The text of the lines at ascending positions `rows`, as a Polars column: only the
    few lines a caller needs (rejects, say) are converted, not the whole batch."""
    keep = np.zeros(len(lines.line_no), dtype=bool)
    keep[rows.to_numpy() if isinstance(rows, pl.Series) else rows] = True
    return pl.Series(lines.text.filter(arrow.mask(keep)), dtype=pl.String)


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
    raws = [b.raw for _, b in batch]
    return Lines(
        text=pa.chunked_array([b.text for _, b in batch], type=pa.string()),
        line_no=np.concatenate([b.line_no for _, b in batch]),
        rejects=[],
        count=sum(len(b.line_no) for _, b in batch),
        part=np.concatenate([np.full(len(b.line_no), p, np.int32) for p, b in batch]),
        raw=None if any(r is None for r in raws) else tuple(c for r in raws for c in r if r),
    )
