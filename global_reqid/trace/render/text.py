"""The trace as a timeline tree, for a terminal or a text file.

One header line (the action, how it was found, who took part, when and for
how long), one line per hop in depth-first order, numbered as the Markdown
dump numbers them, with the hop's log lines under it on request, then one
summary line::

    req-423d... · from events and logs · 4 participants: client, ... · 7 hops
    1  +0.000s  ├─ client → keystone  GET /v3  200  6.0 ms  req-d5e9...
    3  +0.800s  ├─ client → glance-api  POST /v2/images  201  84.2 ms  ...
    4  +0.820s  │  └─ glance-api → keystone  GET /v3/auth/tokens  200 ...
    5  +0.900s  ├─ ✗ client → glance-api  PUT /v2/images/.../file  500 ...

The helpers :func:`clean`, :func:`duration`, :func:`answer`, :func:`utc`
and :func:`walk` are shared by the other renderers, so that every format
numbers, names and times hops the same way.
"""

import collections
import datetime
import math
import re

from global_reqid.events import redact

__all__ = ['FAILED_MARK', 'MODES', 'Step', 'answer', 'clean', 'duration',
           'mode', 'offset', 'render', 'request', 'span', 'utc', 'walk']

#: How :attr:`~global_reqid.trace.model.Trace.mode` reads in a header.
MODES = {
    'events': 'from events',
    'logs': 'from logs (retroactive)',
    'mixed': 'from events and logs',
}

FAILED_MARK = '✗'
UNKNOWN = '?'
#: A hop seen in logs only whose answer no line recorded.
UNLOGGED = 'answer not logged'

_RESET = '\x1b[0m'
_BOLD = '\x1b[1m'
_DIM = '\x1b[2m'
_RED = '\x1b[31m'
_YELLOW = '\x1b[33m'


def _escapes():
    # NOTE: C0 and C1 controls and DEL could move the cursor or rewrite a
    # terminal's title; bidi overrides and line separators could make a
    # line read as something else (Trojan Source). All are shown as
    # Python-style escapes, so an operator still sees what was logged.
    table = {code: '\\x%02x' % code
             for code in list(range(0x20)) + list(range(0x7f, 0xa0))}
    table.update({ord('\t'): '\\t', ord('\n'): '\\n', ord('\r'): '\\r'})
    for code in (0x061c, 0x200e, 0x200f, 0x2028, 0x2029, 0xfeff,
                 *range(0x202a, 0x202f), *range(0x2066, 0x206a)):
        table[code] = '\\u%04x' % code
    for code in range(0xd800, 0xe000):  # lone surrogates cannot be written
        table[code] = '\\u%04x' % code
    return table


_ESCAPES = _escapes()
_BLOCK_ESCAPES = {code: value for code, value in _ESCAPES.items()
                  if code not in (ord('\n'), ord('\t'))}


def _ranges(codes):
    """A regex character class matching ``codes``, runs as ranges."""
    codes = sorted(codes)
    parts = []
    start = previous = codes[0]
    for code in codes[1:] + [None]:
        if code is not None and code == previous + 1:
            previous = code
            continue
        parts.append('\\u%04x' % start if start == previous
                     else '\\u%04x-\\u%04x' % (start, previous))
        start = previous = code
    return '[%s]' % ''.join(parts)


# NOTE: most text needs no escape; one search is cheaper than translate().
_NEEDS_ESCAPE = re.compile(_ranges(_ESCAPES))

#: One hop of :func:`walk`: its number (1-based, depth first), the hop,
#: ``lasts`` (for each level from the root down to this hop, whether that
#: ancestor, or the hop itself, is the last of its siblings; the depth is
#: ``len(lasts) - 1``) and the number of the hop that made this call, or
#: ``None`` for a root.
Step = collections.namedtuple('Step', 'number hop lasts parent')


def clean(value, default='', multiline=False):
    """Return ``value`` as one line of text safe to print anywhere.

    ``None`` gives ``default``; control, bidi and line-separator
    characters become visible escapes (``\\x1b``, ``\\n``, ``\\u202e``).
    With ``multiline``, newlines and tabs are kept (for code blocks).
    """
    if value is None:
        return default
    if not isinstance(value, str):
        value = str(value)
    if not _NEEDS_ESCAPE.search(value):
        return value
    return value.translate(_BLOCK_ESCAPES if multiline else _ESCAPES)


def walk(roots):
    """Yield a :class:`Step` for every hop under ``roots``, depth first.

    Without recursion, so a deep chain of calls cannot exhaust the stack.
    """
    number = 0
    stack = [(list(roots or ()), 0, (), None)]
    while stack:
        hops, index, lasts, parent = stack.pop()
        if index >= len(hops):
            continue
        hop = hops[index]
        stack.append((hops, index + 1, lasts, parent))
        number += 1
        here = lasts + (index == len(hops) - 1,)
        yield Step(number, hop, here, parent)
        children = getattr(hop, 'children', None) or ()
        if children:
            stack.append((list(children), 0, here, number))


def duration(ms):
    """``84.2 ms`` below a second, ``1.234 s`` from one, ``?`` unknown."""
    if not isinstance(ms, (int, float)) or isinstance(ms, bool):
        return UNKNOWN
    if math.isfinite(ms) and abs(ms) >= 1000:
        return '%.3f s' % (ms / 1000.0)
    return '%.1f ms' % ms


def answer(hop):
    """What the callee answered: ``201``, ``500 OSError``, ``no answer``
    or ``no answer (ConnectTimeout)``."""
    error = clean(hop.error) if hop.error is not None else None
    if hop.status is None:
        if error:
            return 'no answer (%s)' % error
        return UNLOGGED if hop.answer_unlogged else 'no answer'
    status = clean(hop.status)
    return '%s %s' % (status, error) if error else status


def request(hop):
    """``METHOD path?query``, secrets masked again (defence in depth)."""
    target = hop.path if hop.path is not None else hop.route
    if target is None and hop.url is not None:
        target = redact.free_text(hop.url)
    target = redact.path(target) if target is not None else UNKNOWN
    if hop.query:
        target = '%s?%s' % (target, redact.query(hop.query))
    return '%s %s' % (clean(hop.method, UNKNOWN), clean(target))


def utc(epoch, default=UNKNOWN):
    """``2026-11-23 17:18:54.810Z`` for seconds since the epoch."""
    try:
        moment = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return default
    return moment.strftime('%Y-%m-%d %H:%M:%S.') + '%03dZ' % (
        moment.microsecond // 1000)


def offset(epoch, start):
    """``+0.800s`` from ``start``, or ``?``."""
    if not isinstance(epoch, (int, float)) or not isinstance(
            start, (int, float)):
        return UNKNOWN
    return '%+.3fs' % (epoch - start)


def span(steps):
    """(first start, last end) of the hops of ``steps``, or Nones."""
    first = last = None
    for step in steps:
        start = step.hop.start
        if not _finite(start):
            continue
        end = start + (step.hop.duration_ms / 1000.0
                       if _finite(step.hop.duration_ms) else 0.0)
        first = start if first is None else min(first, start)
        last = end if last is None else max(last, end)
    return first, last


def mode(trace):
    """How the trace was found, in words (``from events`` ...)."""
    return MODES.get(trace.mode, 'from %s' % clean(trace.mode, UNKNOWN))


def _finite(value):
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _ago(seconds):
    if seconds < 0:
        return 'in the future'
    for unit, size in (('d', 86400), ('h', 3600), ('min', 60)):
        if seconds >= size:
            return '%d %s ago' % (seconds // size, unit)
    return '%d s ago' % seconds


class _Paint:
    """ANSI colours when asked for, nothing otherwise."""

    def __init__(self, enabled):
        self.enabled = enabled

    def __call__(self, code, text):
        if not self.enabled or code is None or not text:
            return text
        return '%s%s%s' % (code, text, _RESET)


def _answer_colour(hop):
    if hop.error is not None or hop.lost:
        return _RED
    if isinstance(hop.status, int) and hop.status >= 500:
        return _RED
    if isinstance(hop.status, int) and hop.status >= 400:
        return _YELLOW
    if any(line.error for line in hop.lines or ()):
        return _RED
    return None


def _header(trace, steps, first, last, now, paint):
    parts = [paint(_BOLD, clean(trace.global_request_id, UNKNOWN))]
    if trace.queried_id and trace.queried_id != trace.global_request_id:
        parts[0] += ' (queried %s)' % clean(trace.queried_id)
    parts.append(mode(trace))
    names = [clean(name, UNKNOWN) for name in trace.participants or ()]
    parts.append('%d participant%s%s' % (
        len(names), '' if len(names) == 1 else 's',
        ': ' + ', '.join(names) if names else ''))
    if first is not None:
        when = 'started %s' % utc(first)
        if _finite(now):
            when += ' (%s)' % _ago(now - first)
        parts.append('%s, span %s' % (when,
                                      duration((last - first) * 1000.0)))
    parts.append('%d hop%s' % (len(steps), '' if len(steps) == 1 else 's'))
    return ' · '.join(parts)


def _hop_line(step, width, first, paint):
    hop = step.hop
    tree = ''.join('   ' if last else '│  ' for last in step.lasts[:-1])
    tree += '└─ ' if step.lasts[-1] else '├─ '
    failed = hop.failed
    colour = _answer_colour(hop)
    mark = paint(colour, FAILED_MARK) + ' ' if failed else ''
    fields = [
        '%s  %9s  %s%s%s → %s' % (
            str(step.number).rjust(width), offset(hop.start, first), tree,
            mark, clean(hop.caller, UNKNOWN), clean(hop.callee, UNKNOWN)),
        request(hop),
        paint(colour, answer(hop)),
        duration(hop.duration_ms),
        paint(_DIM, clean(hop.request_id, '-')),
    ]
    return '  '.join(fields)


def _log_line(line, lead, tree, first, paint):
    message = clean(redact.free_text(line.message or ''))
    level = clean(line.level, '-').ljust(7)
    logger = clean(line.logger if line.logger is not None else line.service,
                   '-')
    if line.error:
        head = paint(_RED, '%s %s' % (FAILED_MARK, level))
    else:
        head = '  ' + level
    return '%s%9s  %s%s %s: %s' % (lead, offset(line.time, first), tree,
                                   head, logger, message)


def _line_tree(step):
    """The tree columns under a hop, for its log lines."""
    tree = ''.join('   ' if last else '│  ' for last in step.lasts)
    return tree + ('│  ' if step.hop.children else '   ')


def render(trace, lines=False, color=False, now=None):
    """Render ``trace`` as a timeline tree; return the text (ends in a
    newline).

    ``lines`` shows each hop's log lines under it and the lines outside
    any hop at the end; ``color`` adds ANSI colours (red for 5xx, errors
    and no answer, yellow for 4xx, dim ids); ``now`` (seconds since the
    epoch) adds how long ago the action started: passed in, so the output
    depends on the arguments alone.
    """
    paint = _Paint(color)
    steps = list(walk(trace.roots))
    first, last = span(steps)
    width = len(str(len(steps))) if steps else 1
    lead = ' ' * (width + 2)
    out = [_header(trace, steps, first, last, now, paint)]
    error_lines = 0
    failed = 0
    for step in steps:
        hop = step.hop
        failed += bool(hop.failed)
        error_lines += sum(1 for line in hop.lines or () if line.error)
        out.append(_hop_line(step, width, first, paint))
        if lines and hop.lines:
            tree = _line_tree(step)
            out.extend(_log_line(line, lead, tree, first, paint)
                       for line in hop.lines)
    orphans = list(trace.orphan_lines or ())
    error_lines += sum(1 for line in orphans if line.error)
    if lines and orphans:
        out.append('')
        out.append('lines outside any hop (%d):' % len(orphans))
        for line in orphans:
            out.append(_log_line(line, lead, '', first, paint))
    out.append(_summary(len(steps), failed, error_lines, len(orphans),
                        trace.stats, paint))
    return '\n'.join(out) + '\n'


def _summary(hops, failed, error_lines, orphans, stats, paint):
    parts = ['%d hop%s' % (hops, '' if hops == 1 else 's')]
    failed_text = '%d failed' % failed
    parts.append(paint(_RED, failed_text) if failed else failed_text)
    parts.append('%d error line%s' % (error_lines,
                                      '' if error_lines == 1 else 's'))
    if orphans:
        parts.append('%d line%s outside hops' % (orphans,
                                                 '' if orphans == 1 else 's'))
    if stats is not None:
        scanned = 'scanned %d file%s, %s lines' % (
            stats.files or 0, '' if stats.files == 1 else 's',
            format(stats.lines or 0, ','))
        if stats.events:
            scanned += ', %s events' % format(stats.events, ',')
        if stats.skipped:
            scanned += ', %s skipped' % format(stats.skipped, ',')
        parts.append(scanned)
    return ' · '.join(parts)
