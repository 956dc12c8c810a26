"""Correlate the records of one action into one tree of hops.

Pure functions, no I/O: events (dicts, as :mod:`global_reqid.events`
writes them) and parsed log lines (:class:`~global_reqid.trace.model.LogLine`)
in, one :class:`~global_reqid.trace.model.Trace` out.

* **Events.** One hop per server event. A client event joins the hop of
  the server event whose ``request_id`` the callee answered, else a hop
  made from logs with that id, else it is a hop of its own (the callee
  recorded nothing).
* **Logs.** Lines carrying a hop's local id are attached under it. Lines of
  request ids no event covers make hops of their own: with no events at all
  (retroactive mode: stock oslo.log logs) every ``(service, request id)``
  group does; with events, only groups that show a request (an access or
  request line) or make calls, or that a client event, a call line or a
  parent id points at (other lines of the action are orphans).
  A group is split into one hop per request: each access line ends one
  request, each request line (``Determining version of request: GET /``,
  keystone's ``REQUEST_METHOD``) starts one, and the other lines go to the
  request whose time window holds them. With access lines present they are
  the ground truth: request lines no access line accounts for are stale
  context (oslo.context's thread-local outlives its request) and go to
  :attr:`~global_reqid.trace.model.Trace.orphan_lines`.
* **Names.** An access log's service name (from its file name, ``glance``)
  is merged with the participant whose name it is a prefix of, or that is
  a prefix of it, at a ``-``/``_``/``.`` boundary (``glance-api``): the
  oslo.log or event name wins; when several match, the one sharing request
  ids with the access lines wins, and if that is still ambiguous the
  access name stays.
* **Nesting.** Causal first: a hop is the child of the hop whose
  ``request_id`` is its ``parent_request_id``, or of the hop that logged a
  keystoneauth call line naming its id. Only when no link is known, a hop
  whose caller is a service ``S`` nests in the innermost hop served by
  ``S`` whose ``[start, start + duration]`` holds the call's start. Time
  never overrides a link (clocks on different hosts disagree), and no input
  makes a cycle: a cycle's edge is cut, a time edge first.
* **Times.** Access line times are taken as the request's end (gunicorn,
  oslo.service's wsgi); a time with no fraction is read as a whole second
  that may hide up to one second, and windows are widened so that a start
  time (Apache's ``%t``) still matches.
"""

import bisect
import datetime
import math
import operator
import urllib.parse

from global_reqid import ids
from global_reqid.events import route as route_mod
from global_reqid.trace import model

#: Evidence kinds that come from our filter or client hook.
EVENT_EVIDENCE = frozenset(('server', 'client'))
#: Seconds of slack around an access line's window: a line logged just
#: after the response was sent, two clocks read in one process.
WINDOW_SLACK = 0.05
#: Seconds apart a client event and an access line that answered no id
#: may start and still be one call (two hosts, two clocks).
UNANSWERED_SLACK = 60.0

_NO_TIME = (True, 0.0)


def global_id_for(queried_id, events, lines):
    """Return the global id of the action ``queried_id`` belongs to.

    ``queried_id`` is some hop's local id when a server event has it as
    ``request_id`` with a valid ``global_request_id``, a client event as
    the caller's or the callee's local id, a log line as its local id with
    another valid id in the global column, or an access line as the id it
    answered with another valid inbound id: that global id is returned.
    Otherwise ``queried_id`` itself (a global id, or a root's local id,
    which is the global id).
    """
    valid = ids.is_valid_request_id
    for event in events:
        if type(event) is not dict:
            continue
        found = event.get('global_request_id')
        if found == queried_id or not valid(found):
            continue
        kind = event.get('kind')
        if kind == 'server' and event.get('request_id') == queried_id:
            return found
        if kind == 'client' and queried_id in (
                event.get('request_id'), event.get('callee_request_id')):
            return found
    from_access = None
    for line in lines:
        local, inbound = _line_ids(line)
        if local != queried_id or inbound == queried_id or not valid(inbound):
            continue
        if line.kind != model.KIND_ACCESS:
            return inbound
        if from_access is None:
            from_access = inbound
    return from_access or queried_id


def local_ids(global_id, events, lines):
    """Return the local ids of the action's hops found so far.

    The callees' answered ids, the callers' ids, ids in the local column of
    lines that carry ``global_id``, ids answered on access lines that
    carried it in, and, from there, ids named by keystoneauth call lines
    of those requests. ``global_id`` itself is left out.
    """
    found = _select(global_id, events, lines)[3]
    found.discard(global_id)
    return found


def build(global_id, queried_id, events, lines, stats=None):
    """Correlate the action ``global_id`` into a :class:`model.Trace`.

    ``events`` and ``lines`` may hold records of other actions: only the
    action's are used (see the module docstring for the rules).
    """
    servers, clients, picked, _ = _select(global_id, events, lines)
    builder = _Builder(global_id, clients)
    builder.add_servers(servers)
    unpaired = builder.pair_clients(clients, server_only=True)
    builder.add_lines(picked)
    unpaired = builder.pair_clients(unpaired, server_only=False)
    served = builder.served_targets() if unpaired else {}
    for event in unpaired:
        builder.add_client_only(event, served)
    builder.follow_calls()
    roots, orphans, mode = builder.finish(bool(servers or clients))
    trace = model.Trace(global_request_id=global_id, queried_id=queried_id,
                        roots=roots, orphan_lines=orphans, mode=mode,
                        stats=stats if stats is not None else model.Stats())
    trace.participants = _participants(roots)
    return trace


# Records of the action ------------------------------------------------------

def _select(global_id, events, lines):
    """The action's server events, client events, lines (by local id)
    and local ids."""
    servers, clients = [], []
    found = {global_id}
    for event in events:
        if type(event) is not dict:
            continue
        kind = event.get('kind')
        sent = event.get('global_request_id')
        if kind == 'server':
            rid = _text(event.get('request_id'))
            if sent == global_id or (sent is None and rid == global_id):
                servers.append(event)
                found.add(rid)
                found.add(_text(event.get('parent_request_id')))
        elif kind == 'client' and sent == global_id:
            clients.append(event)
            found.add(_text(event.get('request_id')))
            found.add(_text(event.get('callee_request_id')))
    calls = {}
    picked = {}
    maybe = []
    access, call = model.KIND_ACCESS, model.KIND_CALL
    # NOTE: this loop runs once per line of the scan, so ids are read
    # inline and a line that carries the global id is placed at once.
    for line in lines:
        if line.kind == access:
            local = line.callee_request_id or line.request_id
            inbound = line.inbound_request_id or line.global_request_id
        else:
            local, inbound = line.request_id, line.global_request_id
            if line.kind == call and local and line.callee_request_id:
                calls.setdefault(local, []).append(line.callee_request_id)
        if inbound != global_id:
            maybe.append((line, local))
            continue
        try:
            picked[local].append(line)
        except KeyError:
            picked[local] = [line]
            found.add(local)
    found.discard(None)
    queue = list(found)
    for rid in queue:
        for callee in calls.get(rid, ()):
            if callee not in found:
                found.add(callee)
                queue.append(callee)
    for line, local in maybe:
        if local in found:
            picked.setdefault(local, []).append(line)
    return servers, clients, picked, found


def _line_ids(line):
    """(local id, global or inbound id) of a line."""
    if line.kind == model.KIND_ACCESS:
        return (line.callee_request_id or line.request_id,
                line.inbound_request_id or line.global_request_id)
    return line.request_id, line.global_request_id


# Hops -----------------------------------------------------------------------

class _Node:
    """A hop being built, with what pairing and nesting need to know."""

    __slots__ = ('hop', 'seq', 'caller_start', 'link', 'shows_request',
                 'wanted')

    def __init__(self, hop, seq, shows_request=True):
        self.hop = hop
        self.seq = seq
        self.caller_start = None   # the call's start on the caller's clock
        self.link = None           # the node whose call line named this one
        self.shows_request = shows_request
        self.wanted = False        # a client event or call points at it


class _Builder:
    def __init__(self, global_id, clients):
        self.global_id = global_id
        self.nodes = []
        self.by_rid = {}
        self.orphans = []
        # NOTE: a caller that recorded its own calls (client events) has
        # every call as an event; its keystoneauth lines would double them.
        self.recording = {_text(event.get('request_id'))
                          for event in clients}
        self.recording.discard(None)

    def _add(self, hop, **kwargs):
        node = _Node(hop, len(self.nodes), **kwargs)
        self.nodes.append(node)
        self.by_rid.setdefault(hop.request_id, []).append(node)
        return node

    # Events

    def add_servers(self, servers):
        seen = set()
        text = _text
        for event in servers:
            if not _first_time(seen, event, 'service', 'request_id'):
                continue
            get = event.get
            path, query = _split_query(text(get('path')))
            self._add(model.Hop(
                caller=text(get('caller')) or model.CLIENT,
                callee=text(get('service')) or 'unknown',
                method=text(get('method')), path=path,
                query=text(get('query')) or query,
                route=text(get('route')) or _route(path),
                status=_status(get('status')), error=text(get('error')),
                start=_epoch(get('start')),
                duration_ms=_number(get('duration_ms')),
                global_request_id=self.global_id,
                request_id=text(get('request_id')),
                parent_request_id=text(get('parent_request_id')),
                request_bytes=_count(get('request_bytes')),
                response_bytes=_count(get('response_bytes')),
                host=text(get('host')), headers=_dict(get('headers')),
                body=_dict(get('body')), evidence=('server',)))

    def pair_clients(self, clients, server_only):
        """Merge client events into hops; return those left unpaired."""
        left = []
        seen = set()
        timed = sorted(((_epoch(event.get('start')), i, event)
                        for i, event in enumerate(clients)),
                       key=lambda item: _time_key(item[0]) + (item[1],))
        for start, _, event in timed:
            if not _first_time(seen, event, 'service', 'callee_request_id',
                               'target'):
                continue
            node = self._client_match(event, start, server_only)
            if node is None:
                left.append(event)
            else:
                self._merge_client(node, event, start)
        return left

    def _client_match(self, event, start, server_only):
        callee_id = _text(event.get('callee_request_id'))
        if server_only and callee_id is None:
            return None
        method = _text(event.get('method'))
        path = _split_query(_text(event.get('path')))[0]
        best = None
        for node in self.by_rid.get(callee_id, ()):
            hop = node.hop
            if 'client' in hop.evidence or \
                    ('server' in hop.evidence) != server_only:
                continue
            same = (_agree(method, hop.method) and _agree(path, hop.path))
            if callee_id is None:
                # An answer with no id: only the same call, near in time.
                if not (method and path and same) or (
                        start is not None and hop.start is not None
                        and abs(start - hop.start) > UNANSWERED_SLACK):
                    continue
            elif callee_id == self.global_id and not same:
                # Stock services echo the global id: it names no one call.
                continue
            distance = (abs(start - hop.start)
                        if start is not None and hop.start is not None
                        else math.inf)
            rank = (not same, distance, node.seq)
            if best is None or rank < best[0]:
                best = (rank, node)
        return best[1] if best else None

    def _merge_client(self, node, event, start):
        hop = node.hop
        hop.evidence = tuple(kind for kind in _EVIDENCE_ORDER
                             if kind == 'client' or kind in hop.evidence)
        node.wanted = True
        node.caller_start = start
        hop.url = hop.url or _client_url(event)
        if hop.caller == model.CLIENT:
            hop.caller = _text(event.get('service')) or model.CLIENT
        if hop.parent_request_id is None:
            hop.parent_request_id = _text(event.get('request_id'))
        if hop.status is None:
            hop.status = _status(event.get('status'))
        if hop.error is None:
            hop.error = _text(event.get('error'))
        if hop.start is None:
            hop.start = start
        for name, check in _CLIENT_FILLS:
            if getattr(hop, name) is None:
                setattr(hop, name, check(event.get(name)))
        if hop.path is None:
            hop.path = _split_query(_text(event.get('path')))[0]
            hop.route = hop.route or _route(hop.path)

    def served_targets(self):
        """``{host:port: service}`` of addresses one service answered at."""
        found = {}
        for node in self.nodes:
            hop = node.hop
            if 'server' in hop.evidence and hop.url:
                target = urllib.parse.urlsplit(hop.url).netloc
                if target:
                    found.setdefault(target, set()).add(hop.callee)
        return {target: names.pop() for target, names in found.items()
                if len(names) == 1}

    def add_client_only(self, event, served=None):
        """A call whose callee recorded nothing we have.

        NOTE: a call that got no answer (a connection error) names its
        callee by the service that answered the other calls to the same
        address, else by its service type or address.
        """
        path, query = _split_query(_text(event.get('path')))
        start = _epoch(event.get('start'))
        target = _text(event.get('target'))
        node = self._add(model.Hop(
            caller=_text(event.get('service')) or model.CLIENT,
            callee=((served or {}).get(target)
                    or _text(event.get('service_type'))
                    or target or 'unknown'),
            method=_text(event.get('method')), path=path,
            query=_text(event.get('query')) or query,
            route=_text(event.get('route')) or _route(path),
            url=_client_url(event), status=_status(event.get('status')),
            error=_text(event.get('error')), start=start,
            duration_ms=_number(event.get('duration_ms')),
            global_request_id=self.global_id,
            request_id=_text(event.get('callee_request_id')),
            parent_request_id=_text(event.get('request_id')),
            request_bytes=_count(event.get('request_bytes')),
            response_bytes=_count(event.get('response_bytes')),
            evidence=('client',)))
        node.caller_start = start

    # Log lines

    def add_lines(self, picked):
        """Attach lines (``{local id: [line]}``) to event hops; make hops
        of the other groups."""
        access = model.KIND_ACCESS
        names = {node.hop.callee for node in self.nodes}
        answered = {}
        for local, lines in picked.items():
            for line in lines:
                if line.kind == access:
                    answered.setdefault(_service_of(line), set()).add(local)
                else:
                    names.add(line.service or _service_of(line))
        rename = {}
        if not names.issuperset(answered):
            rename = _access_names(answered, names, self._rids_of(picked))
        groups = {}
        for local, lines in picked.items():
            by_name = {}
            for line in lines:
                name = line.service or _service_of(line)
                if line.kind == access:
                    name = rename.get(name, name)
                try:
                    by_name[name].append(line)
                except KeyError:
                    by_name[name] = [line]
            for name, group in by_name.items():
                node = self._event_home(local, name)
                if node is not None:
                    node.hop.lines.extend(group)
                elif local is not None:
                    groups[name, local] = group
                else:
                    for line in group:
                        if line.kind == access:
                            groups.setdefault((name, None), []).append(line)
                        else:
                            self.orphans.append(line)
        made = []
        for (name, local), group in groups.items():
            served, other = [], []
            for line in group:
                (served if line.kind == access else other).append(line)
            requests, orphans = _split(_sorted_lines(other),
                                       _sorted_lines(served))
            self.orphans.extend(orphans)
            for request in requests:
                made.append((name, local, request))
        _settle_starts(made)
        made.sort(key=lambda item: (_time_key(item[2].start),
                                    _anchor_key(item[2])))
        owners = {node.hop.request_id: node.hop.callee for node in self.nodes
                  if 'server' in node.hop.evidence}
        for name, local, request in made:
            if request.access is not None:
                owners.setdefault(local, name)
        handed = []
        for name, local, request in made:
            owner = owners.get(local)
            if owner is not None and request.access is None and \
                    request.method is None and not _related(owner, name):
                # NOTE: a local id in a service that did not serve it:
                # work handed over by RPC (nova-api's id in
                # nova-conductor's lines), not a request of its own.
                handed.append((name, local, request, owner))
            else:
                self._add_request(name, local, request)
        for name, local, request, owner in handed:
            home = next((node for node in self.by_rid.get(local, ())
                         if node.hop.callee == owner), None)
            if home is None:
                self._add_request(name, local, request)
            else:
                self._add_handed(name, local, request, home)

    def _add_handed(self, name, local, request, owner):
        # The first line of the service's own code names the work best
        # (nova-conductor: nova.conductor.manager, not a lock helper).
        top = name.split('-')[0] + '.'
        loggers = [line.logger for line in request.lines if line.logger]
        first = next((logger for logger in loggers
                      if logger.startswith(top)), None) or next(
                          iter(loggers), None)
        hop = model.Hop(
            caller=owner.hop.callee, callee=name, method=model.RPC,
            path=first,
            start=request.start, global_request_id=self.global_id,
            request_id=local, parent_request_id=local,
            evidence=('logs',), lines=request.lines)
        node = self._add(hop, shows_request=True)
        node.wanted = True
        node.link = owner
        return node

    def _rids_of(self, picked):
        """The local ids each participant's lines and events carry."""
        rids_of = {}
        for node in self.nodes:
            rids_of.setdefault(node.hop.callee, set()).add(
                node.hop.request_id)
        for local, lines in picked.items():
            for line in lines:
                if line.kind != model.KIND_ACCESS:
                    rids_of.setdefault(_service_of(line), set()).add(local)
        return rids_of

    def _event_home(self, local, name):
        """The event hop a line with local id ``local`` belongs to."""
        if local is None:
            return None
        candidates = [node for node in self.by_rid.get(local, ())
                      if 'server' in node.hop.evidence]
        if not candidates:
            return None
        for node in candidates:
            if _related(node.hop.callee, name):
                return node
        # NOTE: stock services copy the inbound (global) id into their
        # local slot: a line with the global id as local id and another
        # service's name is not the root's.
        if local == self.global_id:
            return None
        return candidates[0]

    def _add_request(self, name, local, request):
        access = request.access
        path, query = _split_query(request.path)
        hop = model.Hop(
            caller=model.CLIENT, callee=name, method=request.method,
            path=path, query=query, route=_route(path),
            status=access.status if access is not None else None,
            start=request.start,
            duration_ms=access.duration_ms if access is not None else None,
            global_request_id=self.global_id, request_id=local,
            evidence=('logs',), lines=request.lines)
        return self._add(hop, shows_request=request.shows_request)

    # Call lines

    def follow_calls(self):
        """Link callees named by keystoneauth lines; add unseen callees."""
        for node in list(self.nodes):
            if node.hop.request_id is None:
                continue
            calls = _calls(node.hop.lines)
            if not calls:
                continue
            node.shows_request = True
            for call in calls:
                target = self._call_target(node, call)
                if target is not None:
                    target.wanted = True
                    _fill_from_call(target, call)
                    if target.link is None:
                        target.link = node
                    if target.hop.parent_request_id is None:
                        target.hop.parent_request_id = node.hop.request_id
                    if target.hop.caller == model.CLIENT:
                        target.hop.caller = node.hop.callee
                elif node.hop.request_id not in self.recording:
                    self._add_call_hop(node, call)

    def _call_target(self, caller, call):
        if call.callee_id is None:
            return None
        best = None
        for node in self.by_rid.get(call.callee_id, ()):
            if node is caller:
                continue
            rank = (node.link is not None,
                    not (_agree(call.method, node.hop.method)
                         and _agree(call.path, node.hop.path)),
                    node.seq)
            if best is None or rank < best[0]:
                best = (rank, node)
        return best[1] if best else None

    def _add_call_hop(self, caller, call):
        parts = urllib.parse.urlsplit(call.url or '')
        path, query = _split_query(call.path)
        if path is None and parts.path:
            path, query = parts.path, parts.query or None
        duration = None
        if call.start is not None and call.end is not None and \
                call.end > call.start:
            duration = round((call.end - call.start) * 1000.0, 3)
        node = self._add(model.Hop(
            caller=caller.hop.callee,
            callee=call.target or parts.netloc or 'unknown',
            method=call.method, path=path, query=query, route=_route(path),
            url=call.url, status=call.status, start=call.start,
            duration_ms=duration, global_request_id=self.global_id,
            request_id=call.callee_id,
            parent_request_id=caller.hop.request_id, evidence=('logs',)))
        node.link = caller
        node.caller_start = call.start

    # The tree

    def finish(self, with_events):
        nodes = self.nodes
        if with_events:
            parents = {node.hop.parent_request_id for node in nodes}
            parents.discard(None)
            kept = []
            for node in nodes:
                if node.hop.evidence != ('logs',) or node.shows_request or \
                        node.wanted or node.hop.request_id in parents:
                    kept.append(node)
                else:
                    self.orphans.extend(node.hop.lines)
            if len(kept) != len(nodes):
                nodes = kept
                self.by_rid = {}
                for node in nodes:
                    self.by_rid.setdefault(node.hop.request_id,
                                           []).append(node)
        index = {id(node): i for i, node in enumerate(nodes)}
        parent, how = _nest(nodes, self.by_rid, index)
        _break_cycles(parent, how, nodes)
        _nest_unlogged_callers(nodes, parent, how)
        roots = []
        for node in nodes:
            node.hop.children = []
            _place_access_lines(node.hop)
            node.hop.lines = _sorted_lines(node.hop.lines)
        for i, node in enumerate(nodes):
            if parent[i] is None:
                roots.append(node)
            else:
                nodes[parent[i]].hop.children.append(node.hop)
        order = {id(node.hop): node.seq for node in nodes}

        def key(hop):
            return _time_key(hop.start) + (order[id(hop)],)
        for node in nodes:
            node.hop.children.sort(key=key)
        roots = sorted((node.hop for node in roots), key=key)
        self.orphans = _sorted_lines(self.orphans)
        evidence = [bool(EVENT_EVIDENCE.intersection(node.hop.evidence))
                    for node in nodes]
        if evidence and all(evidence):
            mode = 'events'
        elif any(evidence):
            mode = 'mixed'
        else:
            mode = 'events' if with_events else 'logs'
        return roots, self.orphans, mode


_EVIDENCE_ORDER = ('server', 'client', 'logs')


def _nest(nodes, by_rid, index):
    """Each node's parent index (or None) and how it was found."""
    count = len(nodes)
    parent = [None] * count
    how = [None] * count
    served = {}
    for i, node in enumerate(nodes):
        hop = node.hop
        if hop.start is not None and hop.duration_ms is not None and \
                hop.duration_ms >= 0:
            served.setdefault(hop.callee, []).append(
                (hop.start, hop.start + hop.duration_ms / 1000.0, i))
    served = {name: _Intervals(items) for name, items in served.items()}
    for i, node in enumerate(nodes):
        hop = node.hop
        found = None
        if hop.parent_request_id is not None:
            best = None
            for other in by_rid.get(hop.parent_request_id, ()):
                if other is node:
                    continue
                rank = (other is not node.link,
                        not _related(other.hop.callee, hop.caller),
                        other.seq)
                if best is None or rank < best[0]:
                    best = (rank, other)
            if best is not None:
                found = index[id(best[1])]
        if found is None and node.link is not None and \
                id(node.link) in index:
            found = index[id(node.link)]
        if found is not None:
            parent[i], how[i] = found, 'link'
            continue
        if hop.caller == model.CLIENT or hop.caller not in served:
            continue
        moment = node.caller_start if node.caller_start is not None \
            else hop.start
        if moment is None:
            continue
        found = served[hop.caller].innermost(moment, skip=i)
        if found is not None:
            parent[i], how[i] = found, 'time'
    return parent, how


def _nest_unlogged_callers(nodes, parent, how):
    """Nest a top-level hop known from logs alone inside the request that
    was being served all the while it ran, in another service.

    Nothing in plain logs names the caller of a call its caller did not
    log (keystoneauth logs its call lines at DEBUG, and oslo.log's
    defaults set it to WARN): glance's token validations show up in
    keystone's log with the global id and no more. A client waits for its
    answer, so a call that starts and ends inside one of its requests, in
    another service, was made by that service (or by one it called: the
    innermost such request is taken).
    """
    spans = []
    for j, node in enumerate(nodes):
        hop = node.hop
        if hop.start is not None and hop.duration_ms is not None and \
                hop.duration_ms > 0:
            spans.append((hop.start, hop.start + hop.duration_ms / 1000.0,
                          j))
    if not spans:
        return
    holding = _Intervals(spans)
    for i, node in enumerate(nodes):
        hop = node.hop
        if parent[i] is not None or hop.caller != model.CLIENT or \
                hop.evidence != ('logs',) or not _timed_to_the_ms(hop):
            continue
        end = hop.start + (hop.duration_ms or 0.0) / 1000.0
        for j in holding.holding(hop.start):
            other = nodes[j].hop
            if j == i or other.start + other.duration_ms / 1000.0 < end or \
                    _related(other.callee, hop.callee) or \
                    _descends(parent, j, i):
                continue
            parent[i], how[i] = j, 'time'
            hop.caller = other.callee
            break


def _timed_to_the_ms(hop):
    """Whether ``hop.start`` comes from a line timed to the millisecond,
    not from an access line's whole second (which may be up to a second
    off, enough to seem inside any request of that second)."""
    if hop.start is None:
        return False
    for line in hop.lines:
        if line.time is not None and (line.kind != model.KIND_ACCESS
                                      or not _whole_second(line.time)):
            return True
    return False


def _descends(parent, j, i):
    """Whether ``j`` is ``i`` or under it (bounded: parents are a forest)."""
    for _ in range(len(parent) + 1):
        if j is None:
            return False
        if j == i:
            return True
        j = parent[j]
    return True


def _break_cycles(parent, how, nodes):
    """Cut one edge of every cycle, a time edge before a causal one."""
    state = [0] * len(parent)      # 0: unseen, 1: on this walk, 2: done
    for start in range(len(parent)):
        walk = []
        i = start
        while i is not None and state[i] == 0:
            state[i] = 1
            walk.append(i)
            i = parent[i]
        if i is not None and state[i] == 1:
            cycle = walk[walk.index(i):]
            victim = min(cycle, key=lambda k: (how[k] != 'time',
                                               nodes[k].seq))
            parent[victim] = None
        for k in walk:
            state[k] = 2


class _Intervals:
    """Intervals of one service's hops, for "which one holds t"."""

    def __init__(self, items):
        # NOTE: at equal starts the longer comes first, so walking back
        # from t meets the inner (shorter) one first.
        items = sorted(items, key=lambda item: (item[0], -item[1]))
        self.starts = [item[0] for item in items]
        self.ends = [item[1] for item in items]
        self.values = [item[2] for item in items]
        self.reach = []
        reach = -math.inf
        for end in self.ends:
            reach = max(reach, end)
            self.reach.append(reach)

    def innermost(self, moment, skip=None):
        """The value of the latest-starting interval holding ``moment``."""
        for value in self.holding(moment):
            if value != skip:
                return value
        return None

    def holding(self, moment):
        """Values of the intervals holding ``moment``, latest start first."""
        i = bisect.bisect_right(self.starts, moment) - 1
        while i >= 0 and self.reach[i] >= moment:
            if self.ends[i] >= moment:
                yield self.values[i]
            i -= 1


def _participants(roots):
    """client first when it calls, then by first appearance."""
    hops = []
    stack = list(reversed(roots))
    while stack:
        hop = stack.pop()
        hops.append(hop)
        stack.extend(reversed(hop.children))
    names = []
    seen = set()
    if any(hop.caller == model.CLIENT for hop in hops):
        names.append(model.CLIENT)
        seen.add(model.CLIENT)
    for hop in hops:
        for name in (hop.caller, hop.callee):
            if name not in seen:
                seen.add(name)
                names.append(name)
    return names


# Splitting a group of lines into requests -----------------------------------

class _Request:
    """One request of a ``(service, local id)`` group of lines."""

    __slots__ = ('access', 'lines', 'method', 'path', 'start', 'window',
                 'matched', 'shows_request', 'coarse_until')

    def __init__(self, access=None, first=None):
        self.access = access
        self.lines = []
        self.method = self.path = None
        self.start = None
        self.window = None
        self.matched = None
        self.shows_request = access is not None
        self.coarse_until = None    # latest start a coarse access allows
        if access is not None:
            self.lines.append(access)
            self.method, self.path = access.method, access.path
            self.window = _window(access)
        if first is not None:
            self.lines.append(first)
            self.method, self.path = first.method, first.path
            self.start = first.time
            self.shows_request = True


def _split(lines, access):
    """Split a group's lines (time order) by its access and request lines.

    Returns ``(requests, orphans)``.
    """
    if not access and not any(
            line.kind == model.KIND_REQUEST for line in lines):
        # The common case: one request, lines already in time order.
        request = _Request()
        request.lines = lines
        request.start = next(
            (line.time for line in lines if line.time is not None), None)
        return [request], []
    segments, loose = _segments(lines)
    if not access:
        if not segments:
            request = _Request()
            request.lines = loose
            segments = [request]
        else:
            _assign_loose(segments, loose, [s.start for s in segments])
        for request in segments:
            _set_start(request)
        return segments, []
    requests = [_Request(access=line) for line in access]
    _match(requests, segments)
    orphans = []
    for segment in segments:
        if segment.matched is None:
            orphans.extend(segment.lines)
    for request in requests:
        segment = request.matched
        if segment is None:
            continue
        high = request.window[1] if request.window else math.inf
        for line in segment.lines:
            if line.time is not None and line.time > high:
                loose.append(line)
            else:
                request.lines.append(line)
        request.shows_request = True
    if loose:
        orphans.extend(_assign_windows(requests, loose))
    # NOTE: after the loose lines are in: keystone logs "Authenticating
    # user token" before its REQUEST_METHOD line, and the request started
    # with the first.
    for request in requests:
        _set_start(request)
    return requests, orphans


def _segments(lines):
    """Cut lines at request lines, per process; the rest is loose."""
    segments = []
    loose = []
    current = {}
    for line in lines:
        segment = current.get(line.pid)
        if line.kind == model.KIND_REQUEST and line.time is not None:
            if line.method or segment is None or (
                    segment.path and line.path):
                segment = _Request(first=line)
                segments.append(segment)
                current[line.pid] = segment
                continue
            segment.path = segment.path or line.path
        if segment is None or line.time is None:
            loose.append(line)
        else:
            segment.lines.append(line)
    return segments, loose


def _match(requests, segments):
    """Pair each access line with the request line it answered."""
    index = {}
    for segment in segments:
        key = (segment.method, _bare(segment.path))
        index.setdefault(key, []).append(segment)
    starts = {key: [s.start for s in value] for key, value in index.items()}
    for request in requests:
        low, high = request.window or (-math.inf, math.inf)
        path = _bare(request.path)
        for key in ((request.method, path), (request.method, None),
                    (None, path)):
            chosen = None
            found = index.get(key, ())
            i = bisect.bisect_left(starts.get(key, ()), low)
            while i < len(found) and found[i].start <= high:
                if found[i].matched is None:
                    chosen = found[i]
                    break
                i += 1
            if chosen is not None:
                chosen.matched = request
                request.matched = chosen
                break


def _assign_loose(segments, loose, starts):
    """Lines outside any request line: to the request that began last."""
    for line in loose:
        i = 0
        if line.time is not None:
            i = max(bisect.bisect_right(starts, line.time) - 1, 0)
        segments[i].lines.append(line)


def _assign_windows(requests, loose):
    """Lines to the request whose window holds them; returns the rest."""
    spans = _Intervals([(r.window[0], r.window[1], i)
                        for i, r in enumerate(requests)
                        if r.window is not None])
    left = []
    for line in loose:
        i = spans.innermost(line.time) if line.time is not None else None
        if i is None:
            left.append(line)
        else:
            requests[i].lines.append(line)
    return left


def _set_start(request):
    times = [line.time for line in request.lines
             if line.time is not None and line is not request.access]
    first = min(times) if times else None
    access = request.access
    if access is None or access.time is None:
        request.start = first
        return
    took = (access.duration_ms or 0.0) / 1000.0
    estimate = round(access.time - took, 6)    # no float noise
    if not _whole_second(access.time):
        request.start = estimate if first is None else min(first, estimate)
    elif first is not None:
        request.start = first
    else:
        request.start = estimate
        request.coarse_until = access.time + 1.0 - took


def _settle_starts(made):
    """Keep log order where whole-second access times cannot tell.

    A start known only as "its access line's second minus its duration"
    may be up to a second late or early; when it could be as late as the
    start of the request logged before it in the same service, it is
    taken as that start, so the log's order (which is the order the
    requests ended in) decides and a long request does not jump ahead of
    a short one it followed.
    """
    by_service = {}
    for name, _, request in made:
        if request.access is not None and request.access.time is not None:
            by_service.setdefault(name, []).append(request)
    for requests in by_service.values():
        requests.sort(key=_anchor_key)
        previous = None
        for request in requests:
            if request.coarse_until is not None and previous is not None \
                    and request.start < previous <= request.coarse_until:
                request.start = previous
            if request.start is not None:
                previous = request.start


def _window(access):
    """When the request of an access line may have been served."""
    if access.time is None:
        return None
    took = (access.duration_ms or 0.0) / 1000.0
    blur = 1.0 if _whole_second(access.time) else 0.0
    return (access.time - took - WINDOW_SLACK,
            access.time + blur + took + WINDOW_SLACK)


def _place_access_lines(hop):
    """Time an access line logged to the second at its hop's end.

    Apache's and gunicorn's ``[23/Nov/2026:17:18:54 +0000]`` say only the
    second the answer went out in; the hop's start and duration say when
    within it, so the line no longer shows up to a second before the
    request it ends.
    """
    if hop.start is None or hop.duration_ms is None:
        return
    end = round(hop.start + hop.duration_ms / 1000.0, 6)
    for line in hop.lines:
        if line.kind == model.KIND_ACCESS and line.time is not None and \
                _whole_second(line.time) and \
                line.time <= end < line.time + 1.0 + WINDOW_SLACK:
            line.time = end


def _whole_second(moment):
    return moment == math.floor(moment)


def _anchor_key(request):
    line = request.access or (request.lines[0] if request.lines else None)
    if line is None:
        return _NO_TIME + ('', 0)
    return _line_key(line)


# Call lines -----------------------------------------------------------------

class _Call:
    __slots__ = ('method', 'url', 'path', 'target', 'status', 'callee_id',
                 'start', 'end', 'answered', 'closed')

    def __init__(self, line):
        self.method = line.method
        self.url = line.url
        self.path = line.path
        self.target = line.target
        self.status = line.status
        self.callee_id = line.callee_request_id
        self.start = self.end = line.time
        self.answered = None        # when the RESP: line was written
        self.closed = False

    def takes(self, line):
        """Whether ``line`` is the rest of this call (RESP:, "call to")."""
        if self.closed or _opens_call(line):
            return False
        return all(_agree(mine, theirs) for mine, theirs in (
            (self.method, line.method), (self.url, line.url),
            (self.status, line.status),
            (self.callee_id, line.callee_request_id)))

    def add(self, line):
        for name in ('method', 'url', 'path', 'target', 'status'):
            if getattr(self, name) is None:
                setattr(self, name, getattr(line, name))
        if self.callee_id is None:
            self.callee_id = line.callee_request_id
        if line.time is not None:
            self.end = line.time
            if self.start is None:
                self.start = line.time
            if line.status is not None and self.answered is None:
                self.answered = line.time
        # NOTE: keystoneauth writes "... call to X for URL used request id
        # Y" last: a call line with method, URL and id ends the call.
        self.closed = bool(line.method and line.url and
                           line.callee_request_id)


def _fill_from_call(node, call):
    """What the caller's REQ:/RESP: lines tell of a hop its callee's own
    lines left open (keystone logs no access line)."""
    hop = node.hop
    if hop.status is None and call.status is not None:
        hop.status = call.status
    end = call.answered
    if hop.duration_ms is None and call.start is not None and \
            end is not None and end > call.start:
        hop.duration_ms = round((end - call.start) * 1000.0, 3)
    if hop.method is None:
        hop.method = call.method
    if hop.url is None:
        hop.url = call.url
    if node.caller_start is None:
        node.caller_start = call.start


def _opens_call(line):
    """A REQ: line: what is asked, no answer yet."""
    return (line.method is not None and line.status is None
            and line.callee_request_id is None)


def _calls(lines):
    calls = []
    current = None
    for line in sorted((x for x in lines if x.kind == model.KIND_CALL),
                       key=_line_key):
        if current is not None and current.takes(line):
            current.add(line)
            continue
        current = _Call(line)
        current.add(line)
        calls.append(current)
    return calls


# Small helpers --------------------------------------------------------------

def _access_names(answered, names, rids_of):
    """Map access-log service names onto oslo.log or event names."""
    rename = {}
    ordered = sorted(names)
    for name, rids in answered.items():
        if name in names:
            continue
        candidates = [other for other in ordered if _related(name, other)]
        if len(candidates) > 1:
            candidates = [other for other in candidates
                          if rids & rids_of.get(other, set())]
        if len(candidates) == 1:
            rename[name] = candidates[0]
    return rename


def _related(one, other):
    """Whether two names may be one service: equal, or a prefix of the
    other at a ``-``, ``_`` or ``.`` boundary."""
    if one is None or other is None:
        return False
    if one == other:
        return True
    short, long_ = (one, other) if len(one) < len(other) else (other, one)
    return long_.startswith(short) and long_[len(short)] in '-_.'


def _service_of(line):
    if line.service:
        return line.service
    if line.logger:
        return line.logger.split('.', 1)[0]
    return 'unknown'


def _sorted_lines(lines):
    """Lines by time (unknown last), then source and offset."""
    try:
        # NOTE: the C key is several times faster; a line with no time
        # makes it raise, and the careful key takes over.
        return sorted(lines, key=_FAST_LINE_KEY)
    except TypeError:
        return sorted(lines, key=_line_key)


_FAST_LINE_KEY = operator.attrgetter('time', 'source', 'offset')


def _line_key(line):
    moment = line.time
    return (moment is None, moment or 0.0, line.source or '',
            line.offset or 0)


def _time_key(moment):
    return _NO_TIME if moment is None else (False, moment)


def _agree(one, other):
    return one is None or other is None or one == other


def _bare(path):
    return path.split('?', 1)[0] if path else None


def _split_query(path):
    if not path:
        return None, None
    if '?' not in path:
        return path, None
    path, mark, query = path.partition('?')
    return path or '/', (query if mark and query else None)


def _route(path):
    return route_mod.template(path) if path else None


def _client_url(event):
    url = _text(event.get('url'))
    if url:
        return url
    target = _text(event.get('target'))
    if target is None:
        return None
    # NOTE: events written before 'scheme' was recorded carry host:port
    # and path only: a scheme-relative URL says no more than was recorded.
    scheme = _text(event.get('scheme'))
    url = '%s//%s%s' % (scheme + ':' if scheme else '', target,
                        _text(event.get('path')) or '/')
    query = _text(event.get('query'))
    return '%s?%s' % (url, query) if query else url


def _first_time(seen, event, one, two, three=None):
    """Whether ``event`` is not a copy of one seen (read from two sinks)."""
    get = event.get
    key = (get(one), get(two), get(three) if three else None, get('start'),
           get('method'), get('path'))
    try:
        if key in seen:
            return False
    except TypeError:
        key = repr(key)
        if key in seen:
            return False
    seen.add(key)
    return True


def _text(value):
    return value if type(value) is str and value else None


def _number(value):
    if type(value) in (int, float) and math.isfinite(value):
        return float(value)
    return None


def _count(value):
    return value if type(value) is int and value >= 0 else None


def _status(value):
    return value if type(value) is int else None


def _dict(value):
    return value if type(value) is dict else None


def _epoch(value):
    """Seconds since the epoch from an event's ``start``, or None."""
    if type(value) in (int, float):
        return float(value) if math.isfinite(value) else None
    if type(value) is not str:
        return None
    if value.endswith('Z'):
        # NOTE: Python 3.10's fromisoformat does not take the Z suffix.
        value = value[:-1] + '+00:00'
    try:
        moment = datetime.datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.timezone.utc)
        return moment.timestamp()
    except (ValueError, OverflowError, OSError):
        return None


#: Fields a client event fills on a hop that lacks them, and their check.
_CLIENT_FILLS = (('method', _text), ('query', _text),
                 ('duration_ms', _number), ('request_bytes', _count),
                 ('response_bytes', _count))
