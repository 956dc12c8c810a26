"""Three services on 127.0.0.1 call each other through real sessions."""

import concurrent.futures
import json

from keystoneauth1 import session as ks_session
from oslo_middleware import request_id as oslo_request_id
import pytest

from global_reqid import client
from global_reqid import ids
from global_reqid import middleware
from global_reqid.events import reader
from global_reqid.tests.functional import apps

GLOBAL = 'req-0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9'


@pytest.fixture(autouse=True)
def _uninstrumented():
    """Every test leaves the process uninstrumented."""
    yield
    client.uninstrument()


def calling_app(next_url, sess):
    """A service that calls the next one with its own session, no ids."""

    def app(environ, start_response):
        seen = {'request_id': environ.get(ids.ENV_REQUEST_ID),
                'global_request_id': environ.get(ids.ENV_GLOBAL_REQUEST_ID),
                'caller': environ.get(ids.ENV_CALLER),
                'parent': environ.get(ids.ENV_PARENT_REQUEST_ID)}
        chain = [seen]
        if next_url:
            resp = sess.get(next_url + environ['PATH_INFO'],
                            authenticated=False)
            chain += resp.json()
        body = json.dumps(chain).encode()
        start_response('200 OK', [('Content-Type', 'application/json')])
        return [body]
    return app


def stock_middle(app):
    """The middle service with oslo's filter and a context middleware."""
    return oslo_request_id.RequestId(apps.ContextFilter(app))


@pytest.fixture
def chain(tmp_path):
    """Start C, B, A (each behind our filter unless told); yield URL of A."""
    started = []

    def build(middle_stock=False, instrument='true'):
        sess = ks_session.Session()
        url = None
        for name in ('svc-c', 'svc-b', 'svc-a'):
            app = calling_app(url, sess)
            if name == 'svc-b' and middle_stock:
                wrapped = stock_middle(app)
            else:
                wrapped = middleware.RequestId(app, {
                    'service_name': name, 'event_dir': str(tmp_path),
                    'instrument_outbound': instrument})
            server = apps.serving(wrapped, threads=4).__enter__()
            started.append((server, wrapped))
            url = server.url
        return url

    def flush():
        for _, wrapped in started:
            if hasattr(wrapped, 'flush'):
                assert wrapped.flush(10)

    build.flush = flush
    yield build
    flush()
    for server, _ in started:
        server.__exit__(None, None, None)


def test_global_id_travels_and_parents_link(chain):
    """The id entering A is the global id at C; parents are callers' ids."""
    resp = ks_session.Session().get(chain() + '/x', authenticated=False,
                                    global_request_id=GLOBAL)
    a, b, c = resp.json()
    assert [hop['global_request_id'] for hop in (a, b, c)] == [GLOBAL] * 3
    assert (b['caller'], b['parent']) == ('svc-a', a['request_id'])
    assert (c['caller'], c['parent']) == ('svc-b', b['request_id'])
    assert resp.headers['X-OpenStack-Request-ID'] == a['request_id']


def test_without_instrument_the_id_stops_at_the_first_service(chain):
    """Control: services that pass no context forward nothing by default."""
    a, b, c = ks_session.Session().get(
        chain(instrument='false') + '/x', authenticated=False,
        global_request_id=GLOBAL).json()
    assert a['global_request_id'] == GLOBAL
    assert b['global_request_id'] is None and b['caller'] is None


def test_root_rule_when_first_call_has_no_id(chain):
    """No inbound id: A is the root; its local id is global downstream."""
    a, b, c = ks_session.Session().get(chain() + '/x',
                                       authenticated=False).json()
    assert a['global_request_id'] is None
    assert b['global_request_id'] == c['global_request_id'] == (
        a['request_id'])


def test_stock_oslo_filter_in_the_middle(chain, tmp_path):
    """B runs oslo's filter: the id still travels, A's arrow to B exists."""
    a, b, c = ks_session.Session().get(
        chain(middle_stock=True) + '/x', authenticated=False,
        global_request_id=GLOBAL).json()
    assert b['global_request_id'] == c['global_request_id'] == GLOBAL
    # B's calls take their ids from oslo.context's current context.
    assert c['parent'] == b['request_id']
    chain.flush()
    client_events = [e for e in _events(tmp_path) if e['kind'] == 'client']
    a_to_b = [e for e in client_events
              if e['parent_request_id'] == a['request_id']]
    assert len(a_to_b) == 1
    assert a_to_b[0]['callee_request_id'] == b['request_id']
    assert a_to_b[0]['status'] == 200 and a_to_b[0]['service'] == 'svc-a'


def test_client_and_server_events_pair_up(chain, tmp_path):
    """Each call has a client event whose callee id is a server event."""
    ks_session.Session().get(chain() + '/x', authenticated=False,
                             global_request_id=GLOBAL)
    chain.flush()
    events = _events(tmp_path)
    servers = {e['request_id']: e for e in events if e['kind'] == 'server'}
    clients = [e for e in events if e['kind'] == 'client']
    assert len(servers) == 3 and len(clients) == 2
    for event in clients:
        callee = servers[event['callee_request_id']]
        assert callee['parent_request_id'] == event['parent_request_id']
        assert callee['caller'] == event['service']
        assert event['global_request_id'] == GLOBAL


def test_concurrent_actions_never_share_ids(chain):
    """Concurrent actions through the chain each keep their own id."""
    url = chain()

    def one(n):
        sent = ids.new_request_id()
        hops = ks_session.Session().get(
            '%s/x/%d' % (url, n), authenticated=False,
            global_request_id=sent).json()
        return sent, [hop['global_request_id'] for hop in hops]

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        results = list(pool.map(one, range(30)))
    for sent, seen in results:
        assert seen == [sent] * 3


def _events(directory):
    return list(reader.iter_directory(directory))
