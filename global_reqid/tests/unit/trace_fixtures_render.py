"""More hand-built traces for the renderer tests: hostile, big and bare."""

from global_reqid.events import redact
from global_reqid.tests.unit import trace_fixtures
from global_reqid.trace import model

GLOBAL = trace_fixtures.GLOBAL
T0 = trace_fixtures.T0

#: Participant names holding what Mermaid, Markdown and terminals treat
#: specially, and unicode.
HOSTILE_NAMES = [
    'nova;api', 'glance#api:9292', '<script>alert(1)</script>', 'end',
    'wrap:cinder', '%%{init: {"securityLevel": "loose"}}%%', 'ünï 漢字 🚀',
    'q"uo\'te`d', 'pipe|name', 'amp&lt;', 'ﬂ°°59¶ß', 'participant', 'P0',
    'A->>B: x', '*bold* _em_ [link](x) $math$', 'back\\slash', 'esc\\|pipe',
]

#: A raw (unmasked) token and password, as a careless source might hold.
RAW_TOKEN = 'gAAAAABnRawTokenNeverShown0123456789abcdef'
RAW_PASSWORD = 'hunter2-Never-Shown'


def _line(service, request_id, message, level='DEBUG', time=None):
    return model.LogLine(
        source='/var/log/%s.log' % service, offset=0,
        text='%s %s' % (level, message), time=time, level=level,
        logger='%s.api' % service, service=service,
        global_request_id=GLOBAL, request_id=request_id, message=message,
        error=level in model.ERROR_LEVELS)


def hostile():
    """Every hostile name calls the next; paths, errors and log lines hold
    syntax and control characters; one hop answers 404."""
    names = HOSTILE_NAMES
    hops = []
    for index, name in enumerate(names):
        callee = names[(index + 1) % len(names)]
        hop = model.Hop(
            caller=name, callee=callee, method='GET',
            path='/a;b#c:d<e>&f`g|h%%{x}/' + str(index), status=200,
            start=T0 + index * 0.01, duration_ms=1.5,
            global_request_id=GLOBAL,
            request_id='req-00000000-0000-4000-8000-%012d' % index)
        hops.append(hop)
    hops[1].status = 404
    hops[2].status = None
    hops[2].error = 'Conn;Error#<b>'
    hops[3].lines = [_line('x', hops[3].request_id,
                           'boom; #1: <b>bold</b> `tick` \x1b[2J\u202egnp',
                           level='ERROR', time=T0 + 0.035)]
    hops[4].children = [model.Hop(
        caller=names[5], callee=names[6], method='POST;',
        path='/\x1b]0;title\x07/\u202eevil', status=503,
        error='Trojan\u202eSource', start=T0 + 0.045, duration_ms=0.5,
        global_request_id=GLOBAL)]
    return model.Trace(global_request_id=GLOBAL, queried_id=GLOBAL,
                       roots=hops, participants=list(names), mode='logs')


def many(count=200):
    """``count`` hops: roots with nested calls up to four deep, every
    tenth failing; realistic enough to stress ordering and numbering."""
    services = ['client', 'nova-api', 'glance-api', 'keystone',
                'neutron-server', 'cinder-api', 'placement-api']
    roots = []
    stack = []
    for index in range(count):
        depth = index % 5 if stack else 0
        while len(stack) > depth:
            stack.pop()
        caller = stack[-1].callee if stack else 'client'
        callee = services[1 + (index * 3) % (len(services) - 1)]
        hop = model.Hop(
            caller=caller, callee=callee,
            method=('GET', 'POST', 'PUT', 'DELETE')[index % 4],
            path='/v2/things/%d' % index,
            status=500 if index % 10 == 9 else 200,
            start=T0 + index * 0.01, duration_ms=5.0 + index,
            global_request_id=GLOBAL,
            request_id='req-00000000-0000-4000-8000-%012d' % index,
            parent_request_id=stack[-1].request_id if stack else None)
        if index % 10 == 9:
            hop.lines = [_line(callee, hop.request_id,
                               'Failed thing %d' % index, level='ERROR',
                               time=hop.start)]
        (stack[-1].children if stack else roots).append(hop)
        stack.append(hop)
    participants = []
    for hop in _walk(roots):
        for name in (hop.caller, hop.callee):
            if name not in participants:
                participants.append(name)
    return model.Trace(global_request_id=GLOBAL, queried_id=GLOBAL,
                       roots=roots, participants=participants)


def _walk(hops):
    for hop in hops:
        yield hop
        yield from _walk(hop.children)


def no_hops():
    """Log lines of the action that belong to no hop, and nothing else."""
    return model.Trace(
        global_request_id=GLOBAL,
        queried_id='req-11111111-2222-4333-8444-555555555555', mode='logs',
        orphan_lines=[_line('nova-api', None, 'Orphan line', time=T0)])


def nothing():
    """No hops, no participants, no lines, no stats."""
    return model.Trace(global_request_id=GLOBAL, queried_id=GLOBAL)


def bare():
    """A hop where every optional field is None, names included."""
    hop = model.Hop(caller=None, callee=None)
    hop.children = [model.Hop(caller=None, callee='svc')]
    hop.lines = [model.LogLine(source='s', offset=0, text='')]
    return model.Trace(global_request_id=GLOBAL, queried_id=GLOBAL,
                       roots=[hop], participants=[], mode=None,
                       stats=None)


def handed_over():
    """nova-api's request hands work to nova-conductor over RPC; the
    conductor calls cinder."""
    cinder = model.Hop(caller='nova-conductor', callee='cinder-api',
                       method='GET', path='/v3/p/attachments/a1',
                       status=200, start=T0 + 0.3, duration_ms=110.3)
    rpc = model.Hop(caller='nova-api', callee='nova-conductor',
                    method=model.RPC, path='nova.conductor.manager',
                    start=T0 + 0.2, evidence=('logs',), children=[cinder])
    root = model.Hop(caller='client', callee='nova-api', method='POST',
                     path='/v2.1/servers', status=202, start=T0,
                     duration_ms=250.0, children=[rpc])
    return model.Trace(global_request_id=GLOBAL, queried_id=GLOBAL,
                       roots=[root], participants=[
                           'client', 'nova-api', 'nova-conductor',
                           'cinder-api'], mode='logs')


def chain(depth):
    """One call chain ``depth`` hops deep (each callee calls the next)."""
    root = hop = model.Hop(caller='client', callee='s0', method='GET',
                           path='/', status=200, start=T0, duration_ms=1.0)
    for index in range(1, depth):
        child = model.Hop(caller=hop.callee, callee='s%d' % (index % 7),
                          method='GET', path='/%d' % index, status=200,
                          start=T0 + index * 1e-4, duration_ms=1.0)
        hop.children = [child]
        hop = child
    return model.Trace(global_request_id=GLOBAL, queried_id=GLOBAL,
                       roots=[root], participants=['client'] + [
                           's%d' % index for index in range(7)])


def raw_secrets():
    """A hop whose headers, body, URL and log line hold raw secrets."""
    hop = model.Hop(
        caller='client', callee='keystone', method='POST',
        path='/v3/auth/tokens', status=201, start=T0, duration_ms=12.0,
        url='http://admin:%s@127.0.0.1:5000/v3/auth/tokens?token=%s'
            % (RAW_PASSWORD, RAW_TOKEN),
        global_request_id=GLOBAL, request_id=GLOBAL,
        headers={'request': {'X-Auth-Token': RAW_TOKEN,
                             'Content-Type': 'application/json'},
                 'response': {'X-Subject-Token':
                              redact.hash_value(RAW_TOKEN)}},
        body={'request': '{"auth": {"identity": {"password": {"user": '
                         '{"name": "admin", "password": "%s"}}}}}'
                         % RAW_PASSWORD,
              'response': 'token=%s and ```fenced``` text' % RAW_TOKEN},
        lines=[_line('keystone', GLOBAL,
                     'Authenticating password=%s X-Auth-Token: %s'
                     % (RAW_PASSWORD, RAW_TOKEN), time=T0)])
    return model.Trace(global_request_id=GLOBAL, queried_id=GLOBAL,
                       roots=[hop], participants=['client', 'keystone'])
