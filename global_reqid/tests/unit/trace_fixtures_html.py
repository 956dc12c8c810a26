"""More hand-built traces for the HTML renderer tests: none, many, hostile,
secrets in clear, a call to oneself."""

from global_reqid.tests.unit import trace_fixtures
from global_reqid.trace import model

GLOBAL = trace_fixtures.GLOBAL
T0 = trace_fixtures.T0
TOKEN = trace_fixtures.TOKEN
PASSWORD = 'hunter2-Sekr1t-pw'
SIGNATURE = 'c0ffee1234deadbeef5678'

#: Text that would run as script or fetch something if it reached the page
#: unescaped, in an element or in an attribute.
HOSTILE = ('<script>alert(1)</script>',
           '"><img src=x onerror=alert(2)>',
           "'><svg onload=alert(3)>",
           '</script><script src="http://evil.example/x.js"></script>',
           '</title></svg><iframe src="https://evil.example/">',
           '<!-- <style>@import "https://evil.example/a.css";</style>')
#: Characters that are drawn as escapes: a terminal colour, a right-to-left
#: override, a NUL and a lone surrogate.
CONTROL = 'colour \x1b[31mred\x1b[0m, \u202eoverride, nul \x00, \udcff.'


def _line(service, request_id, offset, message, level='DEBUG', source=None,
          time=None):
    text = ('2026-11-23 17:18:54.810 11117 %s %s.api [%s %s - - - - - -] %s'
            % (level, service, GLOBAL, request_id, message))
    return model.LogLine(
        source=source or '/var/log/%s.log' % service, offset=offset,
        text=text, time=time, level=level, logger='%s.api' % service,
        pid=11117, service=service, global_request_id=GLOBAL,
        request_id=request_id, message=message,
        error=level in model.ERROR_LEVELS)


def _id(number):
    return 'req-%08x-0000-4000-8000-%012x' % (number, number)


def no_hops():
    """Nothing but two lines no hop could claim (retroactive mode)."""
    return model.Trace(
        global_request_id=GLOBAL, queried_id=GLOBAL, mode='logs',
        orphan_lines=[_line('keystone', None, 0, 'Loaded 2 encryption keys'),
                      _line('keystone', None, 80, 'Token validation failed',
                            level='ERROR')],
        stats=model.Stats(files=2, bytes=2048, lines=40, matched=2))


def many(count=500):
    """``count`` hops: servers booted one after another, each a call from
    the client to nova-api and four calls nova-api makes; every 7th
    network call fails and every 13th image call gets no answer."""
    roots = []
    number = 0
    while number < count:
        server = number + 1
        start = T0 + server * 0.05
        root = model.Hop(
            caller=model.CLIENT, callee='nova-api', method='POST',
            path='/v2.1/servers', route='/v2.1/servers', status=202,
            start=start, duration_ms=40.0, global_request_id=GLOBAL,
            request_id=_id(server), evidence=('server',),
            lines=[_line('nova-api', _id(server), server * 100,
                         'Creating server %d' % server, time=start)])
        number += 1
        calls = [('keystone', 'GET', '/v3/auth/tokens', 200),
                 ('glance-api', 'GET', '/v2/images/%08x' % server, 200),
                 ('neutron-server', 'GET', '/v2.0/networks', 200),
                 ('placement-api', 'GET', '/allocation_candidates', 200)]
        for index, (callee, method, path, status) in enumerate(calls):
            if number >= count:
                break
            number += 1
            hop = model.Hop(
                caller='nova-api', callee=callee, method=method, path=path,
                status=status, start=start + 0.001 * (index + 1),
                duration_ms=5.0, global_request_id=GLOBAL,
                request_id=_id(number), parent_request_id=_id(server),
                evidence=('server', 'client'))
            if callee == 'neutron-server' and number % 7 == 0:
                hop.status = 500
                hop.lines.append(_line(callee, _id(number), number * 100,
                                       'Unexpected exception',
                                       level='ERROR'))
            if callee == 'glance-api' and number % 13 == 0:
                hop.status = None
                hop.request_id = None
                hop.error = 'ReadTimeout'
            root.children.append(hop)
        roots.append(root)
    return model.Trace(
        global_request_id=GLOBAL, queried_id=GLOBAL, roots=roots,
        participants=[model.CLIENT, 'nova-api', 'keystone', 'glance-api',
                      'neutron-server', 'placement-api'],
        stats=model.Stats(files=6, bytes=10 ** 9, lines=5 * 10 ** 6,
                          matched=count * 2, events=count))


def hostile():
    """Every text field of the model holds markup, script and URLs."""
    bad = ' '.join(HOSTILE)
    inner = model.Hop(
        caller=HOSTILE[0], callee=HOSTILE[1], method=HOSTILE[2],
        path='/v2/' + HOSTILE[3], query='q=' + HOSTILE[4],
        route=HOSTILE[5], url='http://127.0.0.1:9292/' + bad,
        status=500, error=bad, start=T0 + 0.1, duration_ms=2.0,
        global_request_id=GLOBAL, request_id=HOSTILE[1],
        parent_request_id=HOSTILE[0], host=bad, evidence=(bad,),
        headers={'request': {HOSTILE[0]: bad, 'X-Note': CONTROL},
                 'response': {'Location': 'https://evil.example/' + bad}},
        body={'request': bad, 'response': {'html': bad}},
        lines=[_line(HOSTILE[1], HOSTILE[1], 10, bad, level='ERROR',
                     source=bad),
               _line(HOSTILE[1], HOSTILE[1], 20, CONTROL)])
    root = model.Hop(
        caller=model.CLIENT, callee=HOSTILE[0], method='GET',
        path='/' + bad, status=200, start=T0, duration_ms=5.0,
        global_request_id=GLOBAL, request_id=HOSTILE[0],
        children=[inner])
    return model.Trace(
        global_request_id=HOSTILE[0], queried_id=HOSTILE[3],
        roots=[root], participants=[model.CLIENT, HOSTILE[0], HOSTILE[1]],
        orphan_lines=[_line('glance-api', None, 30, bad)],
        mode=HOSTILE[2],
        stats=model.Stats(warnings=[bad], skipped_where=[bad + ':7: bad']))


def secrets():
    """Secrets in clear where a careless source could leave them."""
    hop = model.Hop(
        caller=model.CLIENT, callee='swift-proxy', method='GET',
        path='/v1/AUTH_test/c/o', query='temp_url_sig=%s&temp_url_expires=9'
        % SIGNATURE,
        url='http://admin:%s@127.0.0.1:8080/v1/AUTH_test/c/o?token=%s'
        % (PASSWORD, TOKEN),
        status=401, error='Unauthorized: token %s' % TOKEN, start=T0,
        duration_ms=3.0, global_request_id=GLOBAL, request_id=_id(1),
        headers={'request': {'X-Auth-Token': TOKEN,
                             'Authorization': 'Basic ' + PASSWORD},
                 'response': {'X-Subject-Token': TOKEN}},
        body={'request': '{"auth": {"password": "%s", "token": "%s"}}'
              % (PASSWORD, TOKEN),
              'response': 'password=%s' % PASSWORD},
        lines=[_line('swift-proxy', _id(1), 0,
                     'REQ: curl -g -i -X GET -H "X-Auth-Token: %s"' % TOKEN),
               _line('swift-proxy', _id(1), 90,
                     'auth failed for password=%s' % PASSWORD,
                     level='ERROR')])
    return model.Trace(
        global_request_id=GLOBAL, queried_id=GLOBAL, roots=[hop],
        participants=[model.CLIENT, 'swift-proxy'],
        orphan_lines=[_line('swift-proxy', None, 200,
                            'token=%s' % TOKEN)],
        stats=model.Stats(warnings=['cannot read /etc/x?password=%s'
                                    % PASSWORD]))


def self_call():
    """A service calling itself, and a participant the list misses."""
    inner = model.Hop(
        caller='nova-api', callee='nova-api', method='GET',
        path='/v2.1/flavors/1', status=200, start=T0 + 0.01,
        duration_ms=1.0, global_request_id=GLOBAL, request_id=_id(2),
        parent_request_id=_id(1))
    outer = model.Hop(
        caller=model.CLIENT, callee='nova-api', method='GET',
        path='/v2.1/servers/detail', status=200, start=T0,
        duration_ms=9.0, global_request_id=GLOBAL, request_id=_id(1),
        children=[inner,
                  model.Hop(caller='nova-api', callee='cyborg-api',
                            method='GET', path='/v2/devices', status=200,
                            start=T0 + 0.02, duration_ms=1.5,
                            global_request_id=GLOBAL, request_id=_id(3),
                            parent_request_id=_id(1))])
    return model.Trace(global_request_id=GLOBAL, queried_id=_id(1),
                       roots=[outer], participants=[model.CLIENT,
                                                    'nova-api'])
