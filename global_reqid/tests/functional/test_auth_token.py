"""keystonemiddleware's token validation carries the request's global id.

Pipeline, served on 127.0.0.1: our filter (``instrument_outbound``) ->
keystonemiddleware's real ``auth_token`` -> a WSGI app; tokens are
validated against the keystone-like fixture through real HTTP.
"""

import json

from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from oslo_config import cfg
import pytest

from global_reqid import client
from global_reqid import ids
from global_reqid import middleware
from global_reqid.events import reader
from global_reqid.tests.functional import apps
from global_reqid.tests.functional import keystone_like

auth_token = pytest.importorskip(
    'keystonemiddleware.auth_token',
    reason='functional-requirements.txt: keystonemiddleware')

GLOBAL = 'req-0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9'
SERVICE = 'image-api'
AUTHTOKEN_SECTION = """\
[keystone_authtoken]
www_authenticate_uri = %(url)s
auth_url = %(url)s/v3
auth_type = password
username = %(username)s
password = %(password)s
project_name = %(project)s
user_domain_id = default
project_domain_id = default
interface = public
http_request_max_retries = 0
"""


def protected_app(environ, start_response):
    """The service behind auth_token: answers who auth_token let in."""
    body = json.dumps({
        'identity_status': environ.get('HTTP_X_IDENTITY_STATUS'),
        'user_id': environ.get('HTTP_X_USER_ID'),
        'project_name': environ.get('HTTP_X_PROJECT_NAME'),
    }).encode()
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(body)))])
    return [body]


def auth_token_conf(keystone, directory):
    """authtoken's options, as glance-api.conf has them; a ConfigOpts."""
    user = keystone_like.SERVICE
    path = directory / 'service.conf'
    path.write_text(AUTHTOKEN_SECTION % {
        'url': keystone.url, 'username': user.name,
        'password': user.password, 'project': user.project})
    conf = cfg.ConfigOpts()
    conf([], project='image-api', default_config_files=[str(path)])
    return conf


@pytest.fixture(autouse=True)
def _uninstrumented():
    """Every test starts and ends with no outbound hooks."""
    client.uninstrument()
    yield
    client.uninstrument()


@pytest.fixture
def keystone():
    """A keystone-like identity API on 127.0.0.1."""
    with keystone_like.serving() as app:
        yield app


@pytest.fixture
def service(keystone, tmp_path):
    """Serve our filter -> auth_token -> app; yield (url, our filter)."""
    def build(instrument):
        protected = auth_token.filter_factory(
            {}, oslo_config_config=auth_token_conf(keystone, tmp_path))(
            protected_app)
        ours = middleware.RequestId(protected, {
            'service_name': SERVICE, 'event_dir': str(tmp_path),
            'instrument_outbound': 'true' if instrument else 'false'})
        served = apps.serving(ours, threads=2)
        started.append(served)
        return served.__enter__().url, ours

    started = []
    yield build
    for served in started:
        served.__exit__(None, None, None)


def user_session(keystone):
    """A real keystoneauth session holding the admin's token."""
    user = keystone_like.ADMIN
    return ks_session.Session(auth=v3.Password(
        auth_url=keystone.url + '/v3', username=user.name,
        password=user.password, project_name=user.project,
        user_domain_id='default', project_domain_id='default'))


def call(keystone, url, global_id):
    """GET the service with a fresh user token; (response, token)."""
    sess = user_session(keystone)
    token = sess.get_token()
    keystone.clear()
    resp = sess.get(url + '/v2/images', global_request_id=global_id,
                    raise_exc=False)
    return resp, token


def validations(keystone, token):
    return [r for r in keystone.requests('GET', '/v3/auth/tokens')
            if r.header('X-Subject-Token') == token]


@pytest.mark.parametrize('global_id', [GLOBAL, None])
def test_validation_call_carries_the_global_id(keystone, service, global_id):
    """authtoken's keystone calls carry the global id (root: ours)."""
    url, _ = service(instrument=True)
    resp, token = call(keystone, url, global_id)
    assert resp.status_code == 200, resp.text
    assert resp.json()['identity_status'] == 'Confirmed'
    local = resp.headers[ids.REQUEST_ID_HEADER]
    expected = global_id or local
    (validation,) = validations(keystone, token)
    assert validation.status == 200
    # Every call authtoken made while serving: discovery, its own service
    # token and the validation.
    assert {(r.header(ids.REQUEST_ID_HEADER), r.header(ids.CALLER_HEADER),
             r.header(ids.PARENT_HEADER))
            for r in keystone.requests()} == {(expected, SERVICE, local)}


def test_rejected_token_validation_carries_the_global_id(keystone, service):
    """An unknown token: 401, and the failed validation carries the id."""
    url, _ = service(instrument=True)
    sess = ks_session.Session()
    resp = sess.get(url + '/v2/images', authenticated=False,
                    headers={'X-Auth-Token': 'not-a-known-token'},
                    global_request_id=GLOBAL, raise_exc=False)
    assert resp.status_code == 401
    (validation,) = validations(keystone, 'not-a-known-token')
    assert validation.status == 404
    assert validation.header(ids.REQUEST_ID_HEADER) == GLOBAL


def test_validation_is_a_client_event(keystone, service, tmp_path):
    """The filter's sinks get the validation as a client event."""
    url, ours = service(instrument=True)
    resp, token = call(keystone, url, GLOBAL)
    assert resp.status_code == 200, resp.text
    assert ours.flush()
    (validation,) = validations(keystone, token)
    events = [e for e in reader.iter_directory(tmp_path)
              if e['kind'] == 'client' and e['path'] == '/v3/auth/tokens'
              and e['method'] == 'GET']
    assert [(e['global_request_id'], e['service'], e['parent_request_id'],
             e['status'], e['callee_request_id']) for e in events] == [
        (GLOBAL, SERVICE, resp.headers[ids.REQUEST_ID_HEADER], 200,
         validation.answered_id)]


def test_without_instrument_validation_carries_no_id(keystone, service):
    """Control: as today, authtoken's validation call carries no id."""
    url, _ = service(instrument=False)
    resp, token = call(keystone, url, GLOBAL)
    assert resp.status_code == 200, resp.text
    assert not client.is_instrumented()
    (validation,) = validations(keystone, token)
    assert validation.header(ids.REQUEST_ID_HEADER) is None
    assert validation.header(ids.CALLER_HEADER) is None
