"""The trace as a Mermaid ``sequenceDiagram``.

Participants are declared in the order of the trace, under safe aliases
(``P0``, ``P1`` ...) with their names as display text; then, depth first,
each hop is a request arrow, the calls the callee made while serving it,
an error note when the callee logged errors, and an answer arrow::

    %% global request id req-...
    sequenceDiagram
        autonumber
        participant P0 as client
        participant P1 as glance-api
        P0->>P1: POST /v2/images
        activate P1
        ...
        P1-->>P0: 201 (84.2 ms)
        deactivate P1

``autonumber`` numbers every arrow, so hop N's request and answer are
not arrows N and N+1: :func:`arrows` gives their numbers, and the Markdown
dump shows them beside its hop numbers.

Names and messages may hold any character. Those Mermaid reads as syntax
are written as Mermaid entity codes (``#59;``), which Mermaid turns back
into the characters when it draws: ``;`` ends a statement, ``#`` starts a
comment or an entity code, ``wrap:`` starts a directive, ``<``, ``>`` and
``&`` are HTML, ``%%{`` anywhere starts an init directive (which could
change the diagram's security level), quotes and backticks delimit strings
in other diagram types.
"""

from global_reqid.events import redact
from global_reqid.trace import model
from global_reqid.trace.render import text

#: Characters written as entity codes: Mermaid syntax, HTML, and the
#: characters Mermaid itself uses as entity placeholders (``ﬂ°``, ``¶ß``).
SPECIAL = frozenset('#;:<>&"\'`{}|\\\ufb02\u00b0\u00b6\u00df')

#: Longest message shown on an arrow or a note; the middle is cut.
MAX_MESSAGE = 80

INDENT = '    '


def escape(value, default='?'):
    """``value`` as Mermaid text: one line, syntax written as entity
    codes, never empty (``default`` instead)."""
    value = ' '.join(text.clean(value).split())
    if not value:
        value = default
    if not SPECIAL.intersection(value):
        return value
    return ''.join('#%d;' % ord(char) if char in SPECIAL else char
                   for char in value)


def shorten(value, limit=MAX_MESSAGE):
    """Cut the middle of a long value, keeping both ends readable."""
    if len(value) <= limit:
        return value
    keep = limit - 1
    return value[:keep - keep // 3] + '…' + value[len(value) - keep // 3:]


def arrows(steps):
    """``{hop number: (request arrow, answer arrow)}`` as ``autonumber``
    counts them, for the :class:`~global_reqid.trace.render.text.Step`
    list of a trace (:func:`text.walk`)."""
    out = {}
    counter = 0
    open_hops = []  # (number, depth) awaiting their answer arrow
    requests = {}
    for step in steps:
        depth = len(step.lasts)
        while open_hops and open_hops[-1][1] >= depth:
            counter += 1
            number = open_hops.pop()[0]
            out[number] = (requests[number], counter)
        counter += 1
        requests[step.number] = counter
        open_hops.append((step.number, depth))
    while open_hops:
        counter += 1
        number = open_hops.pop()[0]
        out[number] = (requests[number], counter)
    return out


def _participants(trace, steps):
    """Aliases in order: the trace's participants, then any name a hop
    uses that the trace did not list."""
    aliases = {}
    names = list(trace.participants or ())
    for step in steps:
        names.extend((step.hop.caller, step.hop.callee))
    for name in names:
        key = text.clean(name, text.UNKNOWN)
        if key not in aliases:
            aliases[key] = 'P%d' % len(aliases)
    return aliases


def _request(hop):
    return escape(shorten(text.request(hop)))


def _answer(hop):
    words = text.answer(hop)
    took = text.duration(hop.duration_ms)
    if took == text.UNKNOWN:
        pass
    elif hop.status is None and hop.error is not None:
        words = '%s, %s)' % (words[:-1], took)
    else:
        words = '%s (%s)' % (words, took)
    return escape(shorten(words))


def _note(hop):
    for line in hop.lines or ():
        if line.error:
            message = redact.free_text(line.message or line.text or '')
            return escape(shorten('%s %s' % (
                text.clean(line.level, 'ERROR'), text.clean(message))))
    return None


def _close(out, hop, aliases):
    caller = aliases[text.clean(hop.caller, text.UNKNOWN)]
    callee = aliases[text.clean(hop.callee, text.UNKNOWN)]
    note = _note(hop)
    if note:
        out.append('%sNote over %s: %s' % (INDENT, callee, note))
    arrow = '--x' if hop.lost else '-->>'
    out.append('%s%s%s%s: %s' % (INDENT, callee, arrow, caller,
                                 _answer(hop)))
    out.append('%sdeactivate %s' % (INDENT, callee))


def render(trace):
    """Render ``trace`` as Mermaid ``sequenceDiagram`` source (ends in a
    newline)."""
    steps = list(text.walk(trace.roots))
    aliases = _participants(trace, steps)
    out = ['%%%% global request id %s' % escape(trace.global_request_id)]
    if trace.queried_id and trace.queried_id != trace.global_request_id:
        out.append('%%%% queried as %s' % escape(trace.queried_id))
    out.append('%%%% %s, %d hop%s' % (escape(text.mode(trace)), len(steps),
                                     '' if len(steps) == 1 else 's'))
    out.append('sequenceDiagram')
    out.append(INDENT + 'autonumber')
    for name, alias in aliases.items():
        out.append('%sparticipant %s as %s' % (INDENT, alias, escape(name)))
    open_hops = []  # (hop, depth) awaiting their answer arrow
    for step in steps:
        depth = len(step.lasts)
        while open_hops and open_hops[-1][1] >= depth:
            _close(out, open_hops.pop()[0], aliases)
        hop = step.hop
        caller = aliases[text.clean(hop.caller, text.UNKNOWN)]
        callee = aliases[text.clean(hop.callee, text.UNKNOWN)]
        # NOTE: work handed over by RPC is drawn as Mermaid's async
        # message (open arrowhead): no HTTP request was made.
        arrow = '-)' if hop.method == model.RPC else '->>'
        out.append('%s%s%s%s: %s' % (INDENT, caller, arrow, callee,
                                     _request(hop)))
        out.append('%sactivate %s' % (INDENT, callee))
        open_hops.append((hop, depth))
    while open_hops:
        _close(out, open_hops.pop()[0], aliases)
    return '\n'.join(out) + '\n'
