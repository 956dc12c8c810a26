"""Where events go: a JSON-lines file per process, a logger, or nowhere.

Every sink writes through :func:`global_reqid.events.schema.to_json`, the
one serializer, so redaction cannot be skipped. The file sink serializes
and writes on a background thread: ``emit`` on the request thread is a
bounded queue append that never waits on the disk and never raises.
"""

import atexit
import collections
import errno
import gzip
import logging
import os
import re
import shutil
import socket
import threading
import time
import weakref

from global_reqid.events import schema

#: Logger of the ``log`` sink. The file sink's own warnings go to a child
#: logger, ``global_reqid.events.sinks``.
LOGGER_NAME = 'global_reqid.events'
#: Sink names accepted by :func:`make_sinks` (the ``event_sinks`` option).
SINK_NAMES = ('file', 'log', 'none')
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_BACKUP_COUNT = 5
DEFAULT_QUEUE_SIZE = 10000
#: Attribute set on each record of the ``log`` sink: the event's JSON line.
LOG_RECORD_ATTRIBUTE = 'global_reqid_event'

LOG = logging.getLogger(__name__)

_UNSAFE_NAME = re.compile(r'[^A-Za-z0-9._-]', re.ASCII)
# Lines are gathered into writes of at most this size: few syscalls under
# load, bounded memory, and files that overshoot max_bytes by nothing.
_CHUNK_BYTES = 256 * 1024

# Sinks whose writer has started, reset in a forked child. The fork hook is
# registered on the first start, never at import.
_live = weakref.WeakSet()
_fork_hook = {'registered': False, 'lock': threading.Lock()}


def _safe_name(value):
    return _UNSAFE_NAME.sub('_', str(value)) or 'unknown'


def _track(sink):
    with _fork_hook['lock']:
        if not _fork_hook['registered']:
            os.register_at_fork(after_in_child=_after_fork_in_child)
            _fork_hook['registered'] = True
        _live.add(sink)


def _after_fork_in_child():
    # Another thread of the parent may have held this lock at fork time.
    _fork_hook['lock'] = threading.Lock()
    for sink in list(_live):
        sink._after_fork()


class FileSink:
    """One JSON-lines file per process, written by a background thread.

    The file is ``<directory>/<service>.<host>.<pid>.jsonl``. ``emit`` puts
    the event on a queue of at most ``queue_size`` events (counting those
    being written) and returns at once; a full queue drops the event. The
    writer rotates the file before a write that would make it larger than
    ``max_bytes`` (0: never) keeping ``backup_count`` files (``.1`` the
    newest; gzipped to ``.1.gz`` when ``compress``). An I/O error drops the
    events being written; the first of a streak is logged at WARNING, the
    file is reopened on a later event at most every ``RETRY_INTERVAL``
    seconds, and the recovery is logged at INFO.

    ``stats()`` counts: ``emitted`` (calls to ``emit``), ``written``,
    ``dropped_queue_full``, ``dropped_io``, ``dropped_invalid`` (events
    ``to_json`` could not serialize), ``io_errors`` (failed attempts to
    open, rotate or write) and ``queued``; ``emitted`` is always the sum
    of written, the three drops and queued.
    """

    RETRY_INTERVAL = 1.0

    def __init__(self, directory, service, host=None, pid=None,
                 max_bytes=DEFAULT_MAX_BYTES,
                 backup_count=DEFAULT_BACKUP_COUNT, compress=False,
                 queue_size=DEFAULT_QUEUE_SIZE):
        if max_bytes < 0 or backup_count < 0 or queue_size < 1:
            raise ValueError(
                'max_bytes and backup_count must be >= 0 and queue_size '
                '>= 1 (got %r, %r, %r)' % (max_bytes, backup_count,
                                          queue_size))
        self.directory = os.path.abspath(directory)
        self.service = _safe_name(service)
        if host is None:
            host = socket.gethostname().split('.', 1)[0]
        self.host = _safe_name(host)
        self.max_bytes = max_bytes
        self.backup_count = backup_count
        self.compress = compress
        self.queue_size = queue_size
        self._atexit_registered = False
        self._reset(os.getpid() if pid is None else pid)

    def _reset(self, pid):
        """Fresh queue, lock, counters and writer state (init, fork)."""
        self.pid = pid
        self._owner = os.getpid()
        self.path = os.path.join(self.directory, '%s.%s.%d.jsonl' % (
            self.service, self.host, pid))
        self._lock = threading.Lock()
        self._has_work = threading.Condition(self._lock)
        self._progress = threading.Condition(self._lock)
        self._pending = collections.deque()
        self._thread = None
        self._idle = False
        self._stopping = False
        self._accepted = 0
        self._done = 0
        self._written = 0
        self._dropped_full = 0
        self._dropped_io = 0
        self._dropped_invalid = 0
        self._io_errors = 0
        self._full_since = None
        # Writer thread only, from here.
        self._fd = None
        self._size = 0
        self._newline_needed = False
        self._failing = False
        self._retry_at = 0.0
        self._streak_dropped = 0
        self._invalid_logged = False

    def _after_fork(self):
        # NOTE: prefork servers load the app, and so may start this sink,
        # before forking. The child must not share the parent's queue,
        # lock (perhaps held by the parent's writer at fork time) or file:
        # it starts over, named after its own pid.
        fd = self._fd
        self._reset(os.getpid())
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def emit(self, event):
        """Queue ``event`` for writing; False if dropped. Never blocks."""
        try:
            if self._thread is None:
                self._start()
            with self._lock:
                if self._accepted - self._done < self.queue_size:
                    self._pending.append(event)
                    self._accepted += 1
                    if self._idle:
                        self._idle = False
                        self._has_work.notify()
                    return True
                self._dropped_full += 1
                first = self._full_since is None
                if first:
                    self._full_since = self._dropped_full - 1
            if first:
                LOG.warning('Event queue for %s is full (%d events); '
                            'dropping events until the writer catches up',
                            self.path, self.queue_size)
            return False
        except Exception:
            return False

    def _start(self):
        with _fork_hook['lock']:
            if self._owner != os.getpid():
                # Built before a fork and never started there: only the
                # name is the parent's.
                self._reset(os.getpid())
        with self._lock:
            if self._thread is not None:
                return
            thread = threading.Thread(
                target=self._run, name='global-reqid-events-%s' % (
                    self.service), daemon=True)
            self._thread = thread
            if not self._atexit_registered:
                atexit.register(self._at_exit)
                self._atexit_registered = True
        _track(self)
        # A thread that cannot start (interpreter shutdown) leaves events
        # queued, then dropped as queue full: visible in stats().
        thread.start()

    def _at_exit(self):
        self.close()

    def flush(self, timeout=5.0):
        """Wait until every event emitted so far is written or dropped.

        Return False if that did not happen within ``timeout`` seconds
        (None: wait as long as it takes).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            target = self._accepted
            while self._done < target:
                if deadline is None:
                    self._progress.wait()
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._progress.wait(remaining)
        return True

    def close(self, timeout=5.0):
        """Flush, stop the writer and close the file; True if flushed.

        A later ``emit`` starts a writer again.
        """
        flushed = self.flush(timeout)
        with self._lock:
            thread = self._thread
            if thread is not None:
                self._stopping = True
                self._has_work.notify_all()
        if (thread is not None and thread.is_alive()
                and thread is not threading.current_thread()):
            thread.join(timeout)
        with self._lock:
            if self._thread is thread and (
                    thread is None or not thread.is_alive()):
                self._thread = None
                self._stopping = False
        if self._atexit_registered:
            atexit.unregister(self._at_exit)
            self._atexit_registered = False
        return flushed

    def stats(self):
        """Counts of events by fate (see the class docstring)."""
        with self._lock:
            return {
                'emitted': self._accepted + self._dropped_full,
                'written': self._written,
                'dropped_queue_full': self._dropped_full,
                'dropped_io': self._dropped_io,
                'dropped_invalid': self._dropped_invalid,
                'io_errors': self._io_errors,
                'queued': self._accepted - self._done,
            }

    # The writer thread.

    def _run(self):
        while True:
            batch, done_before, dropped_while_full = self._next_batch()
            if batch is None:
                return
            if dropped_while_full is not None:
                LOG.info('Event queue for %s has room again; %d dropped '
                         'while it was full', self.path, dropped_while_full)
            if not batch:
                continue
            size = len(batch)
            try:
                self._drain(batch)
            except Exception:
                LOG.exception('Unexpected error writing events to %s',
                              self.path)
                with self._lock:
                    lost = size - (self._done - done_before)
                self._count(dropped_io=lost)

    def _next_batch(self):
        """Wait for events; (None, ...) when it is time to stop."""
        with self._lock:
            while not self._pending:
                if self._full_since is not None:
                    dropped = self._dropped_full - self._full_since
                    self._full_since = None
                    return (), self._done, dropped
                if self._stopping:
                    self._close_fd()
                    self._thread = None
                    self._stopping = False
                    return None, None, None
                self._idle = True
                self._has_work.wait()
            self._idle = False
            batch = self._pending
            self._pending = collections.deque()
            return batch, self._done, None

    def _drain(self, batch):
        if self._fd is None and not self._backing_off():
            try:
                self._open()
            except OSError as exc:
                self._failed(exc, 0)
        chunk = []
        size = 0
        while batch:
            event = batch.popleft()
            try:
                # NOTE: lone surrogates (WSGI paths decoded with
                # surrogateescape) can only sit inside JSON strings, where
                # backslashreplace turns them into valid \uXXXX escapes.
                line = schema.to_json(event).encode(
                    'utf-8', 'backslashreplace') + b'\n'
            except Exception as exc:
                self._invalid(exc)
                continue
            if chunk and (size + len(line) > _CHUNK_BYTES or (
                    self.max_bytes and
                    self._size + size + len(line) > self.max_bytes)):
                self._write(chunk, size)
                chunk = []
                size = 0
            chunk.append(line)
            size += len(line)
        if chunk:
            self._write(chunk, size)

    def _backing_off(self):
        return self._failing and time.monotonic() < self._retry_at

    def _write(self, lines, size):
        count = len(lines)
        if self._fd is None and self._backing_off():
            self._streak_dropped += count
            self._count(dropped_io=count)
            return
        try:
            if self._fd is None:
                self._open()
            if (self.max_bytes and self._size
                    and self._size + size > self.max_bytes):
                self._rotate()
            data = b''.join(lines)
            if self._newline_needed:
                # The previous write stopped mid-line and could not be
                # undone: end that line so this one starts clean.
                data = b'\n' + data
            self._write_all(data)
        except OSError as exc:
            self._failed(exc, count)
            return
        self._newline_needed = False
        if self._failing:
            self._failing = False
            LOG.info('Writing events to %s again; %d dropped while it '
                     'failed', self.path, self._streak_dropped)
            self._streak_dropped = 0
        self._count(written=count)

    def _write_all(self, data):
        start = self._size
        view = memoryview(data)
        try:
            while view:
                written = os.write(self._fd, view)
                if not written:
                    raise OSError(errno.EIO, os.strerror(errno.EIO))
                view = view[written:]
                self._size += written
        except OSError:
            if self._size != start:
                try:
                    os.ftruncate(self._fd, start)
                    self._size = start
                except OSError:
                    self._newline_needed = True
            raise

    def _open(self):
        os.makedirs(self.directory, mode=0o750, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT
                     | os.O_CLOEXEC, 0o640)
        try:
            size = os.fstat(fd).st_size
            # A file left by a write cut short (a crash, a full disk) ends
            # mid-line.
            partial = size > 0 and os.pread(fd, 1, size - 1) != b'\n'
        except OSError:
            os.close(fd)
            raise
        self._fd = fd
        self._size = size
        self._newline_needed = partial

    def _close_fd(self):
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def _rotate(self):
        self._close_fd()
        base = self.path
        if self.backup_count:
            for index in range(self.backup_count, 0, -1):
                for ext in ('', '.gz'):
                    src = '%s.%d%s' % (base, index, ext)
                    if index == self.backup_count:
                        _remove(src)
                    else:
                        _replace(src, '%s.%d%s' % (base, index + 1, ext))
            _replace(base, base + '.1')
        else:
            _remove(base)
        self._open()
        if self.compress and self.backup_count:
            self._gzip(base + '.1')

    def _gzip(self, src):
        dst = src + '.gz'
        # A leading dot and a suffix keep readers off the partial file.
        tmp = os.path.join(self.directory,
                           '.%s.tmp' % os.path.basename(dst))
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC
                         | os.O_CLOEXEC, 0o640)
            with open(src, 'rb') as plain, open(fd, 'wb') as raw, \
                    gzip.GzipFile(os.path.basename(src), 'wb', 6,
                                  raw) as packed:
                shutil.copyfileobj(plain, packed, 1024 * 1024)
            os.replace(tmp, dst)
            os.unlink(src)
        except OSError as exc:
            _remove(tmp)
            self._count(io_errors=1)
            LOG.warning('Cannot compress %s: [Errno %s] %s; kept '
                        'uncompressed', src, exc.errno, exc.strerror)

    def _failed(self, exc, count):
        self._close_fd()
        self._retry_at = time.monotonic() + self.RETRY_INTERVAL
        self._streak_dropped += count
        self._count(dropped_io=count, io_errors=1)
        if not self._failing:
            self._failing = True
            LOG.warning('Cannot write events to %s: [Errno %s %s] %s; '
                        'dropping events, retrying every %gs', self.path,
                        exc.errno, errno.errorcode.get(exc.errno, '?'),
                        exc.strerror, self.RETRY_INTERVAL)

    def _invalid(self, exc):
        self._count(dropped_invalid=1)
        if not self._invalid_logged:
            self._invalid_logged = True
            LOG.warning('Cannot serialize an event for %s (%s: %s); '
                        'dropped, further ones only counted', self.path,
                        type(exc).__name__, exc)

    def _count(self, written=0, dropped_io=0, dropped_invalid=0,
               io_errors=0):
        with self._lock:
            self._written += written
            self._dropped_io += dropped_io
            self._dropped_invalid += dropped_invalid
            self._io_errors += io_errors
            self._done += written + dropped_io + dropped_invalid
            self._progress.notify_all()


def _remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _replace(src, dst):
    try:
        os.replace(src, dst)
    except FileNotFoundError:
        pass


class LogSink:
    """Every event as one record on a Python logger.

    The record's message is the event's JSON line (format ``'%s'``, the
    line as its argument, so no ``%`` in it is ever interpreted) and the
    same line is the record's ``global_reqid_event`` attribute, so a
    handler or filter can tell event records from the file sink's own
    warnings on the same logger. Serialization happens on the calling
    thread, and only when the logger is enabled for ``level``.
    """

    def __init__(self, logger=LOGGER_NAME, level=logging.INFO):
        if isinstance(logger, str):
            logger = logging.getLogger(logger)
        self.logger = logger
        self.level = level

    def emit(self, event):
        """Log ``event``; False if not logged. Never raises."""
        try:
            if not self.logger.isEnabledFor(self.level):
                return False
            line = schema.to_json(event)
            self.logger.log(self.level, '%s', line,
                            extra={LOG_RECORD_ATTRIBUTE: line})
            return True
        except Exception:
            return False


class NoneSink:
    """Discards every event."""

    def emit(self, event):
        """Discard ``event``."""
        return True


def make_sinks(names, *, service, directory, max_bytes=DEFAULT_MAX_BYTES,
               backup_count=DEFAULT_BACKUP_COUNT, compress=False,
               queue_size=DEFAULT_QUEUE_SIZE):
    """The sinks named in ``names`` (a list or a comma-separated string).

    Raise ValueError for an unknown name or for ``none`` with another.
    """
    if isinstance(names, str):
        names = names.split(',')
    wanted = []
    for name in names:
        name = name.strip()
        if not name:
            continue
        if name not in SINK_NAMES:
            raise ValueError('unknown sink %r; valid sinks: %s' % (
                name, ', '.join(SINK_NAMES)))
        if name not in wanted:
            wanted.append(name)
    if 'none' in wanted and len(wanted) > 1:
        raise ValueError("'none' cannot be combined with other sinks "
                         "(got: %s)" % ', '.join(wanted))
    made = []
    for name in wanted:
        if name == 'file':
            made.append(FileSink(
                directory, service, max_bytes=max_bytes,
                backup_count=backup_count, compress=compress,
                queue_size=queue_size))
        elif name == 'log':
            made.append(LogSink())
        else:
            made.append(NoneSink())
    return made
