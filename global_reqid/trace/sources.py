"""Where ``global-reqid-trace`` looks: paths in, an ordered list of sources.

:func:`expand` turns what the user named (events directories, log files,
directories, glob patterns, ``-`` for stdin, the local journal) into
:class:`Source` objects, each sniffed from its first few KB (gzip on its
decompressed head) so that binary files are skipped with a warning and
the parser knows what to expect. Problems (a missing path, a file that
cannot be read) are warnings; the rest goes on.

Order is the order given, except that the rotated files of one log sit
together where the first of them appeared, oldest first (``.3.gz``,
``.2``, ``.1``, then the live file), so lines come out in time order.

Only the standard library is imported here: the command's ``--help``
must stay fast.
"""

import glob
import os
import re
import stat
import zlib

PROG = 'global-reqid-trace'

#: ``Source.role`` values.
ROLE_EVENTS = 'events'
ROLE_LOGS = 'logs'

#: ``Source.path`` of standard input and of the local systemd journal.
STDIN = '-'
JOURNAL = 'journal'

#: What :func:`sniff` can tell.
SNIFFED = ('events', 'json', 'journal', 'oslo', 'access', 'text', 'binary')

#: Bytes of a file's (decompressed) head looked at by :func:`sniff`.
SNIFF_BYTES = 8192
# A gzip head this long holds far more than SNIFF_BYTES of text.
_SNIFF_GZIP_IN = 65536

_GZIP_MAGIC = b'\x1f\x8b'
# Other compressions a log may have been rotated with; named in the
# warning because the fix (decompress first) is obvious once named.
_OTHER_MAGIC = (
    (b'BZh', 'bzip2'), (b'\xfd7zXZ\x00', 'xz'),
    (b'\x28\xb5\x2f\xfd', 'zstd'), (b'\x04\x22\x4d\x18', 'lz4'),
    (b'PK\x03\x04', 'zip'),
)
# Names that are never logs, skipped when walking a directory.
_NOT_LOGS = ('.pid', '.sock', '.lock', '.swp', '.tmp')

# A rotated log: the live name, then ``.N`` or ``-YYYYMMDD[HH]``, maybe
# ``.gz``.
_ROTATED = re.compile(
    r'(?P<base>.+?)(?:\.(?P<num>[0-9]+)|-(?P<date>[0-9]{8}(?:[0-9]{2})?))?'
    r'(?P<gz>\.gz)?', re.DOTALL)

# oslo.log's default text line: "2026-11-23 17:18:47.737 11117 INFO name".
_OSLO = re.compile(
    rb'[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}'
    rb'(?:[.,][0-9]+)?(?:Z|[+-][0-9:]{2,5})? +[0-9]+ +'
    rb'(?:TRACE|DEBUG|INFO|AUDIT|WARNING|WARN|ERROR|CRITICAL|FATAL)\b')
# An access log line: '"GET /v2/images HTTP/1.1" 200'.
_ACCESS = re.compile(rb'"[A-Z]{3,10} [^" ]+ HTTP/[0-9.]+" [0-9]{3}\b')
_EVENT_KIND = re.compile(rb'"kind": ?"(?:server|client)"')
_EVENT_VERSION = re.compile(rb'"v": ?[0-9]')
_JOURNAL_FIELD = re.compile(rb'"(?:__CURSOR|__REALTIME_TIMESTAMP)": ?"')
# Control bytes that text files do hold: tab, newline, form feed, CR, ESC.
_TEXT_CONTROLS = frozenset(b'\t\n\x0c\r\x1b')


class Source:
    """One thing to scan: a file, standard input or the local journal.

    ``path``: as given or found, ``-`` for stdin, ``journal``; ``role``:
    ``events`` or ``logs``; ``compressed``: gzip; ``sniffed``: one of
    :data:`SNIFFED`; ``size``: bytes on disk, None for streams.
    """

    # NOTE: a slotted class, not a dataclass: dataclasses (with inspect)
    # costs ~10 ms of import on every run of the command.
    __slots__ = ('path', 'role', 'compressed', 'sniffed', 'size')

    def __init__(self, path, role, compressed, sniffed, size):
        self.path = path
        self.role = role
        self.compressed = compressed
        self.sniffed = sniffed
        self.size = size

    def _key(self):
        return (self.path, self.role, self.compressed, self.sniffed,
                self.size)

    def __eq__(self, other):
        if not isinstance(other, Source):
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None

    def __repr__(self):
        return 'Source(%s)' % ', '.join(
            '%s=%r' % (name, getattr(self, name)) for name in self.__slots__)


def warning(path, reason):
    """The one-line warning about ``path`` that the command prints."""
    return '%s: warning: %s: %s' % (PROG, _show(path), reason)


def _show(path):
    # NOTE: a file name can hold a newline or terminal escapes; it must
    # not forge or hide output lines.
    return path if path.isprintable() else repr(path)


def default_event_dirs():
    """The events directories to read when none is named.

    ``$GLOBAL_REQID_EVENTS`` when set, else the default ``event_dir`` of
    the options when that directory exists, else none.
    """
    from global_reqid.events import locations
    value = os.environ.get(locations.EVENT_DIR_ENV)
    if value:
        return [value]
    if os.path.isdir(locations.DEFAULT_EVENT_DIR):
        return [locations.DEFAULT_EVENT_DIR]
    return []


def expand(events=(), logs=(), paths=(), journal=False):
    """Resolve named sources into ``(sources, warnings)``.

    ``events``: events directories (their files in
    :func:`~global_reqid.events.reader.events_files` order) or files.
    ``logs``: files, directories (walked recursively; binary files and
    names such as ``*.pid`` or ``*.sock`` left out), glob patterns
    (``**`` allowed) and ``-``. ``paths``: the command's positional
    sources: ``-`` is stdin, a directory holding events files is an events
    directory and any other a logs directory, a file is sniffed.
    ``journal``: add the local systemd journal. A path named twice (same
    real path) is kept once, where it first appeared.
    """
    found = _Found()
    for path in events:
        found.add(path, ROLE_EVENTS)
    for path in logs:
        found.add(path, ROLE_LOGS)
    for path in paths:
        found.add(path, None)
    if journal:
        found.keep(JOURNAL, JOURNAL,
                   Source(JOURNAL, ROLE_LOGS, False, 'journal', None))
    return _rotation_order(found.sources), found.warnings


class _Found:
    """Sources gathered so far, de-duplicated, and the warnings."""

    def __init__(self):
        self.sources = []
        self.warnings = []
        self._seen = set()

    def warn(self, path, reason):
        self.warnings.append(warning(path, reason))

    def keep(self, key, path, source):
        if key not in self._seen:
            self._seen.add(key)
            self.sources.append(source)

    def add(self, path, role):
        """Add what one named path stands for (``role`` None: guess)."""
        path = os.fspath(path)
        if path == STDIN:
            self.keep(STDIN, STDIN,
                      Source(STDIN, ROLE_LOGS, False, 'text', None))
            return
        try:
            info = os.stat(path)
        except OSError as exc:
            if not glob.has_magic(path):
                self.warn(path, error_reason(exc))
                return
            info = None
        if info is None:
            matches = sorted(glob.glob(path, recursive=True))
            if not matches:
                self.warn(path, 'no such file or directory')
            for match in matches:
                self.add(match, role)
        elif stat.S_ISDIR(info.st_mode):
            self._directory(path, role)
        else:
            self._file(path, role, info, named=True)

    def _directory(self, path, role):
        if role != ROLE_LOGS:
            # Lazily: the reader module imports json and gzip.
            from global_reqid.events import reader
            try:
                files = list(reader.events_files(path))
            except OSError as exc:
                self.warn(path, error_reason(exc))
                return
            if files or role == ROLE_EVENTS:
                for name in files:
                    self._named_file(name, ROLE_EVENTS)
                return
        binary = 0
        for dirpath, dirnames, filenames in os.walk(
                path, onerror=lambda exc: self.warn(
                    exc.filename or path, error_reason(exc))):
            dirnames.sort()
            for name in sorted(filenames):
                if name.endswith(_NOT_LOGS):
                    continue
                full = os.path.join(dirpath, name)
                try:
                    info = os.stat(full)
                except OSError:
                    continue     # gone, or a dangling link: not a log
                if stat.S_ISREG(info.st_mode):
                    binary += not self._file(full, role, info, named=False)
        if binary:
            self.warn(path, '%d binary file%s skipped'
                      % (binary, '' if binary == 1 else 's'))

    def _named_file(self, path, role):
        try:
            info = os.stat(path)
        except OSError as exc:
            self.warn(path, error_reason(exc))
            return
        self._file(path, role, info, named=True)

    def _file(self, path, role, info, named):
        """Add one file; False when it was skipped as binary."""
        key = os.path.realpath(path)
        if key in self._seen:
            return True
        if path in (STDIN, JOURNAL):
            path = os.path.join(os.curdir, path)
        if not stat.S_ISREG(info.st_mode):
            if stat.S_ISFIFO(info.st_mode) or stat.S_ISCHR(info.st_mode):
                # A pipe such as <(ssh host cat log): read as a stream.
                self.keep(key, path, Source(path, role or ROLE_LOGS, False,
                                            'text', None))
            else:
                self.warn(path, 'not a regular file')
            return True
        try:
            compressed, sniffed, other = sniff(path)
        except OSError as exc:
            self.warn(path, error_reason(exc))
            return True
        if sniffed == 'binary':
            if named:
                self.warn(path, 'binary file (%s), skipped'
                          % (other or 'not text'))
            return False
        if role is None or role == ROLE_LOGS:
            role = ROLE_EVENTS if sniffed == 'events' else ROLE_LOGS
        self.keep(key, path,
                  Source(path, role, compressed, sniffed, info.st_size))
        return True


def error_reason(exc):
    """How an ``OSError`` reads in a warning: 'permission denied'."""
    if isinstance(exc, FileNotFoundError):
        return 'no such file or directory'
    if isinstance(exc, PermissionError):
        return 'permission denied'
    return (exc.strerror or str(exc)).lower()


def sniff(path):
    """``(compressed, sniffed, other)`` from the head of one file.

    ``compressed``: gzip (the decompressed head is sniffed); ``sniffed``:
    one of :data:`SNIFFED`; ``other``: why a file is 'binary' when that
    is not its content ('xz-compressed', 'damaged gzip'), else ''.
    Raises ``OSError`` when the file cannot be read.
    """
    with open(path, 'rb') as handle:
        head = handle.read(_SNIFF_GZIP_IN)
    if head.startswith(_GZIP_MAGIC):
        try:
            text = zlib.decompressobj(31).decompress(head, SNIFF_BYTES)
        except zlib.error:
            return True, 'binary', 'damaged gzip'
        return True, kind_of(text), ''
    for magic, name in _OTHER_MAGIC:
        if head.startswith(magic):
            return False, 'binary', name + '-compressed'
    return False, kind_of(head[:SNIFF_BYTES]), ''


def kind_of(head):
    """What a head of bytes looks like: one of :data:`SNIFFED`."""
    if not head:
        return 'text'
    if b'\x00' in head:
        return 'binary'
    controls = sum(1 for byte in head[:1024]
                   if byte < 32 and byte not in _TEXT_CONTROLS)
    if controls * 10 > min(len(head), 1024):
        return 'binary'
    lines = head.split(b'\n')
    if len(lines) > 1:
        lines.pop()              # cut by the head's end
    lines = [line for line in lines if line.strip()][:20]
    if not lines:
        return 'text'
    first = lines[0].lstrip()
    if first.startswith(b'{'):
        if _JOURNAL_FIELD.search(first):
            return 'journal'
        if _EVENT_KIND.search(first) and _EVENT_VERSION.search(first):
            return 'events'
        return 'json'
    oslo = access = 0
    for line in lines:
        if _OSLO.match(line):
            oslo += 1
        elif _ACCESS.search(line):
            access += 1
    if oslo and oslo >= access:
        return 'oslo'
    if access:
        return 'access'
    return 'text'


def _rotation_key(path):
    """``(group, rank)``: rotated files of one log share a group; rank
    sorts them oldest first, the live file last."""
    directory, name = os.path.split(path)
    match = _ROTATED.fullmatch(name)
    if match['num'] is not None:
        rank = (0, -int(match['num']), '')
    elif match['date'] is not None:
        rank = (1, 0, match['date'])
    elif match['gz']:
        rank = (2, 0, '')
    else:
        rank = (3, 0, '')
    return (directory, match['base']), rank, bool(match['gz'])


def _rotation_order(sources):
    """Put each log's rotated files together, oldest first.

    A group sits where its first member appeared. When both ``x.1`` and
    ``x.1.gz`` exist (compression interrupted), only the plain one is
    kept: they hold the same lines.
    """
    groups = {}
    for source in sources:
        if source.size is None:
            groups[(None, id(source))] = [((0, 0, ''), False, source)]
            continue
        group, rank, gz = _rotation_key(source.path)
        groups.setdefault(group, []).append((rank, gz, source))
    ordered = []
    for members in groups.values():
        members.sort(key=lambda member: member[0])
        plain = {rank for rank, gz, _ in members if not gz and rank[0] < 2}
        ordered.extend(source for rank, gz, source in members
                       if not (gz and rank in plain))
    return ordered
