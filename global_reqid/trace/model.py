"""The trace of one action: records in, a tree of hops out.

Plain record classes shared by every step of ``global-reqid-trace``:
sources and the scanner yield :class:`RawLine`, the parser turns log lines
into :class:`LogLine` (events stay dicts, as :mod:`global_reqid.events`
writes them), :mod:`~global_reqid.trace.correlate` builds a :class:`Trace`
of :class:`Hop` objects, and every renderer is a pure function of a
:class:`Trace`. Times are seconds since the epoch (UTC), floats.

NOTE: records are small slotted classes, not dataclasses: the command
imports this module on every run, and ``dataclasses`` (with ``inspect``)
costs more to import than the rest of it.
"""

_REQUIRED = object()
_NEW_LIST = object()


class _Record:
    """Keyword (or positional) fields with defaults, compared by value."""

    __slots__ = ()
    #: ((name, default), ...): ``_REQUIRED`` or ``_NEW_LIST`` as defaults.
    FIELDS = ()

    def __init__(self, *args, **kwargs):
        fields = self.FIELDS
        if len(args) > len(fields):
            raise TypeError('%s takes at most %d positional arguments'
                            % (type(self).__name__, len(fields)))
        for index, (name, default) in enumerate(fields):
            if index < len(args):
                if name in kwargs:
                    raise TypeError('%s got two values for %r'
                                    % (type(self).__name__, name))
                value = args[index]
            elif name in kwargs:
                value = kwargs.pop(name)
            elif default is _REQUIRED:
                raise TypeError('%s needs %r' % (type(self).__name__, name))
            elif default is _NEW_LIST:
                value = []
            else:
                value = default
            setattr(self, name, value)
        if kwargs:
            raise TypeError('%s has no field %r'
                            % (type(self).__name__, sorted(kwargs)[0]))

    def _values(self):
        return tuple(getattr(self, name) for name, _ in self.FIELDS)

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    __hash__ = None

    def __repr__(self):
        return '%s(%s)' % (type(self).__name__, ', '.join(
            '%s=%r' % (name, getattr(self, name))
            for name, _ in self.FIELDS))

    def replace(self, **changes):
        """A copy with ``changes`` applied."""
        values = {name: getattr(self, name) for name, _ in self.FIELDS}
        values.update(changes)
        return type(self)(**values)


def _slots(fields):
    return tuple(name for name, _ in fields)


def as_dict(record):
    """The fields of a record (not nested records) as a dict."""
    return {name: getattr(record, name) for name, _ in record.FIELDS}


#: The participant name for the program that started the action when
#: nothing names it (an ``openstack`` command, a script).
CLIENT = 'client'
#: The method of a hop that is work handed over by RPC (nova-api's local id
#: in nova-conductor's lines), not an HTTP call.
RPC = 'RPC'

#: Log levels that flag a line (and its hop) as an error.
ERROR_LEVELS = frozenset(('ERROR', 'CRITICAL', 'FATAL'))

#: ``LogLine.kind`` values.
KIND_LOG = 'log'          # any other log line
KIND_ACCESS = 'access'    # a server's access line: method, path, status, time
KIND_REQUEST = 'request'  # a server noting a request it received
KIND_CALL = 'call'        # a caller's line about an outbound call (REQ:,
#                           RESP:, "call to X for URL used request id Y")


class RawLine(_Record):
    """One line found by the scanner, not parsed yet: ``source`` (the
    file's path, ``-`` or ``journal``), ``offset`` (byte offset of the
    line in its source), ``data`` (the line, bytes, without its newline).
    """

    FIELDS = (('source', _REQUIRED), ('offset', _REQUIRED),
              ('data', _REQUIRED))
    __slots__ = _slots(FIELDS)


class LogLine(_Record):
    """One parsed log line (oslo.log text or JSON, ours, access, journal).

    Fields a format does not carry are ``None``. ``service`` is the
    participant the line belongs to: from the journal unit or program
    name, the file name (``glance-api.log`` -> ``glance-api``, access logs
    lose their ``-access`` suffix), else the logger's top package.

    ``text`` (the whole line, one line) and ``message`` are always read
    masked. A parser may pass them raw with ``masker``, a function
    ``(text, message) -> (text, message)`` run the first time either is
    read: most lines of a trace are never shown, and masking costs more
    than parsing.
    """

    FIELDS = (
        ('source', _REQUIRED), ('offset', _REQUIRED), ('text', _REQUIRED),
        ('time', None), ('level', None), ('logger', None), ('pid', None),
        ('service', None), ('global_request_id', None), ('request_id', None),
        ('user_id', None), ('project_id', None), ('message', ''),
        # ERROR/CRITICAL level or a traceback line
        ('error', False),
        ('kind', KIND_LOG),
        # What access, request and call lines say (None otherwise): path
        # is path[?query] as logged, url a call's full URL, both masked;
        # target a call's service type or host.
        ('method', None), ('path', None), ('url', None), ('target', None),
        ('status', None), ('duration_ms', None),
        # The callee's local id a call line names, or the id an access
        # line answered (``out_reqid=``); the inbound header for
        # ``in_reqid=``.
        ('callee_request_id', None), ('inbound_request_id', None),
    )
    __slots__ = tuple(name for name in _slots(FIELDS)
                      if name not in ('text', 'message')) + (
        '_text', '_message', '_masker')

    def __init__(self, *args, masker=None, **kwargs):
        self._masker = None
        super().__init__(*args, **kwargs)
        self._masker = masker

    def _unmask(self):
        masker, self._masker = self._masker, None
        self._text, self._message = masker(self._text, self._message)

    @property
    def text(self):
        if self._masker is not None:
            self._unmask()
        return self._text

    @text.setter
    def text(self, value):
        self._text = value

    @property
    def message(self):
        if self._masker is not None:
            self._unmask()
        return self._message

    @message.setter
    def message(self, value):
        self._message = value

    def replace(self, **changes):
        """A copy with ``changes`` applied (text and message masked)."""
        return super().replace(**changes)


class Hop(_Record):
    """One call: ``caller`` asked ``callee``, and got (or not) an answer.

    Built from a server event, a client event, both (paired by the
    callee's local id), or, in retroactive mode, from log lines alone.
    ``request_id`` is the callee's local id (``None`` when the callee
    recorded nothing and did not answer one); ``parent_request_id`` the
    caller's local id. ``path`` is masked and without the query,
    ``query`` masked, ``url`` the full URL when a client knew it, ``error``
    the exception class if any, ``headers`` ``{'request': {}, 'response':
    {}}`` and ``body`` ``{'request': .., 'response': ..}`` when captured.
    ``evidence`` says where the hop came from: any of ``'server'``,
    ``'client'``, ``'logs'``. ``children`` are the calls the callee made
    while serving this one, in causal then time order; ``lines`` the log
    lines that carry ``request_id``, in time order.
    """

    FIELDS = (
        ('caller', _REQUIRED), ('callee', _REQUIRED),
        ('method', None), ('path', None), ('query', None), ('route', None),
        ('url', None), ('status', None), ('error', None), ('start', None),
        ('duration_ms', None), ('global_request_id', None),
        ('request_id', None), ('parent_request_id', None),
        ('request_bytes', None), ('response_bytes', None), ('host', None),
        ('headers', None), ('body', None), ('evidence', ()),
        ('lines', _NEW_LIST), ('children', _NEW_LIST),
    )
    __slots__ = _slots(FIELDS)

    @property
    def answer_unlogged(self):
        """No status and no error, and only log lines to go by: the answer
        was not logged (keystone writes no access line), not lost."""
        return (self.status is None and self.error is None
                and 'server' not in self.evidence
                and 'client' not in self.evidence)

    @property
    def lost(self):
        """Asked and never answered, as far as the records tell."""
        return self.status is None and not self.answer_unlogged

    @property
    def failed(self):
        """True for an error answer (4xx, 5xx), no answer, or ERROR lines."""
        if self.error is not None:
            return True
        if self.status is not None and self.status >= 400:
            return True
        return any(line.error for line in self.lines)

    def walk(self):
        """This hop, then every hop under it, depth first, in order."""
        stack = [self]
        while stack:
            hop = stack.pop()
            yield hop
            stack.extend(reversed(hop.children))


class Stats(_Record):
    """What the scan saw: shown in "no records" errors and ``--verbose``.

    ``lines`` is the lines scanned (estimated on big files), ``matched``
    the lines that held an id of the action, ``skipped`` the corrupt or
    truncated lines, ``skipped_where`` "<source>:<offset>: <reason>" for
    each of them (capped).
    """

    FIELDS = (('files', 0), ('bytes', 0), ('lines', 0), ('matched', 0),
              ('events', 0), ('skipped', 0), ('skipped_where', _NEW_LIST),
              ('warnings', _NEW_LIST))
    __slots__ = _slots(FIELDS)


class Trace(_Record):
    """Everything found for one action.

    ``queried_id`` is what the user asked for; ``participants`` in order of
    first appearance (caller before callee); ``orphan_lines`` the lines of
    the action that belong to no hop (before a service's context was set,
    or hops the logs do not show), in time order; ``mode`` is 'events',
    'logs' (retroactive: stock logs only) or 'mixed'.
    """

    FIELDS = (('global_request_id', _REQUIRED), ('queried_id', _REQUIRED),
              ('roots', _NEW_LIST), ('participants', _NEW_LIST),
              ('orphan_lines', _NEW_LIST), ('mode', 'events'),
              ('stats', None))
    __slots__ = _slots(FIELDS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.stats is None:
            self.stats = Stats()

    def hops(self):
        """Every hop, depth first, in order."""
        for root in self.roots:
            yield from root.walk()

    @property
    def start(self):
        """The earliest known start of any hop, or ``None``."""
        times = [hop.start for hop in self.hops() if hop.start is not None]
        return min(times) if times else None

    @property
    def failed(self):
        return any(hop.failed for hop in self.hops())


_HOP_SCALARS = tuple(name for name, _ in Hop.FIELDS
                     if name not in ('lines', 'children', 'evidence'))


def _line_dict(line):
    return as_dict(line)


def _hop_dict(hop):
    out = {name: getattr(hop, name) for name in _HOP_SCALARS}
    out['evidence'] = list(hop.evidence)
    out['failed'] = hop.failed
    out['lines'] = [_line_dict(line) for line in hop.lines]
    out['children'] = []
    return out


def to_dict(trace):
    """The trace as plain JSON-ready data (see ``doc/source/trace.rst``).

    Iterative, not recursive: an action may nest deeper than Python's
    recursion limit.
    """
    hops = []
    stack = [(root, hops) for root in reversed(trace.roots)]
    while stack:
        hop, siblings = stack.pop()
        out = _hop_dict(hop)
        siblings.append(out)
        stack.extend((child, out['children'])
                     for child in reversed(hop.children))
    stats = trace.stats if isinstance(trace.stats, Stats) else Stats()
    return {
        'global_request_id': trace.global_request_id,
        'queried_id': trace.queried_id,
        'mode': trace.mode,
        'participants': list(trace.participants),
        'failed': trace.failed,
        'hops': hops,
        'orphan_lines': [_line_dict(line) for line in trace.orphan_lines],
        'stats': {name: list(value) if isinstance(value, list) else value
                  for name, value in as_dict(stats).items()},
    }
