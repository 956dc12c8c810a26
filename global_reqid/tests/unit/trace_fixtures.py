"""A realistic trace, built by hand, for the renderer tests."""

from global_reqid.trace import model

GLOBAL = 'req-423d23a0-4119-4cba-9776-57197970d605'
T0 = 1795454334.0  # 2026-11-23T17:18:54Z
TOKEN = 'gAAAAABnSecretTokenValue0123456789'


def _line(service, request_id, offset, message, level='DEBUG', error=False,
          time=None):
    text = ('2026-11-23 17:18:54.810 11117 %s %s.api [%s %s - - - - - -] %s'
            % (level, service, GLOBAL, request_id, message))
    return model.LogLine(
        source='/var/log/%s.log' % service, offset=offset, text=text,
        time=time, level=level, logger='%s.api' % service, pid=11117,
        service=service, global_request_id=GLOBAL, request_id=request_id,
        message=message, error=error or level in model.ERROR_LEVELS)


def image_create():
    """client -> keystone (discovery, token), client -> glance (create,
    upload with a token validation, a failing call with no answer)."""
    k1 = 'req-d5e96a71-d3e1-46c4-ae46-9ef866abe9f5'
    k2 = 'req-33d24597-63d8-40cd-a337-ed9cb037d725'
    g1 = 'req-7a3d0f52-3c55-4b0e-9c67-0c0a4f6f2d11'
    k3 = 'req-0c3f6a0e-9b7e-4a39-8d7e-58b2c5a8e0aa'
    g2 = 'req-5b1e1c2e-55a4-4a47-a7a5-8f6f1f3a9e22'
    g3 = 'req-9f0b8c1d-2e3f-4a5b-8c7d-6e5f4a3b2c33'
    validation = model.Hop(
        caller='glance-api', callee='keystone', method='GET',
        path='/v3/auth/tokens', route='/v3/auth/tokens', status=200,
        start=T0 + 0.820, duration_ms=35.5, global_request_id=GLOBAL,
        request_id=k3, parent_request_id=g1,
        headers={'request': {'X-Subject-Token': '{SHA256}3f2a9c'},
                 'response': {'Content-Type': 'application/json'}},
        evidence=('server', 'client'),
        lines=[_line('keystone', k3, 900, 'Validating token',
                     time=T0 + 0.83)])
    create = model.Hop(
        caller=model.CLIENT, callee='glance-api', method='POST',
        path='/v2/images', route='/v2/images', status=201,
        url='http://127.0.0.1:9292/v2/images',
        start=T0 + 0.800, duration_ms=84.2, global_request_id=GLOBAL,
        request_id=g1, request_bytes=96, response_bytes=745,
        headers={'request': {'X-Auth-Token': '{SHA256}9b1c0e',
                             'Content-Type': 'application/json'},
                 'response': {'Location': '/v2/images/0708'}},
        body={'request': '{"name": "testimg", "password": "***"}',
              'response': {'binary': True, 'bytes': 745,
                           'content_type': 'application/octet-stream'}},
        evidence=('server', 'client'),
        lines=[_line('glance-api', g1, 100, 'Creating image <b>&',
                     time=T0 + 0.81)],
        children=[validation])
    upload = model.Hop(
        caller=model.CLIENT, callee='glance-api', method='PUT',
        path='/v2/images/070833a5-4f01-4ae7-9892-73e6556940ea/file',
        route='/v2/images/{uuid}/file', status=500, error='OSError',
        start=T0 + 0.900, duration_ms=55.3, global_request_id=GLOBAL,
        request_id=g2, evidence=('server',),
        lines=[_line('glance-api', g2, 200, 'Failed to upload image data',
                     level='ERROR', time=T0 + 0.95),
               _line('glance-api', g2, 300,
                     'Traceback (most recent call last):', level='ERROR',
                     time=T0 + 0.95)])
    lost = model.Hop(
        caller=model.CLIENT, callee='object-store', method='GET',
        path='/v1/AUTH_6578/images', status=None, error='ConnectTimeout',
        start=T0 + 1.0, duration_ms=1000.0, global_request_id=GLOBAL,
        request_id=None, url='http://127.0.0.1:8080/v1/AUTH_6578/images',
        evidence=('client',))
    discovery = model.Hop(
        caller=model.CLIENT, callee='keystone', method='GET', path='/v3',
        route='/v3', status=200, start=T0, duration_ms=6.0,
        global_request_id=GLOBAL, request_id=k1, evidence=('server',),
        lines=[_line('keystone', k1, 10, 'REQUEST_METHOD: `GET`',
                     time=T0 + 0.001)])
    token = model.Hop(
        caller=model.CLIENT, callee='keystone', method='POST',
        path='/v3/auth/tokens', route='/v3/auth/tokens', status=201,
        start=T0 + 0.1, duration_ms=653.3, global_request_id=GLOBAL,
        request_id=k2, evidence=('server',),
        headers={'request': {'Content-Type': 'application/json'},
                 'response': {'X-Subject-Token': '{SHA256}77aa01'}},
        lines=[_line('keystone', k2, 20,
                     'Truncating password to algorithm specific maximum',
                     level='WARNING', time=T0 + 0.2)])
    show = model.Hop(
        caller=model.CLIENT, callee='glance-api', method='GET',
        path='/v2/images/070833a5-4f01-4ae7-9892-73e6556940ea',
        query='fields=name%7Cid', route='/v2/images/{uuid}', status=200,
        start=T0 + 2.0, duration_ms=7.0, global_request_id=GLOBAL,
        request_id=g3, evidence=('logs',))
    trace = model.Trace(
        global_request_id=GLOBAL, queried_id=GLOBAL,
        roots=[discovery, token, create, upload, lost, show],
        participants=[model.CLIENT, 'keystone', 'glance-api', 'object-store'],
        orphan_lines=[_line('glance-api', None, 50,
                            'Determining version of request: POST /v2',
                            time=T0 + 0.79)],
        mode='mixed',
        stats=model.Stats(files=4, bytes=123456, lines=1500, matched=12,
                          events=6))
    return trace


def empty():
    """An action with one hop, no lines, nothing optional."""
    hop = model.Hop(caller=model.CLIENT, callee='svc', method='GET',
                    path='/', status=204, start=T0, duration_ms=1.0,
                    global_request_id=GLOBAL, request_id=GLOBAL)
    return model.Trace(global_request_id=GLOBAL, queried_id=GLOBAL,
                       roots=[hop], participants=[model.CLIENT, 'svc'])
