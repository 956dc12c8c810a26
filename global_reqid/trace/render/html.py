"""The trace as one self-contained HTML page.

:func:`render` is pure: a :class:`~global_reqid.trace.model.Trace` in, one
HTML5 document out. The page holds a header (ids, mode, participants,
hops, failures, span), a sequence diagram drawn here as inline SVG (no
Mermaid, no script library), every hop as a ``<details>`` element (request,
answer, ids, headers, bodies, log lines) and the lines that belong to no
hop. It fetches nothing: no external script, style, font or image, and its
Content-Security-Policy forbids any. Every arrow links to its hop's
details; a few lines of inline script only open the details on a click,
so the page is whole without script.

Every piece of text is escaped, in attributes too, and secrets are masked
again with :mod:`global_reqid.events.redact` (the model holds them masked
already: this is defence in depth). The output depends on the trace only:
no clock, no locale, no hash order.
"""

import datetime
import html
import json

from global_reqid.events import redact
from global_reqid.trace.render.text import UNLOGGED

CSP = ("default-src 'none'; style-src 'unsafe-inline'; "
       "script-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
       "form-action 'none'")

# Diagram geometry, in px. Labels use a 12px monospace font, whose
# characters are CHAR wide in DejaVu Sans Mono, Menlo and Consolas alike
# (within 10%), so a label is shortened to fit the room it has.
CHAR = 7.3
NAME_CHAR = 8.0        # a character of a participant's name (13px bold)
TIME_WIDTH = 84        # the column of start times, left of the lifelines
MIN_GAP = 190          # between two lifelines
MAX_GAP = 440
TOP = 12
BOX_HEIGHT = 32
FIRST_ROW = 34         # from the participant boxes to the first arrow
ROW = 30
BAND_EVERY = 30        # rows between repeated participant name tags
BAND = 26
BAR = 10               # width of an activation bar
BAR_STEP = 6           # offset of a nested activation on the same lifeline
LOOP = 40              # width of the loop of a call to oneself
NAME_MAX = 40          # characters of a participant name drawn
LABEL_MIN = 12         # characters a label keeps, however narrow its room
LABEL_PAD = 24         # room left around a label on its arrow
SUMMARY_MAX = 120      # characters of a request in a hop's summary line
EMPTY_WIDTH = 480
MAX_DEPTH_INDENT = 12  # nesting levels the hop list indents

ELLIPSIS = '\u2026'
ARROW = '\u2192'

# Characters shown as escapes rather than drawn: C0 controls but tab and
# newline (terminal colours in log lines), DEL, and the bidirectional
# overrides that could make a line read differently from what it holds.
_VISIBLE = {code: '\\x%02x' % code for code in range(32) if code not in (9,
                                                                         10)}
_VISIBLE[0x7f] = '\\x7f'
_VISIBLE.update({code: '\\u%04x' % code
                 for code in list(range(0x202a, 0x202f))
                 + list(range(0x2066, 0x206a))})

_SCRIPT = """\
(function () {
  'use strict';
  function openHop(id) {
    var node = id && document.getElementById(id);
    if (node && node.tagName === 'DETAILS') { node.open = true; }
  }
  document.addEventListener('click', function (event) {
    var link = event.target.closest && event.target.closest('a');
    var href = link && link.getAttribute('href');
    if (href && href.indexOf('#hop-') === 0) { openHop(href.slice(1)); }
  });
  window.addEventListener('hashchange', function () {
    openHop(location.hash.slice(1));
  });
  openHop(location.hash.slice(1));
  document.body.setAttribute('data-script', 'ready');
}());
"""

_STYLE = """\
:root{--fg:#1f2937;--muted:#64748b;--rule:#cbd5e1;--red:#dc2626;
--redbg:#fef2f2;--green:#15803d;--mono:ui-monospace,"DejaVu Sans Mono",
Menlo,Consolas,monospace;--sans:system-ui,-apple-system,"Segoe UI",
"DejaVu Sans",Arial,sans-serif}
*{box-sizing:border-box}
body{margin:0;padding:16px 24px 48px;font:14px/1.45 var(--sans);
color:var(--fg);background:#fff}
code,pre{font-family:var(--mono);font-size:12px}
h1{font-size:20px;margin:0 0 4px;font-weight:600}
h1 code{font-size:18px}
h2{font-size:16px;margin:28px 0 8px;padding-bottom:4px;
border-bottom:1px solid var(--rule)}
h3{font-size:12px;margin:10px 0 2px;color:var(--muted);font-weight:600;
text-transform:uppercase;letter-spacing:.04em}
.verdict{font-weight:600;margin:0 0 8px}
.verdict.failed{color:var(--red)}.verdict.ok{color:var(--green)}
dl.summary{display:grid;grid-template-columns:max-content 1fr;
gap:2px 16px;margin:8px 0}
dl.summary dt{color:var(--muted)}dl.summary dd{margin:0}
ul.warnings{color:#92400e}
details.skipped{color:var(--muted);font-size:12px}
details.skipped summary{cursor:pointer}
.scroll{overflow:auto;border:1px solid var(--rule);border-radius:6px;
background:#fcfcfd}
svg{display:block}
.legend{color:var(--muted);font-size:12px;margin:6px 0 0}
.actor rect{fill:#e8f0fe;stroke:#4a6fa5;stroke-width:1.2}
.actor text{font:600 13px var(--sans);fill:#1e3a5f}
.lifeline{stroke:#94a3b8;stroke-dasharray:4 4}
.bar{fill:#fff;stroke:#64748b}.bar.failed{fill:#fee2e2;stroke:var(--red)}
.arrow{fill:none;stroke-width:1.6}
.arrow.req{stroke:#1f2937}
.arrow.ans{stroke:#64748b;stroke-dasharray:6 4}
.arrow.ans.failed{stroke:var(--red)}
.hit{fill:none;stroke:transparent;stroke-width:14}
.label{font:12px var(--mono);fill:#1f2937;paint-order:stroke;
stroke:#fcfcfd;stroke-width:4px;stroke-linejoin:round}
.label.ans{fill:#475569}.label.failed{fill:var(--red);font-weight:600}
.badge{fill:#1f2937}.badge.failed{fill:var(--red)}
.badge-num{font:600 10px var(--sans);fill:#fff}
.time{font:11px var(--mono);fill:#94a3b8}
.band rect{fill:#f1f5f9;stroke:#cbd5e1}
.band text{font:600 10px var(--sans);fill:#475569}
.empty{font:14px var(--sans);fill:var(--muted)}
a.row{cursor:pointer}
a.row:hover .arrow,a.row:focus .arrow{stroke-width:2.6}
a.row:hover .label,a.row:focus .label{text-decoration:underline}
details.hop{border:1px solid var(--rule);border-left:4px solid #94a3b8;
border-radius:4px;margin:4px 0 4px calc(var(--depth,0)*22px);
background:#fff}
details.hop.failed{border-left-color:var(--red)}
details.hop>summary{cursor:pointer;padding:4px 8px}
details.hop[open]>summary{border-bottom:1px solid var(--rule);
background:#f8fafc}
details.hop:target{outline:2px solid #f59e0b}
.num{display:inline-block;min-width:2.2em;text-align:center;
border-radius:8px;background:#1f2937;color:#fff;font-size:11px;
font-weight:600;padding:0 4px}
.failed>summary .num{background:var(--red)}
.status.failed,.errors{color:var(--red);font-weight:600}
.muted{color:var(--muted)}
.hop-body{padding:6px 12px 10px}
table.kv{border-collapse:collapse;font-size:12px;margin:2px 0 6px}
table.kv th{text-align:left;color:var(--muted);font-weight:400;
padding:1px 14px 1px 0;vertical-align:top;white-space:nowrap}
table.kv td{padding:1px 0;font-family:var(--mono);word-break:break-all}
pre{white-space:pre-wrap;word-break:break-all;background:#f8fafc;
border:1px solid #e2e8f0;border-radius:4px;padding:6px 8px;margin:2px 0}
.lines{font:12px/1.5 var(--mono);border:1px solid #e2e8f0;
border-radius:4px;margin:2px 0}
.line{white-space:pre-wrap;word-break:break-all;padding:1px 8px;
border-left:3px solid transparent}
.line+.line{border-top:1px solid #f1f5f9}
.line.error{background:var(--redbg);color:#991b1b;
border-left-color:var(--red)}
"""

_MARKERS = (
    '<defs>'
    '<marker id="m-req" viewBox="0 0 10 10" refX="9" refY="5" '
    'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
    '<path d="M0,0L10,5L0,10z" fill="#1f2937"/></marker>'
    '<marker id="m-ans" viewBox="0 0 10 10" refX="9" refY="5" '
    'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
    '<path d="M0,0L10,5L0,10" fill="none" stroke="#64748b" '
    'stroke-width="1.6"/></marker>'
    '<marker id="m-ans-failed" viewBox="0 0 10 10" refX="9" refY="5" '
    'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
    '<path d="M0,0L10,5L0,10" fill="none" stroke="#dc2626" '
    'stroke-width="1.6"/></marker>'
    '<marker id="m-lost" viewBox="0 0 10 10" refX="5" refY="5" '
    'markerWidth="9" markerHeight="9">'
    '<path d="M1,1L9,9M9,1L1,9" stroke="#dc2626" stroke-width="2.2"/>'
    '</marker>'
    '</defs>')


def render(trace):
    """Return the trace as one self-contained HTML5 document (a str)."""
    hops = list(_numbered(trace))
    names = _participants(trace, hops)
    parts = [
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
        '<meta http-equiv="Content-Security-Policy" content="%s">\n'
        % _esc(CSP),
        '<meta name="referrer" content="no-referrer">\n',
        '<meta name="viewport" content="width=device-width, '
        'initial-scale=1">\n',
        # NOTE: without an icon, a browser asks for /favicon.ico.
        '<link rel="icon" href="data:,">\n',
        '<title>Trace %s</title>\n' % _esc(trace.global_request_id),
        '<style>\n%s</style>\n</head>\n<body>\n' % _STYLE,
        _header(trace, hops, names),
        _diagram(trace, hops, names),
        _hop_list(hops),
        _orphans(trace.orphan_lines),
        '<script>\n%s</script>\n</body>\n</html>\n' % _SCRIPT,
    ]
    return ''.join(parts)


# -- text ---------------------------------------------------------------------

def _esc(value):
    """Escape any value for HTML text and attributes (quotes included)."""
    text = value if isinstance(value, str) else str(value)
    text = text.translate(_VISIBLE)
    try:
        text.encode('utf-8')
    except UnicodeEncodeError:  # lone surrogates cannot be written
        text = text.encode('utf-8', 'replace').decode('utf-8')
    return html.escape(text, quote=True)


def _masked(value):
    """Free text with secrets masked, then escaped."""
    return _esc(redact.free_text(value))


def _shorten(text, size):
    """``text`` cut to ``size`` characters, its start and end kept."""
    size = max(size, LABEL_MIN)
    if len(text) <= size:
        return text
    head = (size - 1) // 2
    return text[:head] + ELLIPSIS + text[len(text) - (size - 1 - head):]


def _duration(ms):
    if ms is None:
        return None
    try:
        ms = float(ms)
    except (TypeError, ValueError):
        return str(ms)
    if ms < 1000:
        return '%.1f ms' % ms
    return '%.2f s' % (ms / 1000)


def _utc(seconds):
    """An epoch time as ISO 8601 UTC with milliseconds (never local)."""
    try:
        when = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return str(seconds)
    return when.isoformat(timespec='milliseconds').replace('+00:00', 'Z')


def _bytes(size):
    for unit in ('bytes', 'KiB', 'MiB', 'GiB'):
        if size < 1024 or unit == 'GiB':
            return ('%d %s' % (size, unit) if unit == 'bytes'
                    else '%.1f %s' % (size, unit))
        size /= 1024.0


def _target(hop):
    """The masked path (and query) a hop asked for, as one string."""
    if hop.path is None:
        return redact.free_text(hop.url) if hop.url else '?'
    target = redact.path(hop.path)
    if hop.query:
        target += '?' + redact.query(hop.query)
    return target


def _request_label(hop):
    return '%s %s' % (hop.method or '?', _target(hop))


def _error_lines(hop):
    return sum(1 for line in hop.lines if line.error)


def _outcome(hop):
    """What came back: status, error, duration."""
    if hop.answer_unlogged:
        words = [UNLOGGED]
    elif hop.status is None:
        words = ['no answer:' if hop.error else 'no answer']
        if hop.error:
            words.append(hop.error)
    else:
        words = [str(hop.status)]
        if hop.error:
            words.append(hop.error)
    words = [' '.join(words)]
    if hop.duration_ms is not None:
        words.append(_duration(hop.duration_ms))
    count = _error_lines(hop)
    if count:
        words.append('%d ERROR line%s' % (count, '' if count == 1 else 's'))
    return redact.free_text(' \u00b7 '.join(words))


def _status_word(hop):
    if hop.status is not None:
        return str(hop.status)
    return UNLOGGED if hop.answer_unlogged else 'no answer'


def _answer_failed(hop):
    return hop.failed or hop.lost


# -- the hops, numbered -------------------------------------------------------

class _Numbered:
    """A hop with its number (depth first, from 1), nesting depth, and
    the masked labels of its request and answer."""

    __slots__ = ('number', 'depth', 'hop', 'label', 'outcome')

    def __init__(self, number, depth, hop):
        self.number = number
        self.depth = depth
        self.hop = hop
        self.label = _request_label(hop)
        self.outcome = _outcome(hop)


def _numbered(trace):
    # NOTE: an explicit stack: a deep chain of calls must not hit the
    # recursion limit.
    stack = [(0, root) for root in reversed(trace.roots)]
    number = 0
    while stack:
        depth, hop = stack.pop()
        number += 1
        yield _Numbered(number, depth, hop)
        stack.extend((depth + 1, child) for child in reversed(hop.children))


def _steps(hops):
    """The diagram's rows in drawing order.

    Each is ``(kind, numbered, caller_level, callee_level)``: kind 'req'
    for the request, 'ans' for the answer, which comes after the rows of
    the calls made while serving the request. A level is how many calls
    the participant is serving at that row (its activation bars).
    """
    active = {}
    steps = []
    pending = []  # answers owed, innermost last: (depth, step)
    for item in hops:
        while pending and pending[-1][0] >= item.depth:
            steps.append(pending.pop()[1])
            _leave(active, steps[-1])
        hop = item.hop
        caller_level = active.get(hop.caller, 0)
        callee_level = active.get(hop.callee, 0)
        if _has_bar(hop):
            callee_level += 1
            active[hop.callee] = callee_level
        steps.append(('req', item, caller_level, callee_level))
        pending.append((item.depth, ('ans', item, caller_level,
                                     callee_level)))
    while pending:
        steps.append(pending.pop()[1])
        _leave(active, steps[-1])
    return steps


def _leave(active, step):
    hop = step[1].hop
    if _has_bar(hop):
        active[hop.callee] -= 1


def _has_bar(hop):
    """Whether the callee is known to have served the call."""
    return (hop.status is not None or hop.request_id is not None
            or bool(hop.children))


def _participants(trace, hops):
    """The trace's participants, then any a hop names that it misses."""
    names = list(dict.fromkeys(trace.participants))
    seen = set(names)
    for item in hops:
        for name in (item.hop.caller, item.hop.callee):
            if name not in seen:
                seen.add(name)
                names.append(name)
    return names


# -- the header ---------------------------------------------------------------

def _header(trace, hops, names):
    failures = sum(1 for item in hops if item.hop.failed)
    if not hops:
        verdict = '<p class="verdict">No hops found.</p>\n'
    elif failures:
        verdict = ('<p class="verdict failed">%d of %d hop%s failed.</p>\n'
                   % (failures, len(hops), '' if len(hops) == 1 else 's'))
    else:
        verdict = ('<p class="verdict ok">All %d hop%s answered without '
                   'error.</p>\n' % (len(hops), '' if len(hops) == 1
                                     else 's'))
    rows = [
        ('Global id', '<code>%s</code>' % _esc(trace.global_request_id)),
        ('Queried id', '<code>%s</code>%s' % (_esc(trace.queried_id),
                                              _queried_hop(trace, hops))),
        ('Mode', _esc(_mode(trace.mode))),
        ('Participants', _esc(', '.join(names)) or
         '<span class="muted">none</span>'),
        ('Hops', str(len(hops))),
        ('Failures', '<span class="%s">%d</span>'
         % ('errors' if failures else 'muted', failures)),
        ('Total span', _esc(_span(trace, hops) or 'unknown')),
    ]
    if trace.start is not None:
        rows.append(('Started', _esc(_utc(trace.start))))
    rows.append(('Scanned', _esc(_scanned(trace.stats))))
    out = ['<header>\n<h1>Trace of <code>%s</code></h1>\n'
           % _esc(trace.global_request_id), verdict, '<dl class="summary">\n']
    out.extend('<dt>%s</dt><dd>%s</dd>\n' % row for row in rows)
    out.append('</dl>\n')
    if trace.stats.warnings:
        out.append('<ul class="warnings">\n')
        out.extend('<li>%s</li>\n' % _masked(text)
                   for text in trace.stats.warnings)
        out.append('</ul>\n')
    skipped = trace.stats.skipped_where
    if skipped:
        # NOTE: collapsed: skipped lines are common (a file of another
        # format in a log directory) and rarely what the reader is after.
        count = max(trace.stats.skipped, len(skipped))
        out.append('<details class="skipped"><summary>%d line%s skipped '
                   '(corrupt, truncated or of no known format)</summary>\n'
                   '<ul>\n' % (count, '' if count == 1 else 's'))
        out.extend('<li><code>%s</code></li>\n' % _masked(where)
                   for where in skipped)
        out.append('</ul>\n</details>\n')
    out.append('</header>\n')
    return ''.join(out)


def _queried_hop(trace, hops):
    """A link to the hop whose local id the user asked for, if any."""
    if trace.queried_id == trace.global_request_id:
        return ''
    for item in hops:
        if item.hop.request_id == trace.queried_id:
            return (' (the local id of <a href="#hop-%d">hop %d</a>)'
                    % (item.number, item.number))
    return ''


def _mode(mode):
    return {'events': 'events (sequence events recorded by the services)',
            'logs': 'logs (retroactive: stock oslo.log lines only)',
            'mixed': 'mixed (sequence events and log lines)'}.get(mode, mode)


def _span(trace, hops):
    """From the first start to the last end of any hop."""
    start = trace.start
    ends = [item.hop.start + item.hop.duration_ms / 1000.0 for item in hops
            if item.hop.start is not None
            and item.hop.duration_ms is not None]
    if start is None or not ends:
        return None
    return _duration((max(ends) - start) * 1000.0)


def _scanned(stats):
    return ('%d file%s, %s, %d lines, %d matched, %d events, %d skipped'
            % (stats.files, '' if stats.files == 1 else 's',
               _bytes(stats.bytes), stats.lines, stats.matched,
               stats.events, stats.skipped))


# -- the diagram --------------------------------------------------------------

class _Layout:
    """Where the lifelines and rows of the diagram are."""

    def __init__(self, names, steps):
        self.names = names
        self.column = {name: index for index, name in enumerate(names)}
        self.box = [min(max(120, len(_shorten(name, NAME_MAX)) * NAME_CHAR
                            + 24), MAX_GAP - 20) for name in names]
        self.x = self._columns(steps)
        if names:
            last_half = max(MIN_GAP / 2, self.box[-1] / 2 + 12)
            self.width = round(self.x[-1] + last_half + LOOP)
        else:
            self.width = EMPTY_WIDTH
        self.y, self.bands = self._rows(len(steps))
        self.bottom = (self.y[-1] + 26 if steps
                       else TOP + BOX_HEIGHT + FIRST_ROW)
        self.height = self.bottom + BOX_HEIGHT + TOP

    def _columns(self, steps):
        """x of each lifeline: far enough apart for the names in the boxes
        and for the labels of the arrows between them (up to MAX_GAP)."""
        if not self.names:
            return []
        gaps = [max(MIN_GAP, (self.box[i] + self.box[i + 1]) / 2 + 16)
                for i in range(len(self.names) - 1)]
        for kind, item, _, _ in steps:
            first = self.column[item.hop.caller]
            last = self.column[item.hop.callee]
            first, last = min(first, last), max(first, last)
            if first == last:
                continue
            label = item.label if kind == 'req' else item.outcome
            # NOTE: the arrow ends at activation bars, not at lifelines.
            room = (len(label) * CHAR + LABEL_PAD + 2 * (BAR + BAR_STEP)
                    + (_badge_width(item) if kind == 'req' else 0))
            for index in range(first, last):
                gaps[index] = min(max(gaps[index], room / (last - first)),
                                  max(MAX_GAP, gaps[index]))
        x = [TIME_WIDTH + max(MIN_GAP / 2, self.box[0] / 2 + 12)]
        for gap in gaps:
            x.append(x[-1] + gap)
        return [round(value) for value in x]

    @staticmethod
    def _rows(count):
        """y of each row, and of the bands of name tags between them."""
        rows, bands = [], []
        y = TOP + BOX_HEIGHT + FIRST_ROW
        for index in range(count):
            if index and index % BAND_EVERY == 0:
                bands.append(y - ROW / 2 + 2)
                y += BAND
            rows.append(y)
            y += ROW
        return rows, bands

    def edge(self, name, level, right):
        """x of a lifeline, or of the side of its active bar facing
        ``right`` (a bool) at ``level``."""
        centre = self.x[self.column[name]]
        if level <= 0:
            return centre
        left = centre - BAR / 2 + (level - 1) * BAR_STEP
        return left + BAR if right else left


def _badge_width(item):
    return 10 + 6 * len(str(item.number))


def _diagram(trace, hops, names):
    steps = _steps(hops)
    layout = _Layout(names, steps)
    origin = trace.start
    out = ['<section id="diagram">\n<h2>Sequence</h2>\n<div class="scroll">\n',
           # NOTE: no xmlns: the HTML parser puts <svg> in the SVG namespace.
           '<svg width="%d" height="%d" '
           'viewBox="0 0 %d %d" role="img" aria-label="Sequence diagram of '
           '%s">\n' % (layout.width, layout.height, layout.width,
                       layout.height, _esc(trace.global_request_id)),
           _MARKERS, '\n']
    if not names:
        out.append('<text class="empty" x="%d" y="%d">No hops found for '
                   'this id.</text>\n' % (TOP * 2, TOP + BOX_HEIGHT / 2 + 5))
    for x in layout.x:
        out.append('<line class="lifeline" x1="%d" y1="%d" x2="%d" y2="%d"/>'
                   '\n' % (x, TOP + BOX_HEIGHT, x, layout.bottom))
    out.extend(_bars(layout, steps))
    for top in (TOP, layout.bottom):
        out.extend(_actor(layout, index, top) for index in range(len(names)))
    for y in layout.bands:
        out.append(_band(layout, y))
    for index, step in enumerate(steps):
        out.append(_row(layout, step, layout.y[index], origin))
    out.append('</svg>\n</div>\n')
    if names:
        out.append('<p class="legend">Solid arrow: request, numbered in '
                   'call order. Dashed arrow: answer, with status and '
                   'duration. Red: failed. \u2715: no answer. Bars: the time '
                   'a participant served a call. Click an arrow for its '
                   'details.</p>\n')
    out.append('</section>\n')
    return ''.join(out)


def _bars(layout, steps):
    opened = {}
    for index, (kind, item, _, level) in enumerate(steps):
        if not _has_bar(item.hop):
            continue
        if kind == 'req':
            opened[item.number] = layout.y[index]
            continue
        left = layout.edge(item.hop.callee, level, False)
        top = opened.pop(item.number)
        yield ('<rect class="bar%s" x="%s" y="%d" width="%d" height="%d"/>\n'
               % (' failed' if item.hop.failed else '', _num(left), top,
                  BAR, layout.y[index] - top))


def _actor(layout, index, top):
    name = layout.names[index]
    width = layout.box[index]
    x = layout.x[index]
    return ('<g class="actor"><title>%s</title><rect x="%s" y="%d" '
            'width="%d" height="%d" rx="5"/><text x="%d" y="%d" '
            'text-anchor="middle">%s</text></g>\n'
            % (_esc(name), _num(x - width / 2), top, width, BOX_HEIGHT, x,
               top + BOX_HEIGHT / 2 + 5, _esc(_shorten(name, NAME_MAX))))


def _band(layout, y):
    """Participant name tags, repeated down a long diagram."""
    out = ['<g class="band">']
    for index, name in enumerate(layout.names):
        label = _shorten(name, 24)
        width = len(label) * 6.5 + 14
        x = layout.x[index]
        out.append('<rect x="%s" y="%s" width="%s" height="16" rx="8"/>'
                   '<text x="%d" y="%s" text-anchor="middle">%s</text>'
                   % (_num(x - width / 2), _num(y - 8), _num(width), x,
                      _num(y + 4), _esc(label)))
    out.append('</g>\n')
    return ''.join(out)


def _num(value):
    """A coordinate, without a trailing ``.0``."""
    return ('%.1f' % value).rstrip('0').rstrip('.')


def _row(layout, step, y, origin):
    """One arrow, as a link to its hop's details: line, badge, label."""
    kind, item, caller_level, callee_level = step
    hop = item.hop
    request = kind == 'req'
    if request:
        ends = (hop.caller, caller_level, hop.callee, callee_level)
        label, label_class = item.label, 'label'
        classes = 'arrow req' + (' lost' if hop.lost else '')
        marker = 'm-lost' if hop.lost else 'm-req'
        anchor = 'arrow-%d' % item.number
    else:
        ends = (hop.callee, callee_level, hop.caller, caller_level)
        failed = ' failed' if _answer_failed(hop) else ''
        label, label_class = item.outcome, 'label ans' + failed
        classes = 'arrow ans' + failed
        marker = 'm-ans' + ('-failed' if failed else '')
        anchor = 'answer-%d' % item.number
    title = '%d. %s %s %s: %s \u2192 %s' % (
        item.number, hop.caller, ARROW, hop.callee, item.label,
        item.outcome)
    out = ['<a href="#hop-%d" id="%s" class="row %s"><title>%s</title>'
           % (item.number, anchor, kind, _esc(title))]
    if request and hop.start is not None and origin is not None:
        out.append('<text class="time" x="%d" y="%d" text-anchor="end">'
                   '%+.3f s</text>' % (TIME_WIDTH - 10, y + 4,
                                       hop.start - origin))
    badge = _badge_width(item) if request else 0
    if ends[0] == ends[2]:
        shape, geometry, room, text, badge_at = _loop(layout, ends, y)
    else:
        shape, geometry, room, text, badge_at = _straight(layout, ends, y,
                                                          badge)
    out.append('<%s class="hit" %s/>' % (shape, geometry))
    out.append('<%s class="%s" %s marker-end="url(#%s)"/>'
               % (shape, classes, geometry, marker))
    if request:
        out.append('<rect class="badge%s" x="%s" y="%s" width="%d" '
                   'height="16" rx="8"/><text class="badge-num" x="%s" '
                   'y="%s" text-anchor="middle">%d</text>'
                   % (' failed' if hop.failed else '', _num(badge_at[0]),
                      _num(badge_at[1] - 8), badge,
                      _num(badge_at[0] + badge / 2), _num(badge_at[1] + 4),
                      item.number))
    out.append('<text class="%s" x="%s" y="%s" text-anchor="%s">%s</text>'
               '</a>\n' % (label_class, _num(text[0]), _num(text[1]),
                           text[2], _esc(_shorten(label, int(room / CHAR)))))
    return ''.join(out)


def _straight(layout, ends, y, badge):
    """An arrow between two lifelines: the label above it, centred."""
    source, source_level, target, target_level = ends
    right = layout.column[target] > layout.column[source]
    x1 = layout.edge(source, source_level, right)
    x2 = layout.edge(target, target_level, not right)
    geometry = ('x1="%s" y1="%d" x2="%s" y2="%d"'
                % (_num(x1), y, _num(x2), y))
    room = abs(x2 - x1) - badge - LABEL_PAD
    text = ((x1 + (badge if right else -badge) + x2) / 2, y - 7, 'middle')
    return 'line', geometry, room, text, (x1 - (0 if right else badge), y)


def _loop(layout, ends, y):
    """A call to oneself: out to the right and back, the label beside."""
    source, source_level, target, target_level = ends
    x1 = layout.edge(source, source_level, True)
    x2 = layout.edge(target, target_level, True)
    x_loop = max(x1, x2) + LOOP
    geometry = 'd="M%s,%dH%sV%dH%s"' % (_num(x1), y - 6, _num(x_loop),
                                        y + 6, _num(x2))
    room = layout.width - x_loop - 8
    # The badge sits on the loop's upper edge.
    return 'path', geometry, room, (x_loop + 6, y + 4, 'start'), (x1 + 6,
                                                                  y - 6)


# -- the hop list -------------------------------------------------------------

def _hop_list(hops):
    out = ['<section id="hops">\n<h2>Hops (%d)</h2>\n' % len(hops)]
    if not hops:
        out.append('<p class="muted">None.</p>\n')
    out.extend(_details(item) for item in hops)
    out.append('</section>\n')
    return ''.join(out)


def _details(item):
    hop = item.hop
    failed = hop.failed
    status_class = 'status failed' if _answer_failed(hop) else 'status'
    status = _status_word(hop)
    if hop.error:
        status += ' ' + hop.error
    summary = ['<span class="num">%d</span> %s %s %s <code>%s</code> '
               '<span class="%s">%s</span>'
               % (item.number, _esc(hop.caller), ARROW, _esc(hop.callee),
                  _esc(_shorten(item.label, SUMMARY_MAX)),
                  status_class,
                  _masked(status))]
    if hop.duration_ms is not None:
        summary.append(' <span class="muted">%s</span>'
                       % _esc(_duration(hop.duration_ms)))
    errors = _error_lines(hop)
    if errors:
        summary.append(' <span class="errors">%d ERROR line%s</span>'
                       % (errors, '' if errors == 1 else 's'))
    out = ['<details id="hop-%d" class="hop%s" style="--depth:%d"%s>'
           '<summary>%s</summary>\n<div class="hop-body">\n'
           % (item.number, ' failed' if failed else '',
              min(item.depth, MAX_DEPTH_INDENT), ' open' if failed else '',
              ''.join(summary))]
    out.append(_fields(hop))
    out.extend(_headers(hop.headers))
    out.extend(_bodies(hop.body))
    if hop.lines:
        out.append('<h3>Log lines (%d)</h3>\n' % len(hop.lines))
        out.append(_lines(hop.lines))
    out.append('<p><a href="#arrow-%d">Show in the diagram</a></p>\n'
               '</div>\n</details>\n' % item.number)
    return ''.join(out)


def _fields(hop):
    rows = [
        ('Call', '%s %s %s' % (hop.caller, ARROW, hop.callee)),
        ('Method', hop.method),
        ('URL', redact.free_text(hop.url) if hop.url else None),
        ('Path', redact.path(hop.path) if hop.path is not None else None),
        ('Query', redact.query(hop.query) if hop.query else None),
        ('Route', hop.route),
        ('Status', _status_word(hop)),
        ('Error', hop.error),
        ('Start', _utc(hop.start) if hop.start is not None else None),
        ('Duration', _duration(hop.duration_ms)),
        ('Global request id', hop.global_request_id),
        ('Request id', hop.request_id),
        ('Parent request id', hop.parent_request_id),
        ('Host', hop.host),
        ('Request bytes', hop.request_bytes),
        ('Response bytes', hop.response_bytes),
        ('Evidence', ', '.join(hop.evidence) if hop.evidence else None),
    ]
    out = ['<table class="kv">\n']
    out.extend('<tr><th>%s</th><td>%s</td></tr>\n'
               % (name, _masked(value) if isinstance(value, str)
                  else _esc(value))
               for name, value in rows if value is not None)
    out.append('</table>\n')
    return ''.join(out)


def _headers(headers):
    if not isinstance(headers, dict):
        return
    for side in ('request', 'response'):
        values = redact.headers(headers.get(side) or {})
        if not values:
            continue
        yield '<h3>%s headers</h3>\n<table class="kv">\n' % side.title()
        for name, value in values.items():
            yield '<tr><th>%s</th><td>%s</td></tr>\n' % (_esc(name),
                                                        _esc(value))
        yield '</table>\n'


def _bodies(body):
    if not isinstance(body, dict):
        return
    for side in ('request', 'response'):
        value = body.get(side)
        if value is None or value == '':
            continue
        if isinstance(value, dict):
            text = json.dumps(value, sort_keys=True, default=str)
        else:
            text = value if isinstance(value, str) else str(value)
        yield '<h3>%s body</h3>\n<pre>%s</pre>\n' % (side.title(),
                                                     _masked(text))


def _lines(lines):
    out = ['<div class="lines">\n']
    for line in lines:
        out.append('<div class="line%s" title="%s:%s">%s</div>\n'
                   % (' error' if line.error else '', _esc(line.source),
                      _esc(line.offset), _masked(line.text)))
    out.append('</div>\n')
    return ''.join(out)


def _orphans(lines):
    if not lines:
        return ''
    return ('<section id="orphans">\n<h2>Lines outside any hop (%d)</h2>\n'
            '%s</section>\n' % (len(lines), _lines(lines)))
