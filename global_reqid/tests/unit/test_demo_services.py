"""The demo's stand-in keystone and swift answer like the real APIs."""

import re

import webtest

from global_reqid.cmd._demo import common
from global_reqid.cmd._demo import keystone
from global_reqid.cmd._demo import swift

PASSWORD = 'demo-password-for-tests'
PROJECT_ID = common.stable_id('project:demo')


def _keystone():
    return webtest.TestApp(keystone.keystone_factory(
        {}, user='demo', password_sha256=keystone.password_hash(PASSWORD),
        project='demo', image_url='http://127.0.0.1:9292',
        object_store_url='http://127.0.0.1:8080'))


def _auth(password=PASSWORD, project='demo'):
    return {'auth': {
        'identity': {'methods': ['password'], 'password': {'user': {
            'name': 'demo', 'domain': {'id': 'default'},
            'password': password}}},
        'scope': {'project': {'name': project,
                              'domain': {'id': 'default'}}}}}


def test_keystone_issues_a_fernet_shaped_token_with_a_catalog():
    """The right password gets 201, a token in X-Subject-Token, a catalog."""
    resp = _keystone().post_json('/v3/auth/tokens', _auth(), status=201)
    assert re.fullmatch(r'gAAAAAB[A-Za-z0-9_-]{100,}',
                        resp.headers['X-Subject-Token'])
    catalog = {entry['type']: entry['endpoints'][0]['url']
               for entry in resp.json['token']['catalog']}
    assert catalog == {
        'image': 'http://127.0.0.1:9292',
        'object-store': 'http://127.0.0.1:8080/v1/AUTH_' + PROJECT_ID}
    assert resp.headers['X-Subject-Token'] not in resp.text


def test_keystone_refuses_a_wrong_password_or_project():
    """A wrong password or project gets 401 and no token."""
    app = _keystone()
    for body in (_auth(password='wrong'), _auth(project='admin')):
        resp = app.post_json('/v3/auth/tokens', body, status=401)
        assert 'X-Subject-Token' not in resp.headers


def test_keystone_validates_only_tokens_it_issued():
    """GET /v3/auth/tokens: 200 for its token, 401 bad caller, 404 bad
    subject."""
    app = _keystone()
    token = app.post_json('/v3/auth/tokens', _auth()).headers[
        'X-Subject-Token']
    ok = app.get('/v3/auth/tokens', headers={
        'X-Auth-Token': token, 'X-Subject-Token': token}, status=200)
    assert ok.json['token']['project']['id'] == PROJECT_ID
    app.get('/v3/auth/tokens', headers={
        'X-Auth-Token': token + 'x', 'X-Subject-Token': token}, status=401)
    app.get('/v3/auth/tokens', headers={
        'X-Auth-Token': token, 'X-Subject-Token': token + 'x'}, status=404)


def test_password_hash_is_not_the_password():
    """What keystone keeps (and the paste file holds) is a SHA-256 digest."""
    digest = keystone.password_hash(PASSWORD)
    assert re.fullmatch(r'[0-9a-f]{64}', digest) and PASSWORD not in digest


def test_swift_stores_and_returns_an_object_of_its_project():
    """PUT then GET of one object in the caller's project's account."""
    app = webtest.TestApp(swift.swift_factory({}))
    path = '/v1/AUTH_%s/images/obj' % PROJECT_ID
    headers = {'X-Project-Id': PROJECT_ID}
    resp = app.put(path, b'data', headers=headers, status=201)
    assert resp.headers['Etag'] == '8d777f385d3dfec8815d20f7496026dc'
    assert app.get(path, headers=headers, status=200).body == b'data'


def test_swift_refuses_another_projects_account():
    """A token of another project gets 403, and nothing is stored."""
    app = webtest.TestApp(swift.swift_factory({}))
    path = '/v1/AUTH_%s/images/obj' % PROJECT_ID
    app.put(path, b'data', headers={
        'X-Project-Id': common.stable_id('project:other')}, status=403)
    app.get(path, headers={'X-Project-Id': PROJECT_ID}, status=404)
