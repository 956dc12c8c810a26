"""Read events files back, one line at a time.

Files are what :class:`~global_reqid.events.sinks.FileSink` writes:
``<service>.<host>.<pid>.jsonl``, rotated to ``.1`` (newest) ... ``.N``,
maybe gzipped (``.1.gz``). Readers are generators over file handles, so
memory does not grow with the size of the files. A line that is not a
complete JSON object (a process killed mid-write leaves a partial last
line) is skipped and counted, never fatal.
"""

import gzip
import json
import os
import re
import zlib

_GZIP_MAGIC = b'\x1f\x8b'
#: An events file name: the live file, a rotated one, maybe gzipped.
_EVENTS_FILE = re.compile(
    r'(?P<base>[^.].*\.jsonl)(?:\.(?P<index>[0-9]+))?(?P<gz>\.gz)?')


def new_stats():
    """A stats dict for :func:`read_events`: events read, lines skipped."""
    return {'events': 0, 'skipped': 0}


def read_events(source, stats=None):
    """Yield each event (a dict) of one events file, in file order.

    ``source`` is a path (plain or gzip, told apart by content) or an open
    file object (binary or text). Blank lines are ignored; a line that is
    not a complete JSON object, or the damaged tail of a gzip file, adds
    one to ``stats['skipped']``; ``stats['events']`` counts the events
    yielded. Pass a dict (see :func:`new_stats`) to see the counts; it is
    updated as the generator runs, so one dict can total several files.
    """
    stats = _stats(stats)
    if isinstance(source, (str, bytes, os.PathLike)):
        with _open(source) as handle:
            yield from _parse(handle, stats)
    else:
        yield from _parse(source, stats)


def _stats(stats):
    if stats is None:
        return new_stats()
    stats.setdefault('events', 0)
    stats.setdefault('skipped', 0)
    return stats


def _open(path):
    with open(path, 'rb') as handle:
        magic = handle.read(2)
    if magic == _GZIP_MAGIC:
        return gzip.open(path, 'rb')
    return open(path, 'rb')


def _parse(handle, stats):
    try:
        for line in handle:
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except ValueError:
                stats['skipped'] += 1
                continue
            if type(event) is not dict:
                stats['skipped'] += 1
                continue
            stats['events'] += 1
            yield event
    except (EOFError, gzip.BadGzipFile, zlib.error):
        # A gzip file cut short: what came before the damage was read.
        stats['skipped'] += 1


def events_files(directory):
    """Paths of the events files in ``directory``, each file oldest first.

    Files are grouped by process (``<service>.<host>.<pid>.jsonl``, in
    name order); within a group the rotated files come first, the highest
    number (the oldest) first, and the live file last. Temporary and
    other files are left out.
    """
    groups = {}
    for name in os.listdir(directory):
        match = _EVENTS_FILE.fullmatch(name)
        if match is None:
            continue
        index = int(match['index']) if match['index'] else 0
        # A crash between compressing ``.N`` and removing it leaves both:
        # read the plain one only.
        group = groups.setdefault(match['base'], {})
        if index not in group or not match['gz']:
            group[index] = name
    for base in sorted(groups):
        group = groups[base]
        for index in sorted(group, reverse=True):
            yield os.path.join(directory, group[index])


def iter_directory(directory, stats=None):
    """Yield the events of every events file in ``directory``.

    Order is that of :func:`events_files`; ``stats`` is as for
    :func:`read_events`, totalled over the files. A file rotated away
    between listing and reading is skipped.
    """
    stats = _stats(stats)
    for path in events_files(directory):
        try:
            handle = _open(path)
        except FileNotFoundError:
            continue
        with handle:
            yield from _parse(handle, stats)
