"""Getting at one file of a drop: its header (cheaply, to pick the format) and its rows in bounded batches.

A file is read through a local path: a local, uncompressed UTF-8 file as it is; anything else (gzip, another
encoding, a remote file over SFTP or an object store) is first streamed, in chunks, into a temporary file.
Rows then come out block by block (``BATCH_BYTES`` of file at a time, cut at record boundaries and parsed by
polars' CSV reader), every value as text, each with ``_line``: the physical line of the file where the record
starts (quoted fields may span lines), so a quarantine record points at what an editor shows. A UTF-8
byte-order mark, CRLF line ends and blank lines are handled; rows shorter than the header are padded with
nulls, fields beyond the header are ignored.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import polars as pl

from sources.files.settings import BATCH_BYTES, DATA_SUFFIXES

LINE = "_line"
CHUNK = 1 << 20


@dataclass(frozen=True)
class Dialect:
    """How a format writes its text: field separator, quote character (None: quotes are data) and encoding."""

    separator: str = ","
    quote_char: str | None = '"'
    encoding: str = "utf-8"


def is_data_file(name: str) -> bool:
    """``.csv``/``.tsv``/``.txt``, optionally ``.gz``: the files a drop is made of."""
    return name.lower().removesuffix(".gz").endswith(DATA_SUFFIXES)


def _raw(item) -> IO[bytes]:
    stream = item.open(mode="rb", compression="disable")
    return gzip.GzipFile(fileobj=stream) if item["file_name"].lower().endswith(".gz") else stream


def read_head(item) -> bytes:
    """The first 64 KiB of the file's (decompressed) content: enough for its header, cheap over SFTP."""
    with _raw(item) as stream:
        return stream.read(64 * 1024)


def parse_header(head: bytes, encoding: str = "utf-8", separator: str | None = None) -> list[str]:
    """The header row (first record) in ``head``; the separator, unless given, is guessed from the line (a
    tab, else a semicolon if there are more of them than commas, else a comma). Names are stripped."""
    text = head.decode(encoding, errors="replace").removeprefix("\ufeff")
    first = text.splitlines()[0] if text else ""
    if separator is None:
        separator = "\t" if "\t" in first else (";" if first.count(";") > first.count(",") else ",")
    if separator == "\t":  # tab-separated exports (Amazon's) do not quote
        return [name.strip() for name in first.split("\t")]
    row = next(csv.reader(io.StringIO(text), delimiter=separator), [])
    return [name.strip() for name in row]


@contextmanager
def local_path(item, encoding: str = "utf-8") -> Iterator[Path]:
    """A local UTF-8 path holding the file's (decompressed) text, streamed in 1 MiB chunks."""
    name = item["file_name"]
    local = item["file_url"].startswith("file://")
    if local and not name.lower().endswith(".gz") and codecs.lookup(encoding).name == "utf-8":
        yield Path(item.local_file_path)
        return
    with tempfile.TemporaryDirectory(prefix="omni-files-") as folder:
        target = Path(folder) / "data.csv"
        with _raw(item) as source, target.open("wb") as sink:
            if codecs.lookup(encoding).name == "utf-8":
                shutil.copyfileobj(source, sink, CHUNK)
            else:  # transcode to UTF-8 chunk by chunk (an incremental decoder keeps split characters whole)
                decoder = codecs.getincrementaldecoder(encoding)()
                while chunk := source.read(CHUNK):
                    sink.write(decoder.decode(chunk).encode("utf-8"))
                sink.write(decoder.decode(b"", final=True).encode("utf-8"))
        yield target


class UnreadableFile(ValueError):
    """A file whose records cannot be told apart (e.g. an unbalanced quote)."""


def batches(path: Path, dialect: Dialect, columns: list[str] | None = None,
            batch_bytes: int = BATCH_BYTES) -> Iterator[pl.DataFrame]:
    """The file's records as all-text frames of about ``batch_bytes`` of file each, with ``_line``.

    The file is cut into blocks at record boundaries — a line end outside quotes, found with numpy over the
    bytes — and each block (behind the header) is parsed by polars' CSV reader, so memory follows the block,
    not the file, and every record's physical start line is known exactly. Header names are stripped; empty
    header names (trailing separators) are dropped with their column; ``columns`` restricts what is kept."""
    quote = dialect.quote_char.encode() if dialect.quote_char else None
    header: bytes | None = None
    names: list[str] = []
    keep: list[str] = []
    pending, lines_before = b"", 0  # pending starts at a record start, after lines_before line ends
    with path.open("rb") as handle:
        while True:
            block = handle.read(batch_bytes)
            data = pending + block
            if not data:
                return
            ends = _record_ends(data, quote)
            if not block:  # the end of the file ends the last record, line end or not
                if not len(ends) or ends[-1] != len(data) - 1:
                    ends = np.append(ends, len(data) - 1)
                complete, pending = data, b""
            elif not len(ends):  # no complete record yet: read on
                pending = data
                continue
            else:
                complete, pending = data[:int(ends[-1]) + 1], data[int(ends[-1]) + 1:]
            starts, stops = np.concatenate(([0], ends[:-1] + 1)), ends + 1
            line_ends = np.flatnonzero(np.frombuffer(complete, np.uint8) == 10)
            first_lines = lines_before + np.searchsorted(line_ends, starts) + 1
            lines_before += len(line_ends)
            if header is None:
                header = complete[:int(stops[0])].removeprefix(b"\xef\xbb\xbf")
                names = pl.read_csv(io.BytesIO(header), separator=dialect.separator, quote_char=dialect.quote_char,
                                    infer_schema=False, n_rows=0).columns
                keep = [n for n in names if n.strip() and not n.startswith("_duplicated_")
                        and (columns is None or n.strip() in columns)]
                starts, stops, first_lines = starts[1:], stops[1:], first_lines[1:]
            if keep:
                frame = _parse(header, complete, starts, stops, first_lines, dialect, keep)
                if frame is not None:
                    yield frame
            if not block:
                return


def _record_ends(data: bytes, quote: bytes | None) -> np.ndarray:
    """Offsets of the line ends that end a record: those with an even number of quote characters before."""
    raw = np.frombuffer(data, np.uint8)
    newlines = np.flatnonzero(raw == 10)
    if quote is None or not len(newlines):
        return newlines
    quotes = np.flatnonzero(raw == quote[0])
    return newlines[np.searchsorted(quotes, newlines) % 2 == 0]


def _parse(header: bytes, complete: bytes, starts: np.ndarray, stops: np.ndarray, first_lines: np.ndarray,
           dialect: Dialect, keep: list[str]) -> pl.DataFrame | None:
    blank = np.array([complete[a:b].strip() == b"" for a, b in zip(starts.tolist(), stops.tolist(), strict=True)],
                     dtype=bool)
    if blank.all():
        return None
    if blank.any():  # blank lines are no records: leave them out of the bytes and of the line numbers
        body = b"".join(complete[a:b] for a, b, e in zip(starts.tolist(), stops.tolist(), blank, strict=True)
                        if not e)
        first_lines = first_lines[~blank]
    else:
        body = complete[int(starts[0]):int(stops[-1])]
    if not header.endswith(b"\n"):
        header += b"\n"
    frame = pl.read_csv(io.BytesIO(header + body), separator=dialect.separator, quote_char=dialect.quote_char,
                        infer_schema=False, truncate_ragged_lines=True, columns=keep, encoding="utf8-lossy",
                        raise_if_empty=False)
    if frame.height != len(first_lines):
        raise UnreadableFile(f"records and lines disagree near line {int(first_lines[0])}: "
                             "an unbalanced quote character?")
    return frame.rename({n: n.strip() for n in keep}).with_columns(pl.Series(LINE, first_lines, pl.Int64))
