"""The demo's one action, as ``openstack image create --file`` does it.

A keystoneauth1 session gets a project-scoped token, then, through the
token's catalog, creates an image, uploads its data and shows it. Every
call carries the one global request id, passed the way services pass it:
``global_request_id=``.
"""

import typing

from keystoneauth1 import access
from keystoneauth1 import adapter
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import access as access_plugin

#: Seconds a call may take before the action fails.
TIMEOUT = 30


class Result(typing.NamedTuple):
    """What the action did: each call's (method, URL, status), the image."""

    calls: list
    image: dict
    #: The token the client was given (to check no output holds it).
    token: str


def image_create(auth_url, user, password, project, global_id, data,
                 name='cirros-demo'):
    """Create an image from ``data`` with ``global_id``; return a Result.

    ``auth_url`` is the identity endpoint (``http://host:port``). Raises
    keystoneauth1's exceptions when a call fails.
    """
    calls = []

    def note(resp):
        calls.append((resp.request.method, resp.request.url,
                      resp.status_code))
        return resp

    sess = ks_session.Session(timeout=TIMEOUT)
    resp = note(sess.post(
        auth_url + '/v3/auth/tokens', authenticated=False,
        global_request_id=global_id,
        json={'auth': {
            'identity': {'methods': ['password'], 'password': {'user': {
                'name': user, 'domain': {'id': 'default'},
                'password': password}}},
            'scope': {'project': {'name': project,
                                  'domain': {'id': 'default'}}}}}))
    auth_ref = access.create(resp=resp)
    image_api = adapter.Adapter(
        ks_session.Session(auth=access_plugin.AccessInfoPlugin(
            auth_ref, auth_url=auth_url + '/v3'), timeout=TIMEOUT),
        service_type='image', interface='public',
        global_request_id=global_id)
    image = note(image_api.post('/v2/images', json={
        'name': name, 'disk_format': 'raw',
        'container_format': 'bare'})).json()
    note(image_api.put('/v2/images/%s/file' % image['id'], data=data,
                       headers={'Content-Type': 'application/octet-stream'}))
    image = note(image_api.get('/v2/images/%s' % image['id'])).json()
    return Result(calls, image, auth_ref.auth_token)
