"""Find every line that holds an id, at least as fast as ``grep -F``.

:func:`find` never loops over lines in Python: it searches whole regions
in C (the C library's ``memmem`` on memory maps, ``bytes.find``
elsewhere) and only looks at the lines around a hit. Plain files are
memory-mapped and cut into byte ranges that worker processes take from a
shared queue; gzip files are decompressed in bounded blocks by a worker
each; standard input, pipes and the local journal are read in blocks by
the calling process. A worker owns the lines that start in its range, so
a line cut by a range boundary is found once. Memory holds one block per
stream and the matched lines, whatever the size of the logs.

``Stats.lines`` is exact for a source of up to 1 MiB; above, it is
estimated from the mean line length of the first 64 KiB of each range of
a plain file (the first MiB of a gzip file or stream): counting every
newline of a big file would cost more than finding the id.

Only the standard library is imported here, and only what the common
path needs: the command's ``--help`` must stay fast.
"""

import os
import sys
import time
import zlib

from global_reqid.trace import model
from global_reqid.trace import sources as sources_mod

#: Bytes read (or decompressed) at a time from a stream.
BLOCK_SIZE = 1 << 20
#: Largest byte range of a plain file one worker task covers.
CHUNK_SIZE = 32 << 20
#: Smallest byte range worth a task of its own.
MIN_CHUNK_SIZE = 2 << 20
#: Below this much input no worker is started: forking costs more.
SMALL_INPUT = 32 << 20
#: A line longer than this in a stream is skipped (memory stays bounded).
MAX_LINE = 16 << 20
#: Lines are counted in files and streams up to this size, and
#: estimated beyond.
LINE_SAMPLE = 1 << 20
#: Lines of a big file are estimated from this much of each range.
RANGE_SAMPLE = 64 << 10
#: The progress bar shows for scans of more than this many bytes.
PROGRESS_MIN_BYTES = 100 << 20

_GZIP_IN = 1 << 20              # compressed bytes read at a time
# Task ids go through a pipe as 4-byte words, written PIPE_BUF bytes at
# a time so that every read of 4 bytes gets one whole id.
_ID_BYTES = 4
_IDS_PER_WRITE = 1024
_HEADER = 9                     # message kind (1 byte), length (8 bytes)
_KEEP_OPEN = 256                # files kept open from planning to scan


def find(sources, needles, stats, jobs=None, progress=None, stdin=None,
         chunk_size=None, block_size=None):
    """Every line of ``sources`` that holds any of ``needles``.

    ``sources``: :class:`~global_reqid.trace.sources.Source` objects;
    ``needles``: non-empty byte strings without newlines (usually one
    uuid). Returns :class:`~global_reqid.trace.model.RawLine` objects in
    source order then offset order, each line once, without its newline
    or a trailing ``\\r``; offsets are in the decompressed stream.

    ``stats`` (a :class:`~global_reqid.trace.model.Stats`) is added to:
    files and bytes scanned, lines (see the module notes), lines matched,
    one warning per problem (a file gone or unreadable, a damaged gzip).
    ``jobs``: worker processes, 0 to scan in this process; default one
    per CPU for 32 MiB of input or more, none below. ``progress``: an
    object with ``start(total)``, ``update(done)`` and ``finish()`` (see
    :class:`Progress`), in bytes of files on disk. ``stdin``: a binary
    file object read for the source ``-`` (default ``sys.stdin.buffer``).
    ``chunk_size`` and ``block_size`` tune (or, in tests, shrink) the
    worker ranges and the stream reads.
    """
    needles = _check_needles(needles)
    block = block_size or BLOCK_SIZE
    found = {}                  # source index -> {offset: data}
    warnings = []
    files = [(index, source) for index, source in enumerate(sources)
             if source.size is not None]
    opened = _open_files(files, stats, warnings)
    if progress is not None:
        progress.start(sum(item.size for item in opened))
    try:
        _scan_files(opened, needles, stats, found, warnings, jobs,
                    chunk_size, block, progress)
        for index, source in enumerate(sources):
            if source.size is None:
                _scan_stream_source(index, source, needles, block, stdin,
                                    found, stats, warnings)
    finally:
        for item in opened:
            if item.fd is not None:
                _close(item.fd)
        if progress is not None:
            progress.finish()
    out = []
    for index, source in enumerate(sources):
        lines = found.get(index)
        if lines:
            out.extend(model.RawLine(source.path, offset, lines[offset])
                       for offset in sorted(lines))
    stats.matched += len(out)
    for text in warnings:
        if text not in stats.warnings:
            stats.warnings.append(text)
    return out


def _scan_files(opened, needles, stats, found, warnings, jobs, chunk_size,
                block, progress):
    """Scan the opened files: in workers when worth it, else here."""
    tasks = _plan(opened, chunk_size, jobs)
    workers = _worker_count(jobs, sum(item.size for item in opened),
                            len(tasks))
    done = [0]

    def advance(nbytes):
        done[0] += nbytes
        if progress is not None:
            progress.update(done[0])

    results = {}
    if workers:
        _memmem()               # once, before the workers fork
        results = _pool(tasks, workers, needles, block, advance, warnings)
    for task in tasks:
        if task.id not in results:
            # Never started, or its worker died: scan it here, by reading.
            results[task.id] = _run_task(task, needles, block, False,
                                         advance)
        nbytes, lines, hits, task_warnings = results[task.id]
        _collect(found, task.source_index, hits)
        stats.bytes += nbytes
        stats.lines += lines
        warnings.extend(task_warnings)


def _check_needles(needles):
    if isinstance(needles, (bytes, bytearray)):
        needles = [needles]
    out = []
    for needle in needles:
        needle = bytes(needle)
        if not needle or b'\n' in needle:
            raise ValueError('a needle must be non-empty bytes without a '
                             'newline')
        if needle not in out:
            out.append(needle)
    if not out:
        raise ValueError('no needle to find')
    return out


def _collect(found, index, hits):
    if hits:
        lines = found.setdefault(index, {})
        for offset, data in hits:
            lines[offset] = data


# -- searching -------------------------------------------------------------

def _matching_lines(buf, needles, start, end, find=None):
    """``(line_start, line_end)`` of each line of ``buf[start:end]`` that
    holds a needle (in order for one needle; the caller sorts). ``start``
    is a line start and ``end`` a newline's position or the data's end.
    ``find(needle, start, end)``: the search, ``buf.find`` by default."""
    find = find or buf.find
    found = {}
    for needle in needles:
        pos = find(needle, start, end)
        while pos >= 0:
            line_start = buf.rfind(b'\n', start, pos) + 1 or start
            line_end = buf.find(b'\n', pos + len(needle), end)
            if line_end < 0:
                line_end = end
            found[line_start] = line_end
            pos = find(needle, line_end + 1, end)
    return list(found.items())


def _strip_cr(data):
    return data[:-1] if data.endswith(b'\r') else data


def _estimate_lines(sample, total):
    """Lines in ``total`` bytes whose first bytes are ``sample``."""
    if not total:
        return 0
    newlines = sample.count(b'\n')
    if len(sample) >= total:
        return newlines + (not sample.endswith(b'\n'))
    return max(1, round(total * newlines / len(sample)))


class _Stream:
    """The lines of a byte stream fed block by block.

    A line cut by a block boundary waits in ``_parts`` for its end.
    ``skip_first`` drops everything up to the first newline (a range that
    starts inside a line someone else owns).
    """

    def __init__(self, needles, offset=0, skip_first=False, sample=True):
        self.needles = needles
        self.offset = offset            # stream offset of the next byte
        self.hits = []                  # (offset, data)
        self.overlong = 0               # lines skipped for their length
        self._parts = []
        self._parts_len = 0
        self._line_start = offset
        self._skipping = skip_first
        self._sample = []
        self._sampled = 0 if sample else LINE_SAMPLE

    @property
    def pending(self):
        """True when a line has started but not ended."""
        return bool(self._parts)

    def feed(self, block, size=None):
        """Scan ``block[:size]`` (bytes or a reused bytearray)."""
        size = len(block) if size is None else size
        if not size:
            return
        if self._sampled < LINE_SAMPLE:
            part = bytes(block[:min(size, LINE_SAMPLE - self._sampled)])
            self._sample.append(part)
            self._sampled += len(part)
        first = block.find(b'\n', 0, size)
        if first < 0:
            self._extend(bytes(block[:size]), self.offset)
            self.offset += size
            return
        start = 0
        if self._skipping or self._parts:
            if not self._skipping:
                self._parts.append(bytes(block[:first]))
                line = b''.join(self._parts)
                if self._holds_needle(line):
                    self.hits.append((self._line_start, _strip_cr(line)))
            self._parts = []
            self._parts_len = 0
            self._skipping = False
            start = first + 1
        last = block.rfind(b'\n', 0, size)
        for line_start, line_end in _matching_lines(
                block, self.needles, start, last):
            self.hits.append((self.offset + line_start,
                              _strip_cr(bytes(block[line_start:line_end]))))
        if last + 1 < size:
            self._extend(bytes(block[last + 1:size]), self.offset + last + 1)
        self.offset += size

    def _extend(self, data, offset):
        """Keep ``data`` (from stream ``offset``): a line with no end yet."""
        if self._skipping:
            return
        if not self._parts:
            self._line_start = offset
        self._parts.append(data)
        self._parts_len += len(data)
        if self._parts_len > MAX_LINE:
            self.overlong += 1
            self._parts = []
            self._parts_len = 0
            self._skipping = True

    def _holds_needle(self, line):
        return any(needle in line for needle in self.needles)

    def close(self):
        """End of the stream: the last line may have no newline."""
        if self._parts and not self._skipping:
            line = b''.join(self._parts)
            if self._holds_needle(line):
                self.hits.append((self._line_start, _strip_cr(line)))
        self._parts = []
        self._parts_len = 0

    def lines(self):
        """Lines fed so far, exact up to LINE_SAMPLE bytes, else estimated."""
        return _estimate_lines(b''.join(self._sample), self.offset)


# -- files, ranges and tasks -----------------------------------------------

class _File:
    """A file opened for the scan, its size fixed when it was opened."""

    def __init__(self, index, source, fd, size):
        self.index = index
        self.source = source
        self.fd = fd
        self.size = size


class _Task:
    """One unit of work: a byte range of a plain file, or a gzip file."""

    def __init__(self, task_id, item, start, end):
        self.id = task_id
        self.source_index = item.index
        self.path = item.source.path
        self.gzip = item.source.compressed
        self.fd = item.fd
        self.size = item.size
        self.start = start
        self.end = end


def _open_files(files, stats, warnings):
    """Open each file and fix its size; the first _KEEP_OPEN stay open.

    An open file is scanned as it was, even if it is rotated (renamed)
    meanwhile; beyond _KEEP_OPEN the rest are opened again by name when
    scanned, to stay clear of the open files limit.
    """
    opened = []
    for index, source in files:
        try:
            fd = _open(source.path)
            size = os.fstat(fd).st_size
        except OSError as exc:
            warnings.append(sources_mod.warning(source.path, _reason(exc)))
            continue
        if len(opened) >= _KEEP_OPEN:
            os.close(fd)
            fd = None
        stats.files += 1
        opened.append(_File(index, source, fd, size))
    return opened


def _open(path):
    return os.open(path, os.O_RDONLY | getattr(os, 'O_CLOEXEC', 0))


def _reason(exc):
    return sources_mod.error_reason(exc)


def _close(fd):
    try:
        os.close(fd)
    except OSError:
        pass


def _plan(opened, chunk_size, jobs):
    """The tasks: gzip files first (the longest), then plain ranges.

    Ranges shrink as the work left does (guided scheduling): big ones
    keep per-task costs low, small ones at the end keep one worker from
    finishing a long range alone while the others wait.
    """
    workers = max(1, jobs if jobs else _cpus())
    left = sum(item.size for item in opened if not item.source.compressed)
    tasks = []
    for item in opened:
        if item.source.compressed and item.size:
            tasks.append(_Task(len(tasks), item, 0, item.size))
    for item in opened:
        if item.source.compressed:
            continue
        start = 0
        while start < item.size:
            chunk = chunk_size or min(
                CHUNK_SIZE, max(MIN_CHUNK_SIZE, left // (4 * workers)))
            end = min(item.size, start + chunk)
            tasks.append(_Task(len(tasks), item, start, end))
            left -= end - start
            start = end
    return tasks


def _cpus():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _worker_count(jobs, total, ntasks):
    if jobs is None:
        if total < SMALL_INPUT:
            return 0
        jobs = _cpus()
    if not hasattr(os, 'fork'):
        return 0
    return max(0, min(jobs, ntasks))


def _run_task(task, needles, block, mapped, advance):
    """``(bytes, lines, hits, warnings)`` of one task (see _scan_task)."""
    if task.fd is not None:
        return _scan_task(task, task.fd, needles, block, mapped, advance)
    try:
        fd = _open(task.path)
    except OSError as exc:
        advance(task.end - task.start)
        return 0, 0, [], [sources_mod.warning(task.path, _reason(exc))]
    try:
        return _scan_task(task, fd, needles, block, mapped, advance)
    finally:
        os.close(fd)


def _scan_task(task, fd, needles, block, mapped, advance):
    """``(bytes, lines, hits, warnings)`` of one task.

    ``mapped``: search a memory map (in a worker: a file truncated under
    a map kills the process with SIGBUS, and the parent scans that range
    again by reading it).
    """
    warnings = []
    if task.gzip:
        stream = _Stream(needles)
        _scan_gzip(task, fd, stream, block, warnings, advance)
        _note_overlong(stream, task.path, warnings)
        return stream.offset, stream.lines(), stream.hits, warnings
    hits = None
    if mapped:
        hits = _scan_mapped(task, fd, needles, warnings)
    if hits is None:
        hits = _scan_read(task, fd, needles, block, warnings)
    advance(task.end - task.start)
    lines = _range_lines(task, fd)
    return task.end - task.start, lines, hits, warnings


def _range_lines(task, fd):
    """Lines of a plain file's range: exact when the file is small, else
    estimated from a sample at the range's start.

    Sampling every range, not only the file's head, follows files whose
    lines change length along the way (a service restarted with debug).
    """
    length = task.end - task.start
    if task.size <= LINE_SAMPLE:
        data = _pread(fd, length, task.start)
        return data.count(b'\n') + (task.end == task.size and bool(data)
                                    and not data.endswith(b'\n'))
    return _estimate_lines(
        _pread(fd, min(length, RANGE_SAMPLE), task.start), length)


def _pread(fd, size, offset):
    try:
        return os.pread(fd, size, offset)
    except OSError:
        return b''


def _scan_mapped(task, fd, needles, warnings):
    """Hits of the lines that start in the task's range, or None when
    the file cannot be mapped (then it is read instead)."""
    import mmap
    memmem = _memmem()
    try:
        if memmem is None:
            mapping = mmap.mmap(fd, task.size, prot=mmap.PROT_READ)
        else:
            # Copy-on-write, never written: ctypes needs a writable
            # buffer to take its address; no page is copied.
            mapping = mmap.mmap(fd, task.size, access=mmap.ACCESS_COPY)
    except (OSError, ValueError):
        # Shorter than when it was opened (truncated, copytruncate).
        warnings.append(sources_mod.warning(
            task.path, 'changed during the scan'))
        return None
    with mapping:
        start, end = task.start, task.end
        if start:
            newline = mapping.find(b'\n', start - 1, end)
            if newline < 0:
                return []
            start = newline + 1
        if end < task.size:
            newline = mapping.find(b'\n', end - 1)
            end = newline if newline >= 0 else task.size
        if memmem is None:
            spans = _matching_lines(mapping, needles, start, end)
        else:
            spans = _matching_lines_memmem(mapping, needles, start, end,
                                           memmem)
        return [(line_start, _strip_cr(mapping[line_start:line_end]))
                for line_start, line_end in spans]


def _matching_lines_memmem(mapping, needles, start, end, memmem):
    import ctypes
    anchor = ctypes.c_char.from_buffer(mapping)
    base = ctypes.addressof(anchor)

    def find(needle, pos, stop):
        if stop - pos < len(needle):
            return -1
        hit = memmem(base + pos, stop - pos, needle, len(needle))
        return hit - base if hit else -1

    try:
        return _matching_lines(mapping, needles, start, end, find)
    finally:
        del anchor              # the map cannot close while exported


_MEMMEM = []


def _memmem():
    """The C library's ``memmem``, or None where ctypes cannot reach it.

    NOTE: glibc's memmem (a Horspool search on byte pairs) scans log text
    about twice as fast as ``bytes.find`` (two-way with a 64-entry shift
    table, which hex-heavy logs defeat): 0.12 against 0.23 s/GB here, the
    difference between matching ``grep -F`` and beating it.
    """
    if not _MEMMEM:
        func = None
        try:
            import ctypes
            func = ctypes.CDLL(None).memmem
            func.restype = ctypes.c_void_p
            func.argtypes = (ctypes.c_void_p, ctypes.c_size_t,
                             ctypes.c_char_p, ctypes.c_size_t)
        except (ImportError, OSError, AttributeError):
            func = None
        _MEMMEM.append(func)
    return _MEMMEM[0]


def _scan_read(task, fd, needles, block, warnings):
    """Hits of the lines that start in the task's range, by reading.

    Reads into one reused buffer: a fresh 1 MiB ``bytes`` per read costs
    as much in page faults as the search itself.
    """
    skip = bool(task.start) and _pread(fd, 1, task.start - 1) != b'\n'
    stream = _Stream(needles, task.start, skip, sample=False)
    buffer = bytearray(block)
    pos = task.start
    try:
        while pos < task.end:
            want = min(block, task.end - pos)
            view = buffer if want == block else memoryview(buffer)[:want]
            size = os.preadv(fd, [view], pos)
            if not size:
                warnings.append(sources_mod.warning(
                    task.path, 'changed during the scan'))
                break
            stream.feed(buffer, size)
            pos += size
        while stream.pending:
            # Finish the line that starts in range and ends past it.
            size = os.preadv(fd, [buffer], pos)
            if not size:
                break
            newline = buffer.find(b'\n', 0, size)
            if newline >= 0:
                size = newline + 1
            stream.feed(buffer, size)
            pos += size
    except OSError as exc:
        warnings.append(sources_mod.warning(task.path, _reason(exc)))
    stream.close()
    _note_overlong(stream, task.path, warnings)
    return stream.hits


def _note_overlong(stream, path, warnings):
    if stream.overlong:
        warnings.append(sources_mod.warning(
            path, '%d line%s longer than %d bytes skipped'
            % (stream.overlong, '' if stream.overlong == 1 else 's',
               MAX_LINE)))


def _scan_gzip(task, fd, stream, block, warnings, advance):
    """Decompress one gzip file (every member) into ``stream``.

    Output is taken ``block`` bytes at a time, so a small file that
    inflates to gigabytes does not fill memory. A truncated or damaged
    file keeps what was read before the damage, with one warning.
    """
    decomp = zlib.decompressobj(31)
    started = False             # the current member has had input
    data = b''
    pos = 0
    try:
        while True:
            if not data:
                data = os.pread(fd, _GZIP_IN, pos)
                if not data:
                    break
                pos += len(data)
                advance(len(data))
            if not started:
                data = data.lstrip(b'\x00')     # padding between members
                if not data:
                    continue
                started = True
            stream.feed(decomp.decompress(data, block))
            if decomp.eof:
                data = decomp.unused_data
                decomp = zlib.decompressobj(31)
                started = False
            else:
                data = decomp.unconsumed_tail
        if started:
            stream.feed(decomp.flush())
            if not decomp.eof:
                warnings.append(sources_mod.warning(
                    task.path, 'truncated gzip file, read up to the cut'))
    except zlib.error:
        warnings.append(sources_mod.warning(
            task.path, 'damaged gzip data at byte %d of its text, the rest '
                       'skipped' % stream.offset))
    except OSError as exc:
        warnings.append(sources_mod.warning(task.path, _reason(exc)))
    advance(max(0, task.size - pos))
    stream.close()


# -- streams: stdin, pipes, the journal ------------------------------------

def _scan_stream_source(index, source, needles, block, stdin, found,
                        stats, warnings):
    stream = _Stream(needles)
    if source.path == sources_mod.STDIN:
        handle = stdin if stdin is not None else sys.stdin.buffer
        stats.files += 1
        _read_into(handle, stream, block, source.path, warnings)
    elif source.path == sources_mod.JOURNAL and source.sniffed == 'journal':
        if not _scan_journal(needles, stream, block, warnings):
            return
        stats.files += 1
    else:
        try:
            handle = open(source.path, 'rb', buffering=0)  # noqa: SIM115
        except OSError as exc:
            warnings.append(sources_mod.warning(source.path, _reason(exc)))
            return
        stats.files += 1
        with handle:
            _read_into(handle, stream, block, source.path, warnings)
    stream.close()
    _note_overlong(stream, source.path, warnings)
    _collect(found, index, stream.hits)
    stats.bytes += stream.offset
    stats.lines += stream.lines()


def _read_into(handle, stream, block, path, warnings):
    buffer = bytearray(block)
    readinto = getattr(handle, 'readinto', None)
    try:
        while True:
            if readinto is not None:
                size = readinto(buffer)
                data = buffer
            else:
                data = handle.read(block)
                size = len(data)
            if not size:
                return
            stream.feed(data, size)
    except OSError as exc:
        warnings.append(sources_mod.warning(path, _reason(exc)))


def _scan_journal(needles, stream, block, warnings):
    """Feed ``journalctl -o json`` output to ``stream``; False if none.

    ``--grep`` (journalctl's own PCRE2 filter on the message) is tried
    first and dropped when that journalctl cannot do it.
    """
    import subprocess  # noqa: S404
    base = ['journalctl', '-o', 'json', '--no-pager']
    attempts = [base]
    try:
        pattern = '|'.join(_pcre_literal(needle.decode('ascii'))
                           for needle in needles)
        attempts.insert(0, base + ['--grep=' + pattern])
    except UnicodeDecodeError:
        pass
    error = ''
    for args in attempts:
        try:
            proc = subprocess.Popen(  # noqa: S603
                args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE)
        except OSError as exc:
            warnings.append(sources_mod.warning(
                sources_mod.JOURNAL, 'cannot run journalctl: %s'
                % _reason(exc)))
            return False
        with proc:
            before = stream.offset
            _read_into(proc.stdout, stream, block, sources_mod.JOURNAL,
                       warnings)
            error = proc.stderr.read().decode('utf-8', 'replace').strip()
            code = proc.wait()
        if code == 0 or stream.offset > before or (code == 1 and not error):
            # journalctl --grep answers 1, saying nothing, for no match.
            return True
    warnings.append(sources_mod.warning(
        sources_mod.JOURNAL, 'journalctl failed: %s'
        % (error.splitlines()[-1] if error else 'exit status %d' % code)))
    return False


def _pcre_literal(text):
    # A backslash before any non-alphanumeric character makes it literal
    # in PCRE2; ids need none.
    return ''.join(char if char.isalnum() or char in '-_' else '\\' + char
                   for char in text)


# -- worker processes ------------------------------------------------------

def _pool(tasks, workers, needles, block, advance, warnings):
    """Run ``tasks`` in forked workers; return {task id: result}.

    Workers take task ids from one pipe (whoever is free takes the next),
    and send back progress, the task they start and its result. Tasks of
    a worker that died or failed are left out: the caller runs them
    again in this process.
    """
    import marshal
    import selectors
    import struct
    results = {}
    ids = b''.join(task.id.to_bytes(_ID_BYTES, 'little') for task in tasks)
    task_r, task_w = os.pipe()
    os.set_blocking(task_w, False)
    ids = _write_ids(task_w, ids)
    readers = {}                # fd -> [pid, buffer, task in progress]
    selector = selectors.DefaultSelector()
    try:
        for _ in range(workers):
            result_r, result_w = os.pipe()
            try:
                pid = os.fork()
            except OSError:
                os.close(result_r)
                os.close(result_w)
                break
            if pid == 0:        # the worker
                code = 1
                try:
                    os.close(task_w)
                    os.close(result_r)
                    for fd in readers:
                        os.close(fd)
                    _worker(tasks, task_r, result_w, needles, block,
                            marshal, struct)
                    code = 0
                except BaseException as exc:
                    try:
                        _send(result_w, b'X', ('%s: %s' % (
                            type(exc).__name__, exc)).encode(), struct)
                    except BaseException:   # noqa: S110
                        pass
                finally:
                    os._exit(code)
            os.close(result_w)
            readers[result_r] = [pid, bytearray(), None]
            selector.register(result_r, selectors.EVENT_READ)
        os.close(task_r)
        task_r = None
        if ids and readers:
            selector.register(task_w, selectors.EVENT_WRITE)
        else:
            os.close(task_w)
            task_w = None
        while readers:
            for key, _ in selector.select():
                fd = key.fd
                if fd == task_w:
                    try:
                        ids = _write_ids(task_w, ids)
                    except BrokenPipeError:
                        ids = b''
                    if not ids:
                        selector.unregister(task_w)
                        os.close(task_w)
                        task_w = None
                    continue
                data = os.read(fd, 1 << 20)
                state = readers[fd]
                if data:
                    state[1] += data
                    _messages(state, tasks, results, advance, warnings,
                              marshal, struct)
                    continue
                selector.unregister(fd)
                os.close(fd)
                del readers[fd]
                _reap(state, tasks, warnings)
    finally:
        for fd in (task_r, task_w):
            if fd is not None:
                _close(fd)
        for fd, state in readers.items():
            _close(fd)
            _kill(state[0])
        selector.close()
    return results


def _write_ids(fd, ids):
    """Write as many whole task ids as the pipe takes; return the rest."""
    step = _ID_BYTES * _IDS_PER_WRITE
    while ids:
        try:
            written = os.write(fd, ids[:step])
        except BlockingIOError:
            break
        ids = ids[written:]
    return ids


def _worker(tasks, task_r, out, needles, block, marshal, struct):
    import faulthandler
    # NOTE: SIGBUS (a file truncated under the map) is expected here and
    # handled by the parent; a traceback dump would only alarm the user.
    faulthandler.disable()

    def advance(nbytes):
        _send(out, b'P', nbytes.to_bytes(8, 'little'), struct)

    while True:
        raw = os.read(task_r, _ID_BYTES)
        if len(raw) < _ID_BYTES:
            return
        task_id = int.from_bytes(raw, 'little')
        _send(out, b'S', raw, struct)
        result = _run_task(tasks[task_id], needles, block, True, advance)
        _send(out, b'R', marshal.dumps((task_id,) + tuple(result)), struct)


def _send(fd, kind, payload, struct):
    view = memoryview(struct.pack('<cQ', kind, len(payload)) + payload)
    while view:
        view = view[os.write(fd, view):]


def _messages(state, tasks, results, advance, warnings, marshal, struct):
    buffer = state[1]
    pos = 0
    while len(buffer) - pos >= _HEADER:
        kind, length = struct.unpack_from('<cQ', buffer, pos)
        if len(buffer) - pos - _HEADER < length:
            break
        payload = bytes(buffer[pos + _HEADER:pos + _HEADER + length])
        pos += _HEADER + length
        if kind == b'P':
            advance(int.from_bytes(payload, 'little'))
        elif kind == b'S':
            state[2] = int.from_bytes(payload, 'little')
        elif kind == b'R':
            task_id, nbytes, lines, hits, task_warnings = marshal.loads(
                payload)
            results[task_id] = (nbytes, lines, hits, task_warnings)
            state[2] = None
        elif kind == b'X':
            warnings.append('%s: warning: scan worker failed (%s); its part '
                            'was scanned again'
                            % (sources_mod.PROG,
                               payload.decode('utf-8', 'replace')))
    del buffer[:pos]


def _reap(state, tasks, warnings):
    try:
        _, status = os.waitpid(state[0], 0)
    except ChildProcessError:
        return
    code = os.waitstatus_to_exitcode(status)
    if code >= 0 or state[2] is None:
        return
    import signal
    task = tasks[state[2]]
    if code == -signal.SIGBUS:
        warnings.append(sources_mod.warning(task.path,
                                            'changed during the scan'))
    else:
        warnings.append('%s: warning: scan worker killed by signal %d; its '
                        'part was scanned again' % (sources_mod.PROG, -code))


def _kill(pid):
    import signal
    try:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
    except OSError:
        pass


# -- progress ----------------------------------------------------------------

class Progress:
    """A one-line progress bar for long scans, on a terminal only.

    Draws on ``stream`` (default stderr) when it is a TTY and the scan
    covers more than ``threshold`` bytes, at most once per ``interval``
    seconds, and erases itself at the end. On a pipe or a file it never
    writes anything.
    """

    width = 30

    def __init__(self, stream=None, threshold=PROGRESS_MIN_BYTES,
                 interval=0.1):
        self.stream = stream if stream is not None else sys.stderr
        self.threshold = threshold
        self.interval = interval
        self.total = 0
        self._on = False
        self._drawn = False
        self._last = 0.0

    def start(self, total):
        """A scan of ``total`` bytes begins."""
        self.total = total
        self._on = total > self.threshold and _isatty(self.stream)
        self._last = time.monotonic()

    def update(self, done):
        """``done`` bytes of ``total`` are scanned."""
        if not self._on:
            return
        now = time.monotonic()
        if now - self._last < self.interval:
            return
        self._last = now
        fraction = min(1.0, done / self.total)
        filled = int(fraction * self.width)
        self.stream.write('\rscanning [%s%s] %3d%% %d/%d MB' % (
            '#' * filled, '.' * (self.width - filled), fraction * 100,
            done // 1000000, self.total // 1000000))
        self.stream.flush()
        self._drawn = True

    def finish(self):
        """The scan is over: erase the bar (it may start again)."""
        if self._drawn:
            self.stream.write('\r\x1b[K')
            self.stream.flush()
            self._drawn = False
        self._on = False

    close = finish


def _isatty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False
