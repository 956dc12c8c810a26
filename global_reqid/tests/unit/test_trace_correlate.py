"""Correlation: one action's events and log lines make one tree of hops."""

import calendar
import datetime
import re
import time

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from global_reqid.trace import correlate
from global_reqid.trace import model

G = 'req-423d23a0-4119-4cba-9776-57197970d605'
OTHER = 'req-cf0b7845-1451-461d-8d4b-dc7b4ab5bc1a'
K1 = 'req-d5e96a71-d3e1-46c4-ae46-9ef866abe9f5'
K2 = 'req-33d24597-63d8-40cd-a337-ed9cb037d725'
NOVA = 'req-16255bff-2862-4487-b51f-59e9d7ea9c0c'
GLANCE = 'req-9ce425aa-942e-498f-8a55-ced5521650bc'
CINDER = 'req-5b1e1c2e-55a4-4a47-a7a5-8f6f1f3a9e22'
KEYSTONE = 'req-0c3f6a0e-9b7e-4a39-8d7e-58b2c5a8e0aa'
IMAGE = '070833a5-4f01-4ae7-9892-73e6556940ea'
T0 = 1795454334.0  # 2026-11-23T17:18:54Z

# Verbatim from ../shared/samples: every line holding G (and two of the
# next action), as the scanner finds them for `openstack image create`.
KEYSTONE_LOG = r'''
2026-11-23 17:18:52.505 11090 DEBUG keystone.server.flask.request_processing.req_logging [req-423d23a0-4119-4cba-9776-57197970d605 req-d5e96a71-d3e1-46c4-ae46-9ef866abe9f5 - - - - - -] REQUEST_METHOD: `GET` log_request_info /opt/stack/venv/lib/python3.11/site-packages/keystone/server/flask/request_processing/req_logging.py:26
2026-11-23 17:18:52.505 11090 DEBUG keystone.server.flask.request_processing.req_logging [req-423d23a0-4119-4cba-9776-57197970d605 req-d5e96a71-d3e1-46c4-ae46-9ef866abe9f5 - - - - - -] SCRIPT_NAME: `` log_request_info /opt/stack/venv/lib/python3.11/site-packages/keystone/server/flask/request_processing/req_logging.py:27
2026-11-23 17:18:52.505 11090 DEBUG keystone.server.flask.request_processing.req_logging [req-423d23a0-4119-4cba-9776-57197970d605 req-d5e96a71-d3e1-46c4-ae46-9ef866abe9f5 - - - - - -] PATH_INFO: `/v3` log_request_info /opt/stack/venv/lib/python3.11/site-packages/keystone/server/flask/request_processing/req_logging.py:28
2026-11-23 17:18:52.510 11090 DEBUG keystone.server.flask.request_processing.req_logging [req-423d23a0-4119-4cba-9776-57197970d605 req-33d24597-63d8-40cd-a337-ed9cb037d725 - - - - - -] REQUEST_METHOD: `POST` log_request_info /opt/stack/venv/lib/python3.11/site-packages/keystone/server/flask/request_processing/req_logging.py:26
2026-11-23 17:18:52.510 11090 DEBUG keystone.server.flask.request_processing.req_logging [req-423d23a0-4119-4cba-9776-57197970d605 req-33d24597-63d8-40cd-a337-ed9cb037d725 - - - - - -] SCRIPT_NAME: `` log_request_info /opt/stack/venv/lib/python3.11/site-packages/keystone/server/flask/request_processing/req_logging.py:27
2026-11-23 17:18:52.510 11090 DEBUG keystone.server.flask.request_processing.req_logging [req-423d23a0-4119-4cba-9776-57197970d605 req-33d24597-63d8-40cd-a337-ed9cb037d725 - - - - - -] PATH_INFO: `/v3/auth/tokens` log_request_info /opt/stack/venv/lib/python3.11/site-packages/keystone/server/flask/request_processing/req_logging.py:28
2026-11-23 17:18:52.559 11090 WARNING keystone.common.password_hashing [req-423d23a0-4119-4cba-9776-57197970d605 req-33d24597-63d8-40cd-a337-ed9cb037d725 - - - - - -] Truncating password to algorithm specific maximum length 72 characters.
2026-11-23 17:18:52.873 11090 DEBUG keystone.auth.core [req-423d23a0-4119-4cba-9776-57197970d605 req-33d24597-63d8-40cd-a337-ed9cb037d725 - - - - - -] MFA Rules not processed for user `25a1f0a4543740778deb98dc1ad33a97`. Rule list: `[]` (Enabled: `True`). check_auth_methods_against_rules /opt/stack/venv/lib/python3.11/site-packages/keystone/auth/core.py:476
2026-11-23 17:18:52.881 11090 DEBUG keystone.common.fernet_utils [req-423d23a0-4119-4cba-9776-57197970d605 req-33d24597-63d8-40cd-a337-ed9cb037d725 - - - - - -] Loaded 2 Fernet keys from /opt/stack/data/etc/keystone/fernet-keys/, but `[fernet_tokens] max_active_keys = 3`; perhaps there have not been enough key rotations to reach `max_active_keys` yet? load_keys /opt/stack/venv/lib/python3.11/site-packages/keystone/common/fernet_utils.py:297
'''
KEYSTONE_ACCESS = r'''
[23/Nov/2026:17:18:52 +0000] pid=<11090> 127.0.0.1 "GET /v3 HTTP/1.1" 200 250 0.001904s in_reqid=req-423d23a0-4119-4cba-9776-57197970d605 out_reqid=req-d5e96a71-d3e1-46c4-ae46-9ef866abe9f5
[23/Nov/2026:17:18:53 +0000] pid=<11090> 127.0.0.1 "POST /v3/auth/tokens HTTP/1.1" 201 1825 0.566226s in_reqid=req-423d23a0-4119-4cba-9776-57197970d605 out_reqid=req-33d24597-63d8-40cd-a337-ed9cb037d725
'''
GLANCE_ACCESS = r'''
[23/Nov/2026:17:18:53 +0000] pid=<11117> 127.0.0.1 "GET / HTTP/1.1" 300 2016 0.002578s in_reqid=req-423d23a0-4119-4cba-9776-57197970d605 out_reqid=-
[23/Nov/2026:17:18:54 +0000] pid=<11117> 127.0.0.1 "POST /v2/images HTTP/1.1" 201 745 1.584350s in_reqid=req-423d23a0-4119-4cba-9776-57197970d605 out_reqid=req-423d23a0-4119-4cba-9776-57197970d605
[23/Nov/2026:17:18:54 +0000] pid=<11117> 127.0.0.1 "PUT /v2/images/070833a5-4f01-4ae7-9892-73e6556940ea/file HTTP/1.1" 204 0 0.055301s in_reqid=req-423d23a0-4119-4cba-9776-57197970d605 out_reqid=req-423d23a0-4119-4cba-9776-57197970d605
[23/Nov/2026:17:18:54 +0000] pid=<11117> 127.0.0.1 "GET /v2/images/070833a5-4f01-4ae7-9892-73e6556940ea HTTP/1.1" 200 927 0.007038s in_reqid=req-423d23a0-4119-4cba-9776-57197970d605 out_reqid=req-423d23a0-4119-4cba-9776-57197970d605
[23/Nov/2026:17:18:57 +0000] pid=<11117> 127.0.0.1 "GET /v2/images HTTP/1.1" 200 996 0.681778s in_reqid=req-cf0b7845-1451-461d-8d4b-dc7b4ab5bc1a out_reqid=req-cf0b7845-1451-461d-8d4b-dc7b4ab5bc1a
'''
GLANCE_LOG = r'''
2026-11-23 17:18:54.810 11117 DEBUG glance.api.middleware.version_negotiation [None req-423d23a0-4119-4cba-9776-57197970d605 25a1f0a4543740778deb98dc1ad33a97 6578c273953945dc84d9078d73ff939a - - default default] Determining version of request: PUT /v2/images/070833a5-4f01-4ae7-9892-73e6556940ea/file Accept:  process_request /opt/stack/venv/lib/python3.11/site-packages/glance/api/middleware/version_negotiation.py:44
2026-11-23 17:18:54.811 11117 DEBUG glance.api.middleware.version_negotiation [None req-423d23a0-4119-4cba-9776-57197970d605 25a1f0a4543740778deb98dc1ad33a97 6578c273953945dc84d9078d73ff939a - - default default] Using url versioning process_request /opt/stack/venv/lib/python3.11/site-packages/glance/api/middleware/version_negotiation.py:57
2026-11-23 17:18:54.811 11117 DEBUG glance.api.middleware.version_negotiation [None req-423d23a0-4119-4cba-9776-57197970d605 25a1f0a4543740778deb98dc1ad33a97 6578c273953945dc84d9078d73ff939a - - default default] Matched version: v2 process_request /opt/stack/venv/lib/python3.11/site-packages/glance/api/middleware/version_negotiation.py:69
2026-11-23 17:18:54.811 11117 DEBUG glance.api.middleware.version_negotiation [None req-423d23a0-4119-4cba-9776-57197970d605 25a1f0a4543740778deb98dc1ad33a97 6578c273953945dc84d9078d73ff939a - - default default] new path /v2/images/070833a5-4f01-4ae7-9892-73e6556940ea/file process_request /opt/stack/venv/lib/python3.11/site-packages/glance/api/middleware/version_negotiation.py:70
2026-11-23 17:18:54.818 11117 DEBUG glance.common.utils [None req-423d23a0-4119-4cba-9776-57197970d605 25a1f0a4543740778deb98dc1ad33a97 6578c273953945dc84d9078d73ff939a - - default default] Sorted locations: [] sort_image_locations /opt/stack/venv/lib/python3.11/site-packages/glance/common/utils.py:923
2026-11-23 17:18:54.820 11117 INFO glance.api.v2.image_data [None req-423d23a0-4119-4cba-9776-57197970d605 25a1f0a4543740778deb98dc1ad33a97 6578c273953945dc84d9078d73ff939a - - default default] Unable to create trust: no such option collect_timing in group [keystone_authtoken] Use the existing user token.
2026-11-23 17:18:54.836 11117 DEBUG glance.location [None req-423d23a0-4119-4cba-9776-57197970d605 25a1f0a4543740778deb98dc1ad33a97 6578c273953945dc84d9078d73ff939a - - default default] Enabling in-flight format inspection for raw set_data /opt/stack/venv/lib/python3.11/site-packages/glance/location.py:601
2026-11-23 17:18:54.837 11117 DEBUG oslo_utils.imageutils.format_inspector [None req-423d23a0-4119-4cba-9776-57197970d605 25a1f0a4543740778deb98dc1ad33a97 6578c273953945dc84d9078d73ff939a - - default default] Format inspector for vmdk does not match, excluding from consideration (Signature KDMV not found: b'=S\xf9\xdb') _process_chunk /opt/stack/venv/lib/python3.11/site-packages/oslo_utils/imageutils/format_inspector.py:1758
2026-11-23 17:18:54.840 11117 DEBUG oslo_utils.imageutils.format_inspector [None req-423d23a0-4119-4cba-9776-57197970d605 25a1f0a4543740778deb98dc1ad33a97 6578c273953945dc84d9078d73ff939a - - default default] Format inspector for vhdx does not match, excluding from consideration (Region signature not found at 30000) _process_chunk /opt/stack/venv/lib/python3.11/site-packages/oslo_utils/imageutils/format_inspector.py:1758
2026-11-23 17:18:54.845 11117 DEBUG glance_store._drivers.filesystem [None req-423d23a0-4119-4cba-9776-57197970d605 25a1f0a4543740778deb98dc1ad33a97 6578c273953945dc84d9078d73ff939a - - default default] Wrote 1048576 bytes to /opt/stack/data/data/glance/images/070833a5-4f01-4ae7-9892-73e6556940ea with checksum 805f54881733d7f0e5cde8a802062bd6 and multihash 500a4fb59a230c33bb90caafa8b643c872f6b3f28190d0ff7206e8b472bdacfb61a8af5904f71bbd1d7ab872659e65f2c0ee1e60d248f2f0dc07cdf782b97973 add /opt/stack/venv/lib/python3.11/site-packages/glance_store/_drivers/filesystem.py:899
2026-11-23 17:18:54.846 11117 INFO glance.location [None req-423d23a0-4119-4cba-9776-57197970d605 25a1f0a4543740778deb98dc1ad33a97 6578c273953945dc84d9078d73ff939a - - default default] Image format matched and virtual size computed: 1048576
2026-11-23 17:18:54.864 11117 DEBUG glance_store.multi_backend [None req-423d23a0-4119-4cba-9776-57197970d605 25a1f0a4543740778deb98dc1ad33a97 6578c273953945dc84d9078d73ff939a - - default default] Skipping store.set_acls... not implemented set_acls_for_multi_store /opt/stack/venv/lib/python3.11/site-packages/glance_store/multi_backend.py:575
2026-11-23 17:18:54.870 11117 DEBUG glance.api.middleware.version_negotiation [None req-423d23a0-4119-4cba-9776-57197970d605 25a1f0a4543740778deb98dc1ad33a97 6578c273953945dc84d9078d73ff939a - - default default] Determining version of request: GET /v2/images/070833a5-4f01-4ae7-9892-73e6556940ea Accept: */* process_request /opt/stack/venv/lib/python3.11/site-packages/glance/api/middleware/version_negotiation.py:44
2026-11-23 17:18:54.871 11117 DEBUG glance.api.middleware.version_negotiation [None req-423d23a0-4119-4cba-9776-57197970d605 25a1f0a4543740778deb98dc1ad33a97 6578c273953945dc84d9078d73ff939a - - default default] Using url versioning process_request /opt/stack/venv/lib/python3.11/site-packages/glance/api/middleware/version_negotiation.py:57
2026-11-23 17:18:54.871 11117 DEBUG glance.api.middleware.version_negotiation [None req-423d23a0-4119-4cba-9776-57197970d605 25a1f0a4543740778deb98dc1ad33a97 6578c273953945dc84d9078d73ff939a - - default default] Matched version: v2 process_request /opt/stack/venv/lib/python3.11/site-packages/glance/api/middleware/version_negotiation.py:69
2026-11-23 17:18:54.871 11117 DEBUG glance.api.middleware.version_negotiation [None req-423d23a0-4119-4cba-9776-57197970d605 25a1f0a4543740778deb98dc1ad33a97 6578c273953945dc84d9078d73ff939a - - default default] new path /v2/images/070833a5-4f01-4ae7-9892-73e6556940ea process_request /opt/stack/venv/lib/python3.11/site-packages/glance/api/middleware/version_negotiation.py:70
2026-11-23 17:18:54.876 11117 DEBUG glance.common.utils [None req-423d23a0-4119-4cba-9776-57197970d605 25a1f0a4543740778deb98dc1ad33a97 6578c273953945dc84d9078d73ff939a - - default default] Sorted locations: [{'store_name': 'fs'}] sort_image_locations /opt/stack/venv/lib/python3.11/site-packages/glance/common/utils.py:923
2026-11-23 17:18:57.162 11117 DEBUG glance.api.middleware.version_negotiation [None req-423d23a0-4119-4cba-9776-57197970d605 25a1f0a4543740778deb98dc1ad33a97 6578c273953945dc84d9078d73ff939a - - default default] Determining version of request: GET / Accept: application/json process_request /opt/stack/venv/lib/python3.11/site-packages/glance/api/middleware/version_negotiation.py:44
2026-11-23 17:18:57.162 11117 DEBUG glance.api.middleware.version_negotiation [None req-423d23a0-4119-4cba-9776-57197970d605 25a1f0a4543740778deb98dc1ad33a97 6578c273953945dc84d9078d73ff939a - - default default] Using url versioning process_request /opt/stack/venv/lib/python3.11/site-packages/glance/api/middleware/version_negotiation.py:57
2026-11-23 17:18:57.162 11117 DEBUG glance.api.middleware.version_negotiation [None req-423d23a0-4119-4cba-9776-57197970d605 25a1f0a4543740778deb98dc1ad33a97 6578c273953945dc84d9078d73ff939a - - default default] Unknown version. Returning version choices. process_request /opt/stack/venv/lib/python3.11/site-packages/glance/api/middleware/version_negotiation.py:64
2026-11-23 17:18:57.173 11117 DEBUG glance.api.middleware.version_negotiation [None req-423d23a0-4119-4cba-9776-57197970d605 25a1f0a4543740778deb98dc1ad33a97 6578c273953945dc84d9078d73ff939a - - default default] Determining version of request: GET /v2/images Accept: application/json process_request /opt/stack/venv/lib/python3.11/site-packages/glance/api/middleware/version_negotiation.py:44
2026-11-23 17:18:57.173 11117 DEBUG glance.api.middleware.version_negotiation [None req-423d23a0-4119-4cba-9776-57197970d605 25a1f0a4543740778deb98dc1ad33a97 6578c273953945dc84d9078d73ff939a - - default default] Using url versioning process_request /opt/stack/venv/lib/python3.11/site-packages/glance/api/middleware/version_negotiation.py:57
2026-11-23 17:18:57.173 11117 DEBUG glance.api.middleware.version_negotiation [None req-423d23a0-4119-4cba-9776-57197970d605 25a1f0a4543740778deb98dc1ad33a97 6578c273953945dc84d9078d73ff939a - - default default] Matched version: v2 process_request /opt/stack/venv/lib/python3.11/site-packages/glance/api/middleware/version_negotiation.py:69
2026-11-23 17:18:57.173 11117 DEBUG glance.api.middleware.version_negotiation [None req-423d23a0-4119-4cba-9776-57197970d605 25a1f0a4543740778deb98dc1ad33a97 6578c273953945dc84d9078d73ff939a - - default default] new path /v2/images process_request /opt/stack/venv/lib/python3.11/site-packages/glance/api/middleware/version_negotiation.py:70
2026-11-23 17:18:57.852 11117 DEBUG glance.common.utils [None req-cf0b7845-1451-461d-8d4b-dc7b4ab5bc1a 25a1f0a4543740778deb98dc1ad33a97 6578c273953945dc84d9078d73ff939a - - default default] Sorted locations: [{'store_name': 'fs'}] sort_image_locations /opt/stack/venv/lib/python3.11/site-packages/glance/common/utils.py:923
'''

_OSLO = re.compile(
    r'(\S+ \S+) (\d+) (\w+) (\S+) \[(?:(\S+) (\S+) [^\]]*|-)\] (.*)')
_ACCESS = re.compile(
    r'\[(\S+) \+0000\] pid=<(\d+)> \S+ "(\w+) (\S+) [^"]*" (\d+) \d+ '
    r'([\d.]+)s in_reqid=(\S+) out_reqid=(\S+)')
_REQUEST = re.compile(r'Determining version of request: (\w+) (\S+)')
_KEYSTONE = re.compile(r'(REQUEST_METHOD|PATH_INFO): `([^`]*)`')


def _id(value):
    return None if value in ('-', 'None') else value


def oslo_lines(text, source, service):
    """LogLines of oslo.log default-format lines, fields as parse sets."""
    out = []
    for offset, raw in enumerate(text.strip('\n').split('\n')):
        when, pid, level, logger, glob, local, message = \
            _OSLO.fullmatch(raw).groups()
        moment = datetime.datetime.strptime(
            when, '%Y-%m-%d %H:%M:%S.%f').replace(
                tzinfo=datetime.timezone.utc).timestamp()
        line = model.LogLine(
            source=source, offset=offset * 400, text=raw, time=moment,
            level=level, logger=logger, pid=int(pid), service=service,
            global_request_id=_id(glob), request_id=_id(local),
            message=message, error=level in model.ERROR_LEVELS)
        request = _REQUEST.match(message)
        keystone = _KEYSTONE.match(message)
        if request:
            line.kind = model.KIND_REQUEST
            line.method, line.path = request.groups()
        elif keystone:
            line.kind = model.KIND_REQUEST
            if keystone.group(1) == 'REQUEST_METHOD':
                line.method = keystone.group(2)
            else:
                line.path = keystone.group(2)
        out.append(line)
    return out


def access_lines(text, source, service, local_slots=False):
    """LogLines of gunicorn access lines (in_reqid=, out_reqid=)."""
    out = []
    for offset, raw in enumerate(text.strip('\n').split('\n')):
        when, pid, method, path, status, took, inbound, answered = \
            _ACCESS.fullmatch(raw).groups()
        moment = calendar.timegm(time.strptime(when, '%d/%b/%Y:%H:%M:%S'))
        line = model.LogLine(
            source=source, offset=offset * 200, text=raw,
            time=float(moment), pid=int(pid), service=service,
            kind=model.KIND_ACCESS, method=method, path=path,
            status=int(status), duration_ms=float(took) * 1000.0,
            callee_request_id=_id(answered),
            inbound_request_id=_id(inbound))
        if local_slots:
            # Either way a parser may fill the id columns of access lines.
            line.callee_request_id = line.inbound_request_id = None
            line.request_id, line.global_request_id = (
                _id(answered), _id(inbound))
        out.append(line)
    return out


def sample_lines(local_slots=False):
    return (oslo_lines(KEYSTONE_LOG, '/var/log/keystone.log', 'keystone')
            + access_lines(KEYSTONE_ACCESS, '/var/log/keystone-access.log',
                           'keystone', local_slots)
            + access_lines(GLANCE_ACCESS, '/var/log/glance-access.log',
                           'glance', local_slots)
            + oslo_lines(GLANCE_LOG, '/var/log/glance-api.log', 'glance-api'))


def line(service, request_id, offset, message, when, glob=G, level='DEBUG',
         kind=model.KIND_LOG, **fields):
    """One oslo.log line as parse makes it, in real oslo.log layout."""
    stamp = datetime.datetime.fromtimestamp(
        when, datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]
    text = '%s 4242 %s %s.api [%s %s - - - - - -] %s' % (
        stamp, level, service, glob, request_id, message)
    return model.LogLine(
        source='/var/log/%s.log' % service, offset=offset, text=text,
        time=when, level=level, logger='%s.api' % service, pid=4242,
        service=service, global_request_id=glob, request_id=request_id,
        message=message, error=level in model.ERROR_LEVELS, kind=kind,
        **fields)


def server(service, request_id, start, duration, glob=G, parent=None,
           caller=None, method='GET', path='/', status=200, **fields):
    event = {'v': 1, 'kind': 'server', 'global_request_id': glob,
             'request_id': request_id, 'parent_request_id': parent,
             'root': glob is None, 'service': service, 'caller': caller,
             'host': 'ctl-1', 'pid': 4242, 'method': method, 'path': path,
             'route': None, 'query': None, 'status': status, 'error': None,
             'start': datetime.datetime.fromtimestamp(
                 start, datetime.timezone.utc).strftime(
                     '%Y-%m-%dT%H:%M:%S.%fZ'),
             'duration_ms': duration, 'request_bytes': 0,
             'response_bytes': 10, 'user_id': None, 'project_id': None}
    event.update(fields)
    return event


def client(service, request_id, callee_id, start, duration, target,
           service_type=None, method='GET', path='/', status=200,
           error=None):
    return {'v': 1, 'kind': 'client', 'global_request_id': G,
            'request_id': request_id, 'parent_request_id': request_id,
            'service': service, 'host': 'ctl-1', 'pid': 4242,
            'method': method, 'target': target,
            'service_type': service_type, 'path': path, 'query': None,
            'status': status, 'error': error, 'start': start,
            'duration_ms': duration, 'request_bytes': 0,
            'response_bytes': None, 'callee_request_id': callee_id}


def shape(hops):
    """(caller, callee, method, path, status) of hops, in order."""
    return [(h.caller, h.callee, h.method, h.path, h.status) for h in hops]


def all_hops(trace):
    """Every hop, without recursion, each seen once (a cycle would show)."""
    seen = []
    stack = list(reversed(trace.roots))
    while stack:
        hop = stack.pop()
        assert all(hop is not other for other in seen), 'hop seen twice'
        seen.append(hop)
        stack.extend(reversed(hop.children))
        assert len(seen) < 10000
    return seen


# Events ---------------------------------------------------------------------

def nova_root_events():
    """nova-api is the root; it calls glance (our filter on both)."""
    nova = server('nova-api', G, T0, 120.0, glob=None, method='POST',
                  path='/v2.1/servers', status=202)
    glance = server('glance-api', GLANCE, T0 + 0.02, 55.3, parent=G,
                    caller='nova-api', path='/v2/images/' + IMAGE,
                    headers={'request': {'Accept': 'application/json'}})
    call = client('nova-api', G, GLANCE, T0 + 0.019, 58.0,
                  'ctl-1:9292', 'image', path='/v2/images/' + IMAGE,
                  status=200)
    return [nova, glance, call]


def test_client_event_pairs_with_server_event_of_answered_id():
    """A client event joins the server event whose id the callee answered."""
    trace = correlate.build(G, G, nova_root_events(), [])
    hops = all_hops(trace)
    assert len(hops) == 2
    root, = trace.roots
    glance, = root.children
    assert glance.evidence == ('server', 'client')
    assert glance.url == '//ctl-1:9292/v2/images/' + IMAGE
    # With the scheme recorded (client events since it was added), the URL
    # is whole.
    events = nova_root_events()
    events[2]['scheme'] = 'https'
    again = correlate.build(G, G, events, [])
    assert again.roots[0].children[0].url == (
        'https://ctl-1:9292/v2/images/' + IMAGE)
    assert glance.duration_ms == 55.3       # the server's, not the caller's
    assert glance.start == T0 + 0.02
    assert glance.headers == {'request': {'Accept': 'application/json'}}
    assert (glance.caller, glance.parent_request_id) == ('nova-api', G)
    assert trace.mode == 'events'
    assert trace.participants == [model.CLIENT, 'nova-api', 'glance-api']


def test_nesting_follows_parent_ids_against_skewed_clocks():
    """A parent id nests a child even when the clocks say otherwise."""
    nova = server('nova-api', NOVA, T0, 100.0, caller='openstack')
    # glance's host is 5 s behind: by time it would start before nova.
    glance = server('glance-api', GLANCE, T0 - 5.0, 30.0, parent=NOVA,
                    caller='nova-api')
    # keystone's start falls inside nova's window, but glance called it.
    keystone = server('keystone', KEYSTONE, T0 + 0.01, 2.0, parent=GLANCE,
                      caller='glance-api')
    trace = correlate.build(G, G, [keystone, glance, nova], [])
    root, = trace.roots
    assert root.request_id == NOVA
    assert [h.request_id for h in root.children] == [GLANCE]
    assert [h.request_id for h in root.children[0].children] == [KEYSTONE]


def test_time_containment_when_the_parent_link_is_missing():
    """With no link, a call nests in the innermost caller hop holding it."""
    outer = server('nova-api', NOVA, T0, 1000.0, caller='openstack')
    inner = server('nova-api', GLANCE, T0 + 0.2, 300.0, caller='nova-api',
                   parent=NOVA)
    inside = server('cinder-api', CINDER, T0 + 0.25, 10.0,
                    caller='nova-api')
    later = server('cinder-api', KEYSTONE, T0 + 2.0, 10.0,
                   caller='nova-api')
    trace = correlate.build(G, G, [inside, later, outer, inner], [])
    assert [h.request_id for h in trace.roots] == [NOVA, KEYSTONE]
    outer_hop = trace.roots[0]
    assert [h.request_id for h in outer_hop.children] == [GLANCE]
    assert [h.request_id for h in outer_hop.children[0].children] == [
        CINDER]


def test_time_never_overrides_a_link():
    """A hop with a parent id stays under that parent whatever the times."""
    a = server('nova-api', NOVA, T0, 1000.0)
    b = server('nova-api', GLANCE, T0 + 5.0, 1.0)
    # Inside a's window by time, but b called it.
    c = server('cinder-api', CINDER, T0 + 0.5, 1.0, parent=GLANCE,
               caller='nova-api')
    trace = correlate.build(G, G, [a, b, c], [])
    by_id = {h.request_id: h for h in all_hops(trace)}
    assert by_id[GLANCE].children == [by_id[CINDER]]
    assert by_id[NOVA].children == []


def test_client_event_without_a_recorded_callee_is_its_own_hop():
    """A call whose callee recorded nothing is a hop of its own."""
    nova = server('nova-api', G, T0, 2000.0, glob=None)
    lost = client('nova-api', G, None, T0 + 0.1, 1000.0, '127.0.0.1:9696',
                  'network', path='/v2.0/ports', status=None,
                  error='ConnectTimeout')
    answered = client('nova-api', G, CINDER, T0 + 1.2, 12.0,
                      '127.0.0.1:8776', path='/v3/volumes', status=404)
    trace = correlate.build(G, G, [nova, lost, answered], [])
    root, = trace.roots
    assert shape(root.children) == [
        ('nova-api', 'network', 'GET', '/v2.0/ports', None),
        ('nova-api', '127.0.0.1:8776', 'GET', '/v3/volumes', 404)]
    first, second = root.children
    assert first.error == 'ConnectTimeout' and first.failed
    assert first.request_id is None and second.request_id == CINDER
    assert first.evidence == second.evidence == ('client',)
    assert first.url == '//127.0.0.1:9696/v2.0/ports'


def test_unanswered_call_is_named_by_who_answers_its_address():
    """A lost call to keystone's address goes to keystone, not "identity"."""
    # As glance's authtoken recorded it on a real cloud: a pooled
    # connection keystone had closed, then the retried validation.
    glance = server('glance-api', GLANCE, T0, 200.0, caller='openstack')
    lost = client('glance-api', GLANCE, None, T0 + 0.002, 0.6,
                  '127.0.0.1:5000', 'identity', path='/v3/auth/tokens',
                  status=None, error='ConnectionError')
    validated = client('glance-api', GLANCE, KEYSTONE, T0 + 0.01, 120.0,
                       '127.0.0.1:5000', 'identity', path='/v3/auth/tokens')
    keystone = server('keystone', KEYSTONE, T0 + 0.011, 118.0,
                      parent=GLANCE, caller='glance-api',
                      path='/v3/auth/tokens')
    trace = correlate.build(G, G, [glance, lost, validated, keystone], [])
    root, = trace.roots
    assert shape(root.children) == [
        ('glance-api', 'keystone', 'GET', '/v3/auth/tokens', None),
        ('glance-api', 'keystone', 'GET', '/v3/auth/tokens', 200)]
    assert trace.participants == ['openstack', 'glance-api', 'keystone']
    # Alone, the lost call keeps its service type as the callee's name.
    alone = correlate.build(G, G, [glance, lost], [])
    assert shape(alone.roots[0].children) == [
        ('glance-api', 'identity', 'GET', '/v3/auth/tokens', None)]


def test_events_of_other_actions_are_left_out():
    """Only events of the action make hops."""
    events = nova_root_events() + [
        server('glance-api', KEYSTONE, T0, 1.0, glob=OTHER)]
    trace = correlate.build(G, G, events, [])
    assert KEYSTONE not in {h.request_id for h in all_hops(trace)}


def test_duplicate_events_make_one_hop():
    """The same event read twice (two sinks) is one hop."""
    events = nova_root_events()
    trace = correlate.build(G, G, events + [dict(e) for e in events], [])
    assert len(all_hops(trace)) == 2


# Lines ----------------------------------------------------------------------

def test_lines_attach_to_their_hop_in_time_order_and_rest_orphaned():
    """Lines go under their hop in time order; unmatched ones are orphans."""
    events = nova_root_events()
    late = line('glance-api', GLANCE, 300, 'Image shown', T0 + 0.05)
    early = line('glance-api', GLANCE, 200, 'Policy check', T0 + 0.03,
                 level='ERROR')
    root = line('nova-api', G, 100, 'Creating server', T0 + 0.001)
    no_local = line('nova-api', None, 50, 'Loading extensions', T0)
    # A plain line of an unknown local id is no request of its own.
    stray = line('nova-conductor', CINDER, 60, 'Scheduling', T0 + 0.5)
    other = line('glance-api', KEYSTONE, 400, 'Other action', T0 + 0.04,
                 glob=OTHER)
    trace = correlate.build(G, G, events,
                            [late, other, stray, early, no_local, root])
    nova, = trace.roots
    glance, = nova.children
    assert nova.lines == [root]
    assert glance.lines == [early, late]
    assert glance.failed
    assert trace.orphan_lines == [no_local, stray]
    assert len(all_hops(trace)) == 2
    assert trace.mode == 'events'


def test_local_id_query_finds_the_global_id():
    """A hop's local id (event, log or access line) leads to its global id."""
    events = nova_root_events()
    assert correlate.global_id_for(GLANCE, events, []) == G
    assert correlate.global_id_for(G, events, []) == G
    lines = sample_lines()
    assert correlate.global_id_for(K2, [], lines) == G
    access = access_lines(KEYSTONE_ACCESS, 'keystone-access.log',
                          'keystone')
    assert correlate.global_id_for(K1, [], access) == G
    assert correlate.global_id_for(K1, [], access_lines(
        KEYSTONE_ACCESS, 'keystone-access.log', 'keystone', True)) == G
    assert correlate.global_id_for(CINDER, events, lines) == CINDER


def test_local_ids_are_the_hops_local_ids():
    """local_ids gives the callees' ids the action's records name."""
    found = correlate.local_ids(G, [], sample_lines())
    assert found == {K1, K2}
    assert correlate.local_ids(G, nova_root_events(), []) == {GLANCE}


# Retroactive mode -----------------------------------------------------------

EXPECTED = [
    (model.CLIENT, 'keystone', 'GET', '/v3', 200),
    (model.CLIENT, 'keystone', 'POST', '/v3/auth/tokens', 201),
    (model.CLIENT, 'glance-api', 'GET', '/', 300),
    (model.CLIENT, 'glance-api', 'POST', '/v2/images', 201),
    (model.CLIENT, 'glance-api', 'PUT', '/v2/images/%s/file' % IMAGE, 204),
    (model.CLIENT, 'glance-api', 'GET', '/v2/images/' + IMAGE, 200),
]


def test_retroactive_image_create_from_real_stock_logs():
    """Stock logs alone give image create's six calls, stale lines orphaned."""
    for local_slots in (False, True):
        lines = sample_lines(local_slots)
        trace = correlate.build(G, G, [], list(reversed(lines)))
        assert shape(trace.roots) == EXPECTED
        assert all(not h.children for h in trace.roots)
        assert trace.mode == 'logs'
        assert trace.participants == [model.CLIENT, 'keystone',
                                      'glance-api']
        by_source = {}
        for item in lines:
            by_source.setdefault(item.source, []).append(item)
        keystone = by_source['/var/log/keystone.log']
        glance = by_source['/var/log/glance-api.log']
        k_access = by_source['/var/log/keystone-access.log']
        g_access = by_source['/var/log/glance-access.log']
        discovery, token, versions, create, upload, show = trace.roots
        assert discovery.request_id == K1 and token.request_id == K2
        # A whole-second access line is timed at its hop's end.
        assert discovery.lines == keystone[:3] + [k_access[0]]
        assert k_access[0].time == round(
            discovery.start + discovery.duration_ms / 1000.0, 6)
        assert token.lines == keystone[3:] + [k_access[1]]
        assert token.start == keystone[3].time
        assert token.duration_ms == 566.226
        assert versions.request_id is None
        assert versions.lines == [g_access[0]]
        assert create.lines == [g_access[1]]
        assert upload.lines == glance[:12] + [g_access[2]]
        assert show.lines == glance[12:17] + [g_access[3]]
        assert upload.start == glance[0].time
        assert trace.orphan_lines == glance[17:24]


def test_lines_before_the_request_line_start_the_request():
    """keystone authenticates before REQUEST_METHOD: its first line starts."""
    # As keystone 30.0.0 logs an authenticated GET (whole-second access).
    t = T0 + 0.632
    lines = [
        line('keystone', K1, 0, 'Authenticating user token', t),
        line('keystone', K1, 200, 'Validating token access rules', t + 0.08),
        line('keystone', K1, 400, 'REQUEST_METHOD: `GET`', t + 0.147,
             kind=model.KIND_REQUEST, method='GET'),
        line('keystone', K1, 600, 'PATH_INFO: `/v3/projects/p1`', t + 0.148,
             kind=model.KIND_REQUEST, path='/v3/projects/p1'),
    ] + access_lines(
        '[23/Nov/2026:17:18:54 +0000] pid=<4242> 127.0.0.1 "GET '
        '/v3/projects/p1 HTTP/1.1" 200 293 0.158887s in_reqid=%s '
        'out_reqid=%s' % (G, K1), '/var/log/keystone-access.log',
        'keystone')
    trace = correlate.build(G, G, [], lines)
    (hop,) = trace.roots
    assert (hop.request_id, hop.method, hop.path) == (
        K1, 'GET', '/v3/projects/p1')
    assert hop.start == t
    assert trace.orphan_lines == []


def _served(service, rid, start, seconds, method='GET', path='/', offset=0,
            lines=1):
    """A request known from logs: ``lines`` timed lines, an access line."""
    out = [line(service, rid, offset + n, 'working %d' % n,
                start + 0.001 * n) for n in range(lines)]
    out.append(line(service, rid, offset + 50, '127.0.0.1 "%s %s" status: '
                    '200 len: 1 time: %.6f' % (method, path, seconds),
                    start + seconds, kind=model.KIND_ACCESS, method=method,
                    path=path, status=200, duration_ms=seconds * 1000.0))
    return out


def test_unlogged_call_nests_in_the_request_it_ran_inside():
    """A keystone request that starts and ends inside a glance-api request
    is glance-api's call (keystoneauth's lines are off by default); one
    outside any request, or timed only to the second, stays the client's."""
    glance = _served('glance-api', GLANCE, T0 + 1.0, 0.5, 'POST',
                     '/v2/images', lines=3)
    inside = _served('keystone', K1, T0 + 1.1, 0.2, path='/v3/auth/tokens')
    before = _served('keystone', K2, T0, 0.3, 'POST', '/v3/auth/tokens')
    coarse = line('keystone', KEYSTONE, 900, '127.0.0.1 "GET /v3" status: '
                  '200 len: 1 time: 0.001000', T0 + 1.0,
                  kind=model.KIND_ACCESS, method='GET', path='/v3',
                  status=200, duration_ms=1.0)
    trace = correlate.build(G, G, [], glance + inside + before + [coarse])
    assert [(h.caller, h.callee, h.request_id) for h in trace.roots] == [
        (model.CLIENT, 'keystone', K2), (model.CLIENT, 'keystone', KEYSTONE),
        (model.CLIENT, 'glance-api', GLANCE)]
    nested, = trace.roots[2].children
    assert (nested.caller, nested.callee, nested.request_id) == (
        'glance-api', 'keystone', K1)


def test_unlogged_call_of_the_same_service_is_not_nested():
    """Two overlapping requests of one service are not each other's calls
    (a service does not wait on itself)."""
    one = _served('glance-api', GLANCE, T0, 1.0, path='/v2/images')
    two = _served('glance-api', K1, T0 + 0.2, 0.1, path='/v2/schemas',
                  offset=100)
    trace = correlate.build(G, G, [], one + two)
    assert [(h.caller, h.request_id, h.children) for h in trace.roots] == [
        (model.CLIENT, GLANCE, []), (model.CLIENT, K1, [])]


def test_keystoneauth_call_lines_make_the_parent_link():
    """keystoneauth call lines link the callee under the caller."""
    url = 'http://127.0.0.1:8776/v3/6578c273/volumes/' + IMAGE
    nova = [
        line('nova-api', G, 10, 'Action: create', T0 + 0.001, glob=None),
        line('nova-api', G, 20, 'REQ: curl -g -i -X GET %s -H '
             '"X-OpenStack-Request-ID: %s"' % (url, G), T0 + 0.01,
             glob=None, kind=model.KIND_CALL, method='GET', url=url,
             target='127.0.0.1:8776'),
        line('nova-api', G, 30, 'RESP: [200] Content-Length: 927 '
             'x-openstack-request-id: %s' % CINDER, T0 + 0.05, glob=None,
             kind=model.KIND_CALL, status=200, callee_request_id=CINDER),
        line('nova-api', G, 40, 'GET call to volumev3 for %s used request '
             'id %s' % (url, CINDER), T0 + 0.05, glob=None,
             kind=model.KIND_CALL, method='GET', url=url, target='volumev3',
             callee_request_id=CINDER),
        line('nova-api', G, 50, 'REQ: curl -g -i -X GET '
             'http://127.0.0.1:9696/v2.0/ports?device_id=1', T0 + 0.06,
             glob=None, kind=model.KIND_CALL, method='GET',
             url='http://127.0.0.1:9696/v2.0/ports?device_id=1'),
        line('nova-api', G, 60, '127.0.0.1 "POST /v2.1/servers" status: '
             '202 len: 10 time: 1.500123', T0 + 1.500123, glob=None,
             kind=model.KIND_ACCESS, method='POST', path='/v2.1/servers',
             status=202, duration_ms=1500.123),
    ]
    # cinder's clock is 3 s behind nova's.
    cinder = [
        line('cinder-api', CINDER, 5, 'Volume info', T0 - 2.99),
        line('cinder-api', CINDER, 6, '127.0.0.1 "GET /v3/6578c273/volumes/'
             '%s" status: 200 len: 927 time: 0.0300' % IMAGE, T0 - 2.96,
             kind=model.KIND_ACCESS, method='GET',
             path='/v3/6578c273/volumes/' + IMAGE, status=200,
             duration_ms=30.0),
    ]
    trace = correlate.build(G, G, [], cinder + nova)
    root, = trace.roots
    assert shape([root]) == [
        (model.CLIENT, 'nova-api', 'POST', '/v2.1/servers', 202)]
    assert shape(root.children) == [
        ('nova-api', 'cinder-api', 'GET', '/v3/6578c273/volumes/' + IMAGE,
         200),
        ('nova-api', '127.0.0.1:9696', 'GET', '/v2.0/ports', None)]
    volume, ports = root.children
    assert volume.parent_request_id == G and volume.lines == cinder
    assert ports.query == 'device_id=1' and ports.request_id is None
    assert root.lines == nova
    assert trace.mode == 'logs'
    assert trace.participants == [model.CLIENT, 'nova-api', 'cinder-api',
                                  '127.0.0.1:9696']


def _nova_calls_keystone(url, status):
    """nova-api's request calling keystone, keystone's own lines (no
    access line: keystone logs none)."""
    nova = [
        line('nova-api', NOVA, 10, 'REQ: curl -g -i -X GET %s' % url,
             T0 + 0.01, kind=model.KIND_CALL, method='GET', url=url),
        line('nova-api', NOVA, 20, 'RESP: [%d] Content-Length: 9' % status,
             T0 + 0.056, kind=model.KIND_CALL, status=status),
        line('nova-api', NOVA, 30, 'GET call to identity for %s used '
             'request id %s' % (url, KEYSTONE), T0 + 0.057,
             kind=model.KIND_CALL, method='GET', url=url, target='identity',
             callee_request_id=KEYSTONE),
        line('nova-api', NOVA, 40, '127.0.0.1 "POST /v2.1/servers" status: '
             '202 len: 10 time: 0.100000', T0 + 0.1, kind=model.KIND_ACCESS,
             method='POST', path='/v2.1/servers', status=202,
             duration_ms=100.0),
    ]
    keystone = [
        line('keystone', KEYSTONE, 5, 'REQUEST_METHOD: `GET`', T0 + 0.02,
             kind=model.KIND_REQUEST, method='GET', path='/v3/auth/tokens'),
        line('keystone', KEYSTONE, 6, 'Authenticating user token',
             T0 + 0.03),
    ]
    return nova, keystone


def test_callee_without_access_line_takes_the_callers_answer():
    """keystone logs no access line: the caller's RESP: line gives the
    hop its status and the REQ:..RESP: span its duration."""
    url = 'http://127.0.0.1/identity/v3/auth/tokens'
    nova, keystone = _nova_calls_keystone(url, 404)
    trace = correlate.build(G, G, [], nova + keystone)
    root, = trace.roots
    check, = root.children
    assert shape([check]) == [
        ('nova-api', 'keystone', 'GET', '/v3/auth/tokens', 404)]
    assert check.duration_ms == 46.0 and check.failed
    assert check.url == url and check.lines == keystone


def test_lines_of_a_served_id_in_another_service_are_handed_work():
    """nova-conductor's lines with nova-api's local id are an RPC hop
    under nova-api's request, holding the conductor's own calls."""
    url = 'http://127.0.0.1:8776/v3/p/attachments/' + IMAGE
    api = [
        line('nova-api', NOVA, 10, 'Action: create', T0 + 0.001),
        line('nova-api', NOVA, 20, '127.0.0.1 "POST /v2.1/servers" status: '
             '202 len: 10 time: 0.100000', T0 + 0.1, kind=model.KIND_ACCESS,
             method='POST', path='/v2.1/servers', status=202,
             duration_ms=100.0),
    ]
    conductor = [
        line('nova-conductor', NOVA, 5, 'Acquiring lock', T0 + 0.15),
        line('nova-conductor', NOVA, 6, 'Took 0.41 seconds to select',
             T0 + 0.16),
        line('nova-conductor', NOVA, 7, 'GET call to volumev3 for %s used '
             'request id %s' % (url, CINDER), T0 + 0.3,
             kind=model.KIND_CALL, method='GET', url=url, target='volumev3',
             callee_request_id=CINDER),
    ]
    conductor[0].logger = 'oslo_concurrency.lockutils'
    conductor[1].logger = 'nova.conductor.manager'
    cinder = [line('cinder-api', CINDER, 9, 'Volume info', T0 + 0.2)]
    trace = correlate.build(G, G, [], api + conductor + cinder)
    root, = trace.roots
    assert shape([root]) == [
        (model.CLIENT, 'nova-api', 'POST', '/v2.1/servers', 202)]
    handed, = root.children
    assert shape([handed]) == [('nova-api', 'nova-conductor', model.RPC,
                                'nova.conductor.manager', None)]
    assert handed.lines == conductor and handed.request_id == NOVA
    assert [(h.caller, h.callee) for h in handed.children] == [
        ('nova-conductor', 'cinder-api')]
    assert root.lines == api


def test_stock_service_in_the_middle_makes_a_mixed_trace():
    """A stock service in the middle joins the tree; the mode is mixed."""
    nova = server('nova-api', G, T0, 500.0, glob=None, method='POST',
                  path='/v2.1/servers', status=202)
    call = client('nova-api', G, CINDER, T0 + 0.01, 300.0, '127.0.0.1:8776',
                  'volumev3', method='POST', path='/v3/6578c273/volumes',
                  status=202)
    # keystone runs our filter; stock cinder sent the global id only.
    keystone = server('keystone', KEYSTONE, T0 + 0.1, 20.0,
                      path='/v3/auth/tokens')
    tokens = 'http://127.0.0.1:5000/v3/auth/tokens'
    ports = 'http://127.0.0.1:9696/v2.0/ports'
    cinder = [
        line('cinder-api', CINDER, 10, 'GET call to identity for %s used '
             'request id %s' % (tokens, KEYSTONE), T0 + 0.12,
             kind=model.KIND_CALL, method='GET', url=tokens,
             target='identity', callee_request_id=KEYSTONE),
        line('cinder-api', CINDER, 20, 'REQ: curl -g -i -X GET ' + ports,
             T0 + 0.2, kind=model.KIND_CALL, method='GET', url=ports),
        line('cinder-api', CINDER, 30, '127.0.0.1 "POST /v3/6578c273/volumes"'
             ' status: 202 len: 10 time: 0.2900', T0 + 0.3,
             kind=model.KIND_ACCESS, method='POST',
             path='/v3/6578c273/volumes', status=202, duration_ms=290.0),
    ]
    trace = correlate.build(G, G, [keystone, call, nova], cinder)
    root, = trace.roots
    volume, = root.children
    assert shape([volume]) == [
        ('nova-api', 'cinder-api', 'POST', '/v3/6578c273/volumes', 202)]
    assert volume.evidence == ('client', 'logs')
    assert volume.lines == cinder
    assert shape(volume.children) == [
        ('cinder-api', 'keystone', 'GET', '/v3/auth/tokens', 200),
        ('cinder-api', '127.0.0.1:9696', 'GET', '/v2.0/ports', None)]
    assert volume.children[0].evidence == ('server',)
    assert trace.mode == 'mixed'
    assert trace.participants == [model.CLIENT, 'nova-api', 'cinder-api',
                                  'keystone', '127.0.0.1:9696']


def test_recorded_client_pairs_with_stock_glance_logs():
    """A recorded command's client events join a stock callee's log hops."""
    events = [
        client('openstack', None, None, T0 - 1.0, 3.0, '127.0.0.1:9292',
               'image', path='/', status=300),
        client('openstack', None, G, T0 - 0.98, 1590.0, '127.0.0.1:9292',
               'image', method='POST', path='/v2/images', status=201),
        client('openstack', None, G, T0 + 0.809, 57.0, '127.0.0.1:9292',
               'image', method='PUT', path='/v2/images/%s/file' % IMAGE,
               status=204),
        client('openstack', None, G, T0 + 0.869, 8.0, '127.0.0.1:9292',
               'image', path='/v2/images/' + IMAGE, status=200),
    ]
    lines = [x for x in sample_lines() if 'glance' in x.source]
    trace = correlate.build(G, G, events, lines)
    assert shape(trace.roots) == [
        ('openstack',) + hop[1:] for hop in EXPECTED[2:]]
    assert all(h.evidence == ('client', 'logs') for h in trace.roots)
    assert trace.mode == 'events'
    assert trace.participants == ['openstack', 'glance-api']


# Robustness -----------------------------------------------------------------

def test_parent_cycle_is_cut():
    """Two hops naming each other as parent still make one tree."""
    a = server('nova-api', NOVA, T0, 10.0, parent=GLANCE)
    b = server('glance-api', GLANCE, T0 + 1, 10.0, parent=NOVA)
    c = server('glance-api', CINDER, T0 + 2, 10.0, parent=CINDER)
    trace = correlate.build(G, G, [a, b, c], [])
    assert len(all_hops(trace)) == 3
    assert len(trace.roots) == 2


POOL = [G, NOVA, GLANCE, CINDER, KEYSTONE, None]
SERVICES = ['nova-api', 'glance-api', 'glance', 'keystone', None]

event_strategy = st.fixed_dictionaries({
    'kind': st.sampled_from(['server', 'client', 'other']),
    'global_request_id': st.sampled_from([G, G, None, OTHER]),
    'request_id': st.sampled_from(POOL),
    'parent_request_id': st.sampled_from(POOL),
    'callee_request_id': st.sampled_from(POOL),
    'service': st.sampled_from(SERVICES),
    'caller': st.sampled_from(SERVICES),
    'service_type': st.sampled_from(['image', None]),
    'target': st.sampled_from(['127.0.0.1:9292', None]),
    'method': st.sampled_from(['GET', 'PUT', None]),
    'path': st.sampled_from(['/', '/v2/images', None]),
    'start': st.one_of(st.none(), st.floats(T0 - 5, T0 + 5),
                       st.just('not a time')),
    'duration_ms': st.one_of(st.none(), st.floats(0, 5000), st.just('x')),
    'status': st.sampled_from([200, 500, None, 'ok']),
})

line_strategy = st.builds(
    lambda kind, glob, rid, callee, service, when, method, path, dur: (
        model.LogLine(source='/var/log/x.log', offset=0, text='x',
                      time=when, service=service, kind=kind,
                      global_request_id=glob, request_id=rid,
                      callee_request_id=callee, method=method, path=path,
                      duration_ms=dur, url='http://h/' if callee else None,
                      pid=1)),
    st.sampled_from([model.KIND_LOG, model.KIND_ACCESS, model.KIND_REQUEST,
                     model.KIND_CALL]),
    st.sampled_from([G, None, OTHER]), st.sampled_from(POOL),
    st.sampled_from(POOL), st.sampled_from(SERVICES),
    st.one_of(st.none(), st.sampled_from([T0, T0 + 0.5]),
              st.floats(T0 - 5, T0 + 5)),
    st.sampled_from(['GET', None]), st.sampled_from(['/', None]),
    st.one_of(st.none(), st.floats(0, 3000)))


@settings(max_examples=200, deadline=None)
@given(st.lists(event_strategy, max_size=12),
       st.lists(line_strategy, max_size=25))
def test_any_input_makes_a_tree_without_cycles(events, lines):
    """Any records make a forest holding every server event, lines once."""
    trace = correlate.build(G, G, events, lines)
    hops = all_hops(trace)
    served = {e['request_id'] for e in events if e['kind'] == 'server' and (
        e['global_request_id'] == G
        or e['global_request_id'] is None and e['request_id'] == G)}
    assert served <= {h.request_id for h in hops}
    placed = [x for hop in hops for x in hop.lines] + trace.orphan_lines
    assert len({id(x) for x in placed}) == len(placed)
    for siblings in [trace.roots] + [hop.children for hop in hops]:
        starts = [h.start for h in siblings]
        known = [s for s in starts if s is not None]
        assert known == sorted(known)
        assert starts[:len(known)] == known
    names = {h.caller for h in hops} | {h.callee for h in hops}
    assert set(trace.participants) == names
    assert trace.mode in ('events', 'logs', 'mixed')
