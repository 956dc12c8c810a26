"""The trace as a Markdown request/response dump.

What a developer pastes under the sequence diagram in a write-up of one
action: a summary of the trace, a table of every hop, then one section per
hop with the request (method, URL, headers), the response (status,
headers), the bodies when they were captured, and the hop's log lines in a
collapsed ``<details>`` block.

Hops are numbered as ``--format text`` numbers them (depth first, by hop);
the sequence diagram's ``autonumber`` counts requests and answers apart,
so the table gives each hop's arrow numbers too.

Secrets were masked when the events were written; headers, bodies, URLs
and log lines are masked again here (:mod:`global_reqid.events.redact`),
in case a source held raw values.
"""

import html
import json
import re

from global_reqid.events import redact
from global_reqid.trace.render import mermaid
from global_reqid.trace.render import text

# Inline Markdown (CommonMark and GitHub): emphasis, code, links, HTML,
# entities, tables, strikethrough, math, heading closers.
_INLINE = re.compile(r'([\\`*_\[\]<>&|~$#!])')
_BACKTICKS = re.compile(r'`+')


def inline(value, default='—'):
    """``value`` as inline Markdown text: one line, syntax escaped."""
    value = text.clean(value)
    if not value:
        return default
    return _INLINE.sub(r'\\\1', value)


def code(value, default='—'):
    """``value`` as an inline code span, whatever backticks it holds."""
    value = text.clean(value)
    if not value:
        return default
    longest = max((len(run) for run in _BACKTICKS.findall(value)), default=0)
    ticks = '`' * (longest + 1)
    if value.startswith('`') or value.endswith('`') or (
            value.startswith(' ') and value.endswith(' ')):
        value = ' %s ' % value
    return '%s%s%s' % (ticks, value, ticks)


def cell(markdown):
    """Inline Markdown made safe in a table cell (``|`` ends a cell, even
    inside a code span)."""
    return markdown.replace('|', '\\|')


def fenced(body, language=''):
    """``body`` in a fenced code block longer than any backtick run in
    it; control characters other than newline and tab escaped."""
    body = text.clean(body, multiline=True)
    longest = max((len(run) for run in _BACKTICKS.findall(body)), default=0)
    fence = '`' * max(3, longest + 1)
    if not body.endswith('\n'):
        body += '\n'
    return '%s%s\n%s%s' % (fence, language, body, fence)


def _plural(count, word):
    return '%d %s%s' % (count, word, '' if count == 1 else 's')


def _answer(hop):
    words = text.answer(hop)
    return '%s %s' % (text.FAILED_MARK, words) if hop.failed else words


def _target(hop):
    """The URL when a client knew it, else the path and query."""
    if hop.url:
        return redact.path(redact.free_text(hop.url))
    return text.request(hop).partition(' ')[2]


def _summary(trace, steps):
    first, last = text.span(steps)
    failed = sum(1 for step in steps if step.hop.failed)
    errors = sum(1 for step in steps for line in step.hop.lines or ()
                 if line.error)
    orphans = list(trace.orphan_lines or ())
    errors += sum(1 for line in orphans if line.error)
    out = ['- **Global request id:** %s' % code(trace.global_request_id)]
    if trace.queried_id and trace.queried_id != trace.global_request_id:
        out.append('- **Queried id:** %s' % code(trace.queried_id))
    out.append('- **Found:** %s' % inline(text.mode(trace)))
    out.append('- **Participants:** %s' % (', '.join(
        inline(name, text.UNKNOWN) for name in trace.participants or ())
        or '—'))
    if first is not None:
        out.append('- **Started:** %s, span %s' % (
            text.utc(first), text.duration((last - first) * 1000.0)))
    out.append('- **Hops:** %d, %d failed; %s%s' % (
        len(steps), failed, _plural(errors, 'error line'),
        '; %s outside any hop' % _plural(len(orphans), 'log line')
        if orphans else ''))
    stats = trace.stats
    if stats is not None:
        out.append('- **Scanned:** %s, %s lines, %s events' % (
            _plural(stats.files or 0, 'file'),
            format(stats.lines or 0, ','), format(stats.events or 0, ',')))
    return out


def _table(steps, numbers):
    out = [
        '| # | Within | Caller | Callee | Method | Path | Status '
        '| Duration | Arrows |',
        '|--:|--:|---|---|---|---|---|--:|---|',
    ]
    for step in steps:
        hop = step.hop
        path = text.request(hop).partition(' ')[2]
        request_arrow, answer_arrow = numbers.get(step.number, ('', ''))
        out.append('| %s |' % ' | '.join([
            str(step.number),
            str(step.parent) if step.parent is not None else '',
            cell(inline(hop.caller, text.UNKNOWN)),
            cell(inline(hop.callee, text.UNKNOWN)),
            cell(inline(hop.method, text.UNKNOWN)),
            cell(code(path)),
            cell(inline(_answer(hop))),
            text.duration(hop.duration_ms),
            '%s, %s' % (request_arrow, answer_arrow),
        ]))
    return out


def _headers(values):
    masked = redact.headers(values) if values else {}
    if not masked:
        return []
    out = ['| Header | Value |', '|---|---|']
    for name, value in masked.items():
        out.append('| %s | %s |' % (cell(code(name)), cell(code(value))))
    return out


def _body(value):
    """The lines showing one captured body, or [] when there is none."""
    if value is None or value == '':
        return []
    if isinstance(value, dict):
        return [_body_summary(value)]
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode('utf-8', 'replace')
    if not isinstance(value, str):
        value = json.dumps(value, default=str, ensure_ascii=False)
    masked = redact.free_text(value)
    language = 'text'
    try:
        parsed = json.loads(masked)
    except ValueError:
        pass
    else:
        if isinstance(parsed, (dict, list)):
            masked = json.dumps(parsed, indent=2, ensure_ascii=False)
            language = 'json'
    return [fenced(masked, language)]


def _body_summary(value):
    if value.get('binary'):
        size = value.get('bytes')
        kind = value.get('content_type')
        return '*Binary body, not shown: %s%s.*' % (
            '%s bytes' % format(size, ',') if isinstance(size, int)
            else 'size unknown',
            ', %s' % inline(kind) if kind else '')
    if 'omitted' in value:
        return '*Body omitted: %s.*' % inline(value.get('omitted'))
    return '*Body: %s.*' % inline(redact.free_text(
        json.dumps(value, default=str, ensure_ascii=False)))


def _side(hop, side):
    headers = (hop.headers or {}).get(side) if isinstance(
        hop.headers, dict) else None
    body = (hop.body or {}).get(side) if isinstance(hop.body, dict) else None
    out = []
    table = _headers(headers)
    if table:
        out += [''] + table
    shown = _body(body)
    if shown:
        out += [''] + shown
    return out


def _log_lines(lines, label):
    errors = sum(1 for line in lines if line.error)
    summary = '%s (%d%s)' % (label, len(lines),
                             ', %s' % _plural(errors, 'error') if errors
                             else '')
    shown = []
    for line in lines:
        shown.append('%s %s%s %s: %s' % (
            text.utc(line.time, '-'),
            text.FAILED_MARK + ' ' if line.error else '',
            text.clean(line.level, '-'),
            text.clean(line.logger if line.logger is not None
                       else line.service, '-'),
            text.clean(redact.free_text(line.message or ''))))
    return ['', '<details>', '<summary>%s</summary>' % html.escape(summary),
            '', fenced('\n'.join(shown), 'text'), '', '</details>']


def _section(step, numbers, first):
    hop = step.hop
    out = ['', '### %d. %s → %s: %s %s' % (
        step.number, inline(hop.caller, text.UNKNOWN),
        inline(hop.callee, text.UNKNOWN), inline(hop.method, text.UNKNOWN),
        inline(text.request(hop).partition(' ')[2])), '']
    facts = []
    if step.number in numbers:
        facts.append('- **Arrows:** %d (request) and %d (answer) in the '
                     'sequence diagram' % numbers[step.number])
    if step.parent is not None:
        facts.append('- **Within:** hop %d' % step.parent)
    if hop.start is not None:
        facts.append('- **Started:** %s (%s)' % (
            text.utc(hop.start), text.offset(hop.start, first)))
    facts.append('- **Duration:** %s' % text.duration(hop.duration_ms))
    facts.append('- **Request id:** %s' % code(hop.request_id))
    if hop.parent_request_id:
        facts.append('- **Caller\'s request id:** %s'
                     % code(hop.parent_request_id))
    if hop.route:
        facts.append('- **Route:** %s' % code(hop.route))
    if hop.host:
        facts.append('- **Host:** %s' % inline(hop.host))
    if hop.evidence:
        facts.append('- **Seen in:** %s' % inline(', '.join(
            text.clean(kind) for kind in hop.evidence)))
    out += facts
    out += ['', '#### Request', '',
            '%s %s' % (code(hop.method, text.UNKNOWN), code(_target(hop)))]
    if hop.request_bytes is not None:
        out += ['', '%s bytes' % inline(hop.request_bytes)]
    out += _side(hop, 'request')
    out += ['', '#### Response', '', '**%s**' % inline(_answer(hop))]
    if hop.response_bytes is not None:
        out += ['', '%s bytes' % inline(hop.response_bytes)]
    out += _side(hop, 'response')
    if hop.lines:
        out += _log_lines(hop.lines, 'Log lines')
    return out


def render(trace):
    """Render ``trace`` as a Markdown request/response dump (ends in a
    newline)."""
    steps = list(text.walk(trace.roots))
    numbers = mermaid.arrows(steps)
    first, _ = text.span(steps)
    out = ['# Trace %s' % inline(trace.global_request_id, text.UNKNOWN), '']
    out += _summary(trace, steps)
    out += ['', '## Hops', '',
            'Hops are numbered depth first, as `global-reqid-trace` lists '
            'them: the calls a service made while serving hop N follow N '
            '(*Within* names it). The sequence diagram numbers every arrow, '
            'so each hop has two numbers there (*Arrows*: request, answer).',
            '']
    if steps:
        out += _table(steps, numbers)
    else:
        out.append('*No hops.*')
    if steps:
        out += ['', '## Requests and responses']
    for step in steps:
        out += _section(step, numbers, first)
    orphans = list(trace.orphan_lines or ())
    if orphans:
        out += ['', '## Log lines outside any hop']
        out += _log_lines(orphans, 'Lines')
    return '\n'.join(out) + '\n'
