"""The trace of one action: records in, a tree of hops out.

Plain data classes shared by every step of ``global-reqid-trace``:
sources and the scanner yield :class:`RawLine`, the parser turns log lines
into :class:`LogLine` (events stay dicts, as :mod:`global_reqid.events`
writes them), :mod:`~global_reqid.trace.correlate` builds a :class:`Trace`
of :class:`Hop` objects, and every renderer is a pure function of a
:class:`Trace`. Times are seconds since the epoch (UTC), floats.
"""

import dataclasses
import typing

#: The participant name for the program that started the action when
#: nothing names it (an ``openstack`` command, a script).
CLIENT = 'client'

#: Log levels that flag a line (and its hop) as an error.
ERROR_LEVELS = frozenset(('ERROR', 'CRITICAL', 'FATAL'))

#: ``LogLine.kind`` values.
KIND_LOG = 'log'          # any other log line
KIND_ACCESS = 'access'    # a server's access line: method, path, status, time
KIND_REQUEST = 'request'  # a server noting a request it received
KIND_CALL = 'call'        # a caller's line about an outbound call (REQ:,
#                           RESP:, "call to X for URL used request id Y")


@dataclasses.dataclass
class RawLine:
    """One line found by the scanner, not parsed yet."""

    source: str                 # the file's path, '-' or 'journal'
    offset: int                 # byte offset of the line in its source
    data: bytes                 # the line, without its newline


@dataclasses.dataclass
class LogLine:
    """One parsed log line (oslo.log text or JSON, ours, access, journal).

    Fields a format does not carry are ``None``. ``service`` is the
    participant the line belongs to: from the journal unit or program
    name, the file name (``glance-api.log`` -> ``glance-api``, access logs
    lose their ``-access`` suffix), else the logger's top package.
    """

    source: str
    offset: int
    text: str                   # the whole line, as written (one line)
    time: typing.Optional[float] = None
    level: typing.Optional[str] = None
    logger: typing.Optional[str] = None
    pid: typing.Optional[int] = None
    service: typing.Optional[str] = None
    global_request_id: typing.Optional[str] = None
    request_id: typing.Optional[str] = None
    user_id: typing.Optional[str] = None
    project_id: typing.Optional[str] = None
    message: str = ''
    error: bool = False         # ERROR/CRITICAL level or a traceback line
    kind: str = KIND_LOG
    # What access, request and call lines say (None otherwise).
    method: typing.Optional[str] = None
    path: typing.Optional[str] = None    # path[?query] as logged, masked
    url: typing.Optional[str] = None     # a call's full URL, masked
    target: typing.Optional[str] = None  # a call's service type or host
    status: typing.Optional[int] = None
    duration_ms: typing.Optional[float] = None
    # The callee's local id a call line names, or the id an access line
    # answered (``out_reqid=``); the inbound header for ``in_reqid=``.
    callee_request_id: typing.Optional[str] = None
    inbound_request_id: typing.Optional[str] = None


@dataclasses.dataclass
class Hop:
    """One call: ``caller`` asked ``callee``, and got (or not) an answer.

    Built from a server event, a client event, both (paired by the
    callee's local id), or, in retroactive mode, from log lines alone.
    ``request_id`` is the callee's local id (``None`` when the callee
    recorded nothing and did not answer one); ``parent_request_id`` the
    caller's local id. ``children`` are the calls the callee made while
    serving this one, in causal then time order; ``lines`` the log lines
    that carry ``request_id``, in time order.
    """

    caller: str
    callee: str
    method: typing.Optional[str] = None
    path: typing.Optional[str] = None     # masked, without the query
    query: typing.Optional[str] = None    # masked
    route: typing.Optional[str] = None
    url: typing.Optional[str] = None      # full URL when a client knew it
    status: typing.Optional[int] = None
    error: typing.Optional[str] = None    # exception class, if any
    start: typing.Optional[float] = None
    duration_ms: typing.Optional[float] = None
    global_request_id: typing.Optional[str] = None
    request_id: typing.Optional[str] = None
    parent_request_id: typing.Optional[str] = None
    request_bytes: typing.Optional[int] = None
    response_bytes: typing.Optional[int] = None
    host: typing.Optional[str] = None
    headers: typing.Optional[dict] = None  # {'request': {}, 'response': {}}
    body: typing.Optional[dict] = None     # {'request': .., 'response': ..}
    #: Where the hop came from: any of 'server', 'client', 'logs'.
    evidence: typing.Tuple[str, ...] = ()
    lines: typing.List[LogLine] = dataclasses.field(default_factory=list)
    children: typing.List['Hop'] = dataclasses.field(default_factory=list)

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


@dataclasses.dataclass
class Stats:
    """What the scan saw: shown in "no records" errors and ``--verbose``."""

    files: int = 0
    bytes: int = 0
    lines: int = 0              # lines scanned (estimated on big files)
    matched: int = 0            # lines that held an id of the action
    events: int = 0
    skipped: int = 0            # corrupt or truncated lines
    skipped_where: typing.List[str] = dataclasses.field(
        default_factory=list)  # "<source>:<offset>: <reason>", capped
    warnings: typing.List[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Trace:
    """Everything found for one action."""

    global_request_id: str
    queried_id: str                       # what the user asked for
    roots: typing.List[Hop] = dataclasses.field(default_factory=list)
    #: Participants in order of first appearance (caller before callee).
    participants: typing.List[str] = dataclasses.field(default_factory=list)
    #: Lines of the action that belong to no hop (before a service's
    #: context was set, or hops the logs do not show), in time order.
    orphan_lines: typing.List[LogLine] = dataclasses.field(
        default_factory=list)
    #: 'events', 'logs' (retroactive: stock logs only) or 'mixed'.
    mode: str = 'events'
    stats: Stats = dataclasses.field(default_factory=Stats)

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


_HOP_SCALARS = tuple(f.name for f in dataclasses.fields(Hop)
                     if f.name not in ('lines', 'children', 'evidence'))


def _line_dict(line):
    return {f.name: getattr(line, f.name)
            for f in dataclasses.fields(LogLine)}


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
    stats = trace.stats if trace.stats is not None else Stats()
    return {
        'global_request_id': trace.global_request_id,
        'queried_id': trace.queried_id,
        'mode': trace.mode,
        'participants': list(trace.participants),
        'failed': trace.failed,
        'hops': hops,
        'orphan_lines': [_line_dict(line) for line in trace.orphan_lines],
        'stats': dataclasses.asdict(stats),
    }
