"""Outbound calls carry the ids: the adapter and the reversible hooks."""

import concurrent.futures
import json
import socket
import threading

from keystoneauth1 import session as ks_session
from oslo_context import context as oslo_context
import pytest
import requests
import requests.adapters

from global_reqid import client
from global_reqid import context
from global_reqid import ids
from global_reqid.tests.functional import apps

GLOBAL = 'req-0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9'
LOCAL = 'req-11111111-2222-4333-8444-555555555555'
OTHER = 'req-66666666-7777-4888-9999-aaaaaaaaaaaa'
ORIGINAL_SEND = requests.adapters.HTTPAdapter.send
ORIGINAL_REQUEST = ks_session.Session.request


class ListSink:
    def __init__(self):
        self.events = []

    def emit(self, event):
        self.events.append(event)
        return True


@pytest.fixture(autouse=True)
def _uninstrumented():
    """Every test starts and ends with the originals in place."""
    client.uninstrument()
    yield
    client.uninstrument()
    assert requests.adapters.HTTPAdapter.send is ORIGINAL_SEND
    assert ks_session.Session.request is ORIGINAL_REQUEST


@pytest.fixture(scope='module')
def server():
    """A real HTTP server on 127.0.0.1 that answers the headers it got."""
    def app(environ, start_response):
        got = {k: environ.get(ids.environ_key(k)) for k in (
            ids.REQUEST_ID_HEADER, ids.CALLER_HEADER, ids.PARENT_HEADER)}
        body = json.dumps(got).encode()
        start_response('200 OK', [('Content-Type', 'application/json'),
                                  ('Content-Length', str(len(body))),
                                  (ids.REQUEST_ID_HEADER, OTHER)])
        return [body]

    with apps.serving(app, threads=4) as served:
        yield served.url


def sent(resp):
    got = resp.json()
    return (got[ids.REQUEST_ID_HEADER], got[ids.CALLER_HEADER],
            got[ids.PARENT_HEADER])


def test_outbound_headers_from_held_ids():
    """Inside a request: global (or root), service name and parent."""
    with context.bound(context.RequestIds(LOCAL, GLOBAL, 'nova-api')):
        assert client.outbound_headers() == {
            ids.REQUEST_ID_HEADER: GLOBAL, ids.CALLER_HEADER: 'nova-api',
            ids.PARENT_HEADER: LOCAL}
    with context.bound(context.RequestIds(LOCAL, None, 'nova-api')):
        assert client.outbound_headers()[ids.REQUEST_ID_HEADER] == LOCAL
    assert client.outbound_headers() == {}


def test_outbound_headers_from_an_oslo_context():
    """A given oslo context gives its global id (root rule) and local id."""
    ctx = oslo_context.RequestContext(request_id=LOCAL, overwrite=False)
    assert client.outbound_headers(ctx, 'cinder-volume') == {
        ids.REQUEST_ID_HEADER: LOCAL, ids.CALLER_HEADER: 'cinder-volume',
        ids.PARENT_HEADER: LOCAL}


def test_adapter_carries_the_context_ids(server):
    """The adapter sends the context's ids on every call."""
    ctx = oslo_context.RequestContext(request_id=LOCAL,
                                      global_request_id=GLOBAL,
                                      overwrite=False)
    adapter = client.adapter_for(ks_session.Session(), ctx,
                                 service_name='nova-api',
                                 endpoint_override=server)
    resp = adapter.get('/x', authenticated=False)
    assert sent(resp) == (GLOBAL, 'nova-api', LOCAL)


def test_adapter_per_call_id_wins(server):
    """A global_request_id given on one call wins, as in keystoneauth."""
    ctx = oslo_context.RequestContext(request_id=LOCAL, overwrite=False)
    adapter = client.Adapter(ks_session.Session(), context=ctx,
                             endpoint_override=server)
    resp = adapter.get('/x', authenticated=False, global_request_id=OTHER)
    assert sent(resp)[0] == OTHER


def test_instrumented_calls_carry_current_ids(server):
    """Inside a request keystoneauth and plain requests calls carry ids."""
    client.instrument(service_name='fallback')
    with context.bound(context.RequestIds(LOCAL, GLOBAL, 'glance-api')):
        via_ks = ks_session.Session().get(server + '/x', authenticated=False)
        via_requests = requests.get(server + '/x', timeout=10)
    for resp in (via_ks, via_requests):
        assert sent(resp) == (GLOBAL, 'glance-api', LOCAL)


def test_outside_requests_nothing_is_added(server):
    """Outside any request a call carries nothing new and still works."""
    client.instrument(service_name='glance-api')
    resp = requests.get(server + '/x', timeout=10)
    assert resp.status_code == 200
    assert sent(resp) == (None, None, None)


def test_explicit_id_is_never_overwritten(server):
    """An id the caller set explicitly stays as it was."""
    client.instrument()
    with context.bound(context.RequestIds(LOCAL, GLOBAL, 'glance-api')):
        resp = ks_session.Session().get(server + '/x', authenticated=False,
                                        global_request_id=OTHER)
        plain = requests.get(server + '/x', timeout=10,
                             headers={'x-openstack-request-id': OTHER})
    assert sent(resp)[0] == OTHER and sent(plain)[0] == OTHER


def test_oslo_context_is_the_fallback(server):
    """Behind oslo's filter the service's current context gives the ids."""
    client.instrument(service_name='cinder-api')
    oslo_context.RequestContext(request_id=LOCAL, global_request_id=GLOBAL)
    resp = requests.get(server + '/x', timeout=10)
    assert sent(resp) == (GLOBAL, 'cinder-api', LOCAL)


def test_fixed_global_id_for_a_recorded_command(server):
    """With a fixed id, every call of the process carries it."""
    client.instrument(service_name='openstack', global_request_id=GLOBAL)
    resp = ks_session.Session().get(server + '/x', authenticated=False)
    assert sent(resp) == (GLOBAL, 'openstack', None)


def test_instrument_twice_is_harmless_and_reversible(server):
    """instrument() twice hooks once; uninstrument() restores exactly."""
    client.instrument(service_name='a')
    hooked = (requests.adapters.HTTPAdapter.send, ks_session.Session.request)
    client.instrument(service_name='b')
    assert (requests.adapters.HTTPAdapter.send,
            ks_session.Session.request) == hooked
    assert hooked[0] is not ORIGINAL_SEND and client.is_instrumented()
    client.instrument(service_name='b', global_request_id=GLOBAL)
    assert sent(requests.get(server + '/x', timeout=10))[1] == 'b'
    client.uninstrument()
    client.uninstrument()
    assert requests.adapters.HTTPAdapter.send is ORIGINAL_SEND
    assert ks_session.Session.request is ORIGINAL_REQUEST
    assert not client.is_instrumented()


def test_bad_instrument_arguments_are_refused():
    """A malformed fixed id or service name is a ValueError."""
    with pytest.raises(ValueError):
        client.instrument(global_request_id='req-1')
    with pytest.raises(ValueError):
        client.instrument(service_name='bad name')
    assert not client.is_instrumented()


def test_client_events_record_the_callers_side(server):
    """Each call gives a client event with status and the callee's id."""
    sink = ListSink()
    client.instrument(sinks=[sink])
    with context.bound(context.RequestIds(LOCAL, GLOBAL, 'nova-api')):
        ks_session.Session().get(server + '/v2/images?limit=1',
                                 authenticated=False)
    (event,) = sink.events
    assert (event['kind'], event['global_request_id'], event['request_id'],
            event['service'], event['method'], event['path'],
            event['query'], event['status'], event['callee_request_id'],
            event['error']) == (
        'client', GLOBAL, LOCAL, 'nova-api', 'GET', '/v2/images', 'limit=1',
        200, OTHER, None)
    assert event['target'] == server.split('//')[1]
    assert event['scheme'] == 'http'


def test_each_service_in_one_process_keeps_its_own_client_events(server):
    """Two filters instrumenting one process: a call made while serving
    glance-api goes to glance-api's sinks, one made while serving swift
    to swift's."""
    glance, swift = ListSink(), ListSink()
    client.instrument(service_name='glance-api', sinks=[glance])
    client.instrument(service_name='swift', sinks=[swift])
    for name in ('glance-api', 'swift', 'glance-api'):
        with context.bound(context.RequestIds(LOCAL, GLOBAL, name)):
            ks_session.Session().get(server + '/', authenticated=False)
    assert [e['service'] for e in glance.events] == ['glance-api'] * 2
    assert [e['service'] for e in swift.events] == ['swift']
    client.uninstrument()
    client.instrument(service_name='nova-api', sinks=[ListSink()])
    assert client._Hooks.config.by_service.keys() == {'nova-api'}


def test_connection_refused_is_an_event_with_no_status():
    """A refused connection is recorded with its error and no status."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    sink = ListSink()
    client.instrument(sinks=[sink])
    with context.bound(context.RequestIds(LOCAL, GLOBAL, 'nova-api')):
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get('http://127.0.0.1:%d/' % port, timeout=5)
    (event,) = sink.events
    assert event['status'] is None and event['error'] == 'ConnectionError'


def test_concurrent_requests_never_leak_ids(server):
    """Threads serving different requests each send only their own ids."""
    client.instrument()
    barrier = threading.Barrier(8)

    def one(n):
        mine = context.RequestIds(ids.new_request_id(),
                                  ids.new_request_id(), 'svc%d' % n)
        with context.bound(mine):
            barrier.wait(timeout=10)
            got = [sent(requests.get(server + '/x', timeout=10))
                   for _ in range(5)]
        return mine, got

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for mine, got in pool.map(one, range(8)):
            assert set(got) == {(mine.global_request_id, mine.service,
                                 mine.request_id)}


def test_instrument_from_environment():
    """record's environment instruments; anything else does nothing."""
    assert not client.instrument_from_environment({})
    assert not client.instrument_from_environment(
        {client.RECORD_ID_ENV: 'req-bad'})
    assert not client.is_instrumented()
    assert client.instrument_from_environment(
        {client.RECORD_ID_ENV: GLOBAL, client.RECORD_NAME_ENV: 'openstack'})
    assert client.is_instrumented()
