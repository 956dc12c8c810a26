"""Tests of global_reqid.events.redact: no secret reaches any output."""

import base64
import gzip
import hashlib
import json
import re
import string
import typing
import urllib.parse

from hypothesis import example
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import pytest

from global_reqid.events import redact
from global_reqid.events import schema

HASHED = re.compile(r'\{SHA256\}[0-9a-f]{64}')
WINDOW = 6  # no run of this many characters of a secret may show
LIMITS = (None, 0, 9, 80)


def fernet(seed):
    """A fernet-shaped token (keystone tokens and receipts look so)."""
    digest = hashlib.sha512(seed.encode()).digest()
    return 'gAAAAABn' + base64.urlsafe_b64encode(digest * 2).decode()[:170]


def hexdigest(seed, size):
    return hashlib.sha256(seed.encode()).hexdigest()[:size]


def js(value):
    return json.dumps(value).encode()


# Secrets. Each shares no run of WINDOW characters with anything in the
# corpus that is not a secret.
ADMIN_PASSWORD = 'Adm1n-Pw.7Rq9Lx'
ALICE_PASSWORD = 'Al1ce-Pw.4Tn8Vz'
NEW_PASSWORD = 'N3w-Pw.6Hd2Kc!'
OLD_PASSWORD = 'Old-Pw.9Gm5Bs'
HORIZON_PASSWORD = 'H0riz-Pw.3Wk7Jy'
NOVA_PASSWORD = 'Nova-Pw.8Xe2Qf'
NOVA_GENERATED = 'tQ8vKz3mWp4L'
NOVA_NEW_PASSWORD = 'Chg-Pw.5Yu1Da'
TROVE_PASSWORD = 'Db-Usr.2Pk6Ow'
TROVE_ROOT = 'Db-Root.7Zl3Ie'
TOTP_PASSCODE = '731940'
ADMIN_TOKEN = fernet('admin')
SCOPED_TOKEN = fernet('scoped')
SERVICE_TOKEN = fernet('nova-service')
RECEIPT = fernet('receipt')
APP_SECRET = 'aPpCr3d-S3kr1t_vBn4Ma9QwZ0xLh2Ke'
EC2_ACCESS = hexdigest('ec2-access', 32)
EC2_SECRET = hexdigest('ec2-secret', 32)
EC2_SIGNATURE = 'Vq3Zk8Rn2Lp+Yw5Tx7Ub1Sc='
EC2_SIGNATURE_V4 = hexdigest('ec2-sig-v4', 64)
TEMP_URL_KEY = 'tmpUrlK3y-Mx8Pq'
TEMP_URL_KEY_2 = 'tmpUrlK3y2-Rb5Wn'
TEMP_URL_SIG = hexdigest('temp-url-sig', 40)
FORMPOST_SIG = hexdigest('formpost-sig', 40)
S3_ACCESS = 'AKIDQ7WEXAMPLE9Z3'
# The scope after the access key (date, region) is not secret.
S3_CREDENTIAL = S3_ACCESS + '/20240102/RegionOne/s3/aws4_request'
S3_SESSION = 'FwoGZXIvYXdzEJr//////////wEaDK5+sessionQz7=='
S3_SIGNATURE = hexdigest('s3-sig', 64)
S3V2_ACCESS = 'AKIAV2ACCESSXQ4R'
S3V2_SIGNATURE = 'k3Rv+9Qz/Lm2Xw8=='
CSRF = 'Csrf7Hq2Vn9Lk4Mx'
CSRF_NEW = 'Csrf3Pb8Zr1Ty6Wd'
SESSION = 'sess8Kd3Qm7Vx2Np'
SESSION_NEW = 'sess1Fz6Ju4Gh9Rc'
CLIENT_SECRET = 'oAuth2-Cl1ent-S3c.Jq7'
BASIC = base64.b64encode(b'oauth-client-7:' + CLIENT_SECRET.encode()).decode()
OAUTH_TOKEN = fernet('oauth2-access')
BARBICAN_PAYLOAD = 'B4rb-Payl0ad.Vk3Np8'
PSK = 'Ipsec-Psk.6Rf1Tz'
DB_PASSWORD = 'NovaDb-Pw.2Ks8Lq'

KEYSTONE = 'https://keystone.example.com/identity'
CATALOG = [{'type': 'compute', 'name': 'nova', 'endpoints': [
    {'interface': 'public', 'region': 'RegionOne',
     'url': 'https://nova.example.com/compute/v2.1'}]}]


class Case(typing.NamedTuple):
    name: str
    secrets: tuple
    keep: tuple = ()
    query: str = ''
    request_headers: object = ()
    response_headers: object = ()
    request_body: tuple = (b'', None)
    response_body: tuple = (b'', None)


def password_auth(name, password, *methods, extra=None):
    identity = {'methods': ['password', *methods], 'password': {'user': {
        'name': name, 'domain': {'name': 'Default'}, 'password': password}}}
    identity.update(extra or {})
    return {'auth': {'identity': identity, 'scope': {'project': {
        'name': 'demo', 'domain': {'id': 'default'}}}}}


TOKEN_BODY = {'token': {
    'methods': ['password'], 'expires_at': '2026-11-23T11:00:00.000000Z',
    'audit_ids': ['Xs1yVjvHRkW3N3S5JfwOHA'],
    'user': {'id': '4b9e3c1d2a7f4e8b9c0d1e2f3a4b5c6d', 'name': 'admin',
             'password_expires_at': None},
    'project': {'id': '8c7d6e5f4a3b4c2d9e1f0a9b8c7d6e5f', 'name': 'demo'},
    'catalog': CATALOG}}

CORPUS = [
    Case(
        'keystone password auth',
        secrets=(ADMIN_PASSWORD, ADMIN_TOKEN),
        keep=('"name": "admin"', 'Default', '"methods": ["password"]',
              'password_expires_at', 'nova.example.com/compute',
              'application/json'),
        request_headers={'Content-Type': 'application/json',
                         'User-Agent': 'openstacksdk/4.0.0'},
        response_headers=[('X-Subject-Token', ADMIN_TOKEN),
                          ('Content-Type', 'application/json')],
        request_body=(js(password_auth('admin', ADMIN_PASSWORD)),
                      'application/json'),
        response_body=(js(TOKEN_BODY), 'application/json'),
    ),
    Case(
        'keystone token auth (rescope)',
        secrets=(ADMIN_TOKEN, SCOPED_TOKEN),
        keep=('"methods": ["token"]', '8c7d6e5f4a3b4c2d9e1f0a9b8c7d6e5f'),
        request_headers=[('X-Auth-Token', ADMIN_TOKEN)],
        response_headers=[('X-Subject-Token', SCOPED_TOKEN)],
        request_body=(js({'auth': {'identity': {
            'methods': ['token'], 'token': {'id': ADMIN_TOKEN}},
            'scope': {'project': {
                'id': '8c7d6e5f4a3b4c2d9e1f0a9b8c7d6e5f'}}}}),
            'application/json'),
    ),
    Case(
        'keystonemiddleware token validation',
        secrets=(SERVICE_TOKEN, SCOPED_TOKEN),
        keep=('X-Auth-Token', 'X-Subject-Token', 'nocatalog'),
        query='nocatalog',
        request_headers={'X-Auth-Token': SERVICE_TOKEN,
                         'X-Subject-Token': SCOPED_TOKEN,
                         'X-Service-Token': SERVICE_TOKEN},
        response_headers=[('X-Subject-Token', SCOPED_TOKEN)],
    ),
    Case(
        'keystone totp and MFA receipt',
        secrets=(ADMIN_PASSWORD, TOTP_PASSCODE, RECEIPT),
        keep=('"totp"', 'Openstack-Auth-Receipt', 'Default'),
        request_body=(js(password_auth('admin', ADMIN_PASSWORD, 'totp',
                                       extra={'totp': {'user': {
                                           'id': 'u-admin',
                                           'passcode': TOTP_PASSCODE}}})),
                      'application/json'),
        response_headers=[('Openstack-Auth-Receipt', RECEIPT)],
        response_body=(js({'receipt': {'methods': ['password'],
                                       'expires_at': '2026-11-23T10:05:00Z'},
                           'required_auth_methods': [['password', 'totp']]}),
                       'application/json'),
    ),
    Case(
        'application credential create',
        secrets=(APP_SECRET, ADMIN_TOKEN),
        keep=('backup-job', '/v2.1/servers', '"method": "GET"',
              '"unrestricted": false'),
        request_headers=[('X-Auth-Token', ADMIN_TOKEN)],
        request_body=(js({'application_credential': {
            'name': 'backup-job', 'description': 'nightly backups',
            'access_rules': [{'path': '/v2.1/servers', 'method': 'GET',
                              'service': 'compute'}]}}),
            'application/json'),
        response_body=(js({'application_credential': {
            'id': 'a1b2c3d4e5f60718293a4b5c6d7e8f90', 'name': 'backup-job',
            'secret': APP_SECRET, 'expires_at': None,
            'unrestricted': False,
            'access_rules': [{'path': '/v2.1/servers', 'method': 'GET',
                              'service': 'compute'}]}}),
            'application/json; charset=UTF-8'),
    ),
    Case(
        'application credential auth',
        secrets=(APP_SECRET, SCOPED_TOKEN),
        keep=('a1b2c3d4e5f60718293a4b5c6d7e8f90', 'application_credential'),
        request_body=(js({'auth': {'identity': {
            'methods': ['application_credential'],
            'application_credential': {
                'id': 'a1b2c3d4e5f60718293a4b5c6d7e8f90',
                'secret': APP_SECRET}}}}), 'application/json'),
        response_headers=[('X-Subject-Token', SCOPED_TOKEN)],
    ),
    Case(
        'EC2 credential create (blob)',
        secrets=(EC2_ACCESS, EC2_SECRET),
        keep=('"type": "ec2"', 'project_id',
              '9f8e7d6c5b4a39281706f5e4d3c2b1a0'),
        request_body=(js({'credential': {
            'blob': json.dumps({'access': EC2_ACCESS, 'secret': EC2_SECRET}),
            'project_id': '9f8e7d6c5b4a39281706f5e4d3c2b1a0',
            'type': 'ec2', 'user_id': 'u-alice'}}), 'application/json'),
        response_body=(js({'credential': {
            'id': 'c0ffee00c0ffee00c0ffee00c0ffee00',
            'blob': json.dumps({'access': EC2_ACCESS, 'secret': EC2_SECRET,
                                'trust_id': None}),
            'project_id': '9f8e7d6c5b4a39281706f5e4d3c2b1a0',
            'type': 'ec2', 'user_id': 'u-alice'}}), 'application/json'),
    ),
    Case(
        'EC2 credential create (OS-EC2)',
        secrets=(EC2_ACCESS, EC2_SECRET),
        keep=('tenant_id', 'u-alice'),
        request_body=(js({'tenant_id': '9f8e7d6c5b4a39281706f5e4d3c2b1a0'}),
                      'application/json'),
        response_body=(js({'credential': {
            'access': EC2_ACCESS, 'secret': EC2_SECRET, 'user_id': 'u-alice',
            'tenant_id': '9f8e7d6c5b4a39281706f5e4d3c2b1a0'}}),
            'application/json'),
    ),
    Case(
        'ec2tokens auth with signature',
        secrets=(EC2_ACCESS, EC2_SIGNATURE, EC2_SIGNATURE_V4, SCOPED_TOKEN),
        keep=('HmacSHA256', 'DescribeInstances', '"verb": "GET"',
              '"SignatureVersion": "2"', '20240102T030405Z'),
        request_body=(js({'credentials': {
            'access': EC2_ACCESS, 'host': 'ec2.example.com:8788',
            'verb': 'GET', 'path': '/', 'signature': EC2_SIGNATURE,
            'params': {'AWSAccessKeyId': EC2_ACCESS,
                       'Action': 'DescribeInstances',
                       'SignatureMethod': 'HmacSHA256',
                       'SignatureVersion': '2',
                       'Timestamp': '2024-01-02T03:04:05Z'},
            'headers': {'Authorization': (
                'AWS4-HMAC-SHA256 Credential=%s/20240102/RegionOne/ec2/'
                'aws4_request, SignedHeaders=host, Signature=%s'
                % (EC2_ACCESS, EC2_SIGNATURE_V4)),
                'X-Amz-Date': '20240102T030405Z'}}}), 'application/json'),
        response_headers=[('X-Subject-Token', SCOPED_TOKEN)],
    ),
    Case(
        'user create and password change',
        secrets=(ALICE_PASSWORD, NEW_PASSWORD, OLD_PASSWORD, ADMIN_TOKEN),
        keep=('"name": "alice"', 'default_project_id', 'ignore_lockout'),
        request_headers=[('X-Auth-Token', ADMIN_TOKEN)],
        request_body=(js({'user': {
            'name': 'alice', 'password': ALICE_PASSWORD,
            'default_project_id': '8c7d6e5f4a3b4c2d9e1f0a9b8c7d6e5f',
            'options': {'ignore_lockout_failure_attempts': False}},
            'password_change': {'user': {'password': NEW_PASSWORD,
                                         'original_password': OLD_PASSWORD}},
            'note': 'ignore_lockout'}), 'application/json'),
    ),
    Case(
        'swift temp URL',
        secrets=(TEMP_URL_SIG, TEMP_URL_KEY, TEMP_URL_KEY_2),
        keep=('temp_url_expires=1700000000', 'filename=q3%20report.pdf',
              'X-Account-Meta-Temp-URL-Key', 'X-Container-Meta-Temp-URL-Key-2',
              'AUTH_demo'),
        query=('temp_url_sig=%s&temp_url_expires=1700000000'
               '&filename=q3%%20report.pdf' % TEMP_URL_SIG),
        request_headers=[('X-Account-Meta-Temp-URL-Key', TEMP_URL_KEY),
                         ('X-Container-Meta-Temp-URL-Key-2', TEMP_URL_KEY_2)],
        response_headers=[('Location', (
            'https://swift.example.com/v1/AUTH_demo/reports/q3.pdf'
            '?temp_url_sig=%s&temp_url_expires=1700000000' % TEMP_URL_SIG))],
        response_body=(b'%PDF-1.7\n\xe2\xe3\xcf\xd3\n' + bytes(range(256)),
                       'application/pdf'),
    ),
    Case(
        'swift form POST',
        secrets=(FORMPOST_SIG,),
        keep=('max_file_size', 'hello from formpost', 'https://example.com/'),
        request_body=((
            '--xYzZY\r\n'
            'Content-Disposition: form-data; name="redirect"\r\n\r\n'
            'https://example.com/done\r\n'
            '--xYzZY\r\n'
            'Content-Disposition: form-data; name="max_file_size"\r\n\r\n'
            '104857600\r\n'
            '--xYzZY\r\n'
            'Content-Disposition: form-data; name="signature"\r\n\r\n'
            '%s\r\n'
            '--xYzZY\r\n'
            'Content-Disposition: form-data; name="file1"; '
            'filename="a.txt"\r\nContent-Type: text/plain\r\n\r\n'
            'hello from formpost\r\n'
            '--xYzZY--\r\n' % FORMPOST_SIG).encode(),
            'multipart/form-data; boundary=xYzZY'),
    ),
    Case(
        'S3 signed queries and headers',
        secrets=(S3_ACCESS, S3_SESSION, S3_SIGNATURE, S3V2_ACCESS,
                 S3V2_SIGNATURE),
        keep=('X-Amz-Algorithm=AWS4-HMAC-SHA256', 'X-Amz-Expires=3600',
              'X-Amz-SignedHeaders=host', 'Expires=1700000000',
              'SignatureDoesNotMatch', '<StringToSign>'),
        query=urllib.parse.urlencode([
            ('X-Amz-Algorithm', 'AWS4-HMAC-SHA256'),
            ('X-Amz-Credential', S3_CREDENTIAL),
            ('X-Amz-Date', '20240102T030405Z'), ('X-Amz-Expires', '3600'),
            ('X-Amz-SignedHeaders', 'host'),
            ('X-Amz-Security-Token', S3_SESSION),
            ('X-Amz-Signature', S3_SIGNATURE),
            ('AWSAccessKeyId', S3V2_ACCESS), ('Expires', '1700000000'),
            ('Signature', S3V2_SIGNATURE)]),
        request_headers=[
            ('Authorization', 'AWS4-HMAC-SHA256 Credential=%s, '
             'SignedHeaders=host;x-amz-date, Signature=%s'
             % (S3_CREDENTIAL, S3_SIGNATURE)),
            ('X-Amz-Security-Token', S3_SESSION)],
        response_body=((
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error>'
            '<Code>SignatureDoesNotMatch</Code>'
            '<AWSAccessKeyId>%s</AWSAccessKeyId>'
            '<StringToSign>AWS4-HMAC-SHA256</StringToSign>'
            '<SignatureProvided>%s</SignatureProvided>'
            '<RequestId>tx0123</RequestId></Error>'
            % (S3V2_ACCESS, S3_SIGNATURE)).encode(), 'application/xml'),
    ),
    Case(
        'horizon login: form, Cookie and Set-Cookie',
        secrets=(HORIZON_PASSWORD, CSRF, CSRF_NEW, SESSION, SESSION_NEW),
        keep=('username=demo', 'region=default', '/dashboard/project/'),
        request_headers=[('Cookie', 'csrftoken=%s; sessionid=%s'
                          % (CSRF, SESSION))],
        response_headers=[
            ('Set-Cookie', 'sessionid=%s; HttpOnly; Path=/' % SESSION_NEW),
            ('Set-Cookie', 'csrftoken=%s; Path=/' % CSRF_NEW),
            ('Location', '/dashboard/project/')],
        request_body=(('csrfmiddlewaretoken=%s&region=default&domain=Default'
                       '&username=demo&password=%s'
                       % (CSRF, urllib.parse.quote_plus(HORIZON_PASSWORD))
                       ).encode(), 'application/x-www-form-urlencoded'),
    ),
    Case(
        'OAuth2 client credentials: Basic and Bearer',
        secrets=(CLIENT_SECRET, BASIC, OAUTH_TOKEN),
        keep=('grant_type=client_credentials', '"token_type": "Bearer"',
              '"expires_in": 3600'),
        request_headers=[('Authorization', 'Basic ' + BASIC),
                         ('Proxy-Authorization', 'Bearer ' + OAUTH_TOKEN)],
        request_body=(b'grant_type=client_credentials&client_id=oauth-client-7'
                      b'&client_secret=' + CLIENT_SECRET.encode(),
                      'application/x-www-form-urlencoded'),
        response_body=(js({'access_token': OAUTH_TOKEN,
                           'token_type': 'Bearer', 'expires_in': 3600}),
                       'application/json'),
    ),
    Case(
        'nova server create, changePassword',
        secrets=(NOVA_PASSWORD, NOVA_GENERATED, NOVA_NEW_PASSWORD,
                 SERVICE_TOKEN),
        keep=('"name": "web-1"', '"key_name": "mykey"', '"role": "web"',
              'MANUAL'),
        request_headers={'X-Auth-Token': SERVICE_TOKEN},
        request_body=(js({'server': {
            'name': 'web-1',
            'imageRef': '70a599e0-31e7-49b7-b260-868f441e862b',
            'flavorRef': '1', 'adminPass': NOVA_PASSWORD,
            'key_name': 'mykey', 'metadata': {'role': 'web'},
            'user_data': base64.b64encode(
                b'#cloud-config\nchpasswd: {list: "root:%s"}\n'
                % NOVA_PASSWORD.encode()).decode()},
            'changePassword': {'adminPass': NOVA_NEW_PASSWORD}}),
            'application/json'),
        response_body=(js({'server': {
            'id': 'f5dc173b-6804-445a-a6d8-c705dad5b5eb',
            'adminPass': NOVA_GENERATED, 'OS-DCF:diskConfig': 'MANUAL',
            'security_groups': [{'name': 'default'}]}}), 'application/json'),
    ),
    Case(
        'trove users and root',
        secrets=(TROVE_PASSWORD, TROVE_ROOT),
        keep=('appuser', '"sales"', '"name": "root"'),
        request_body=(js({'instance': {
            'name': 'db1', 'flavorRef': '2', 'volume': {'size': 2},
            'databases': [{'name': 'sales'}],
            'users': [{'name': 'appuser', 'password': TROVE_PASSWORD,
                       'databases': [{'name': 'sales'}]}]}}),
            'application/json'),
        response_body=(js({'user': {'name': 'root', 'password': TROVE_ROOT}}),
                       'application/json'),
    ),
    Case(
        'barbican secret store',
        secrets=(BARBICAN_PAYLOAD,),
        keep=('db-master-key', '"payload_content_type": "text/plain"',
              '"secret_type": "opaque"', 'barbican.example.com/v1/secrets'),
        request_body=(js({'name': 'db-master-key',
                          'payload': BARBICAN_PAYLOAD,
                          'payload_content_type': 'text/plain',
                          'algorithm': 'aes', 'bit_length': 256,
                          'mode': 'cbc', 'secret_type': 'opaque'}),
                      'application/json'),
        response_body=(js({'secret_ref': 'https://barbican.example.com/v1/'
                           'secrets/6f3b7a1c-2d4e-4f5a-8b9c-0d1e2f3a4b5c'}),
                       'application/json'),
    ),
    Case(
        'neutron VPN PSK, pretty printed',
        secrets=(PSK,),
        keep=('peer_address', '172.24.4.233'),
        request_body=(json.dumps({'ipsec_site_connection': {
            'psk': PSK, 'peer_address': '172.24.4.233',
            'peer_cidrs': ['10.2.0.0/24']}}, indent=4).encode(),
            'application/json'),
    ),
    Case(
        'an error echoing a database URL',
        secrets=(DB_PASSWORD,),
        keep=('DBConnectionError', 'mysql+pymysql://nova:', '@db.internal'),
        response_body=(('DBConnectionError: cannot connect to '
                        'mysql+pymysql://nova:%s@db.internal/nova\n'
                        % DB_PASSWORD).encode(), 'text/plain'),
    ),
]
IDS = [case.name for case in CORPUS]


def windows(secret):
    """Every form of ``secret`` an output might carry, cut in windows."""
    forms = {secret, urllib.parse.quote(secret, safe=''),
             urllib.parse.quote_plus(secret), json.dumps(secret)[1:-1]}
    return {form[i:i + WINDOW] for form in forms
            for i in range(max(len(form) - WINDOW + 1, 1))}


def leaks(output, secrets):
    """The runs of secrets found in ``output``, hashes set aside."""
    if not isinstance(output, str):
        output = json.dumps(output, ensure_ascii=False)
    output = HASHED.sub('', output)
    return sorted({run for secret in secrets for run in windows(secret)
                   if run in output})


def event(case, limit=None, cut=None):
    """A server event carrying everything a case has."""
    def captured(side):
        data, content_type = side
        return (data if cut is None else data[:cut], content_type, limit)
    return {
        'v': 1, 'kind': 'server', 'service': 'keystone', 'method': 'POST',
        'path': '/v3/auth/tokens', 'status': 201, 'start': 1700000000.5,
        'query': case.query,
        'headers': {'request': case.request_headers,
                    'response': case.response_headers},
        'body': {'request': captured(case.request_body),
                 'response': captured(case.response_body)},
    }


def raw_inputs(case):
    return '\n'.join([
        case.query, repr(case.request_headers), repr(case.response_headers),
        case.request_body[0].decode('latin-1'),
        case.response_body[0].decode('latin-1')])


@pytest.mark.parametrize('case', CORPUS, ids=IDS)
def test_corpus_carries_its_secrets(case):
    """The leak check finds every secret of a case in its raw inputs."""
    for secret in case.secrets:
        assert leaks(raw_inputs(case), [secret]), secret


@pytest.mark.parametrize('case', CORPUS, ids=IDS)
def test_corpus_secrets_are_distinct_from_what_is_kept(case):
    """No kept text shares a run with a secret (the check would lie)."""
    assert not leaks('\n'.join(case.keep), case.secrets)


@pytest.mark.parametrize('case', CORPUS, ids=IDS)
def test_headers_never_leak(case):
    """No header value of the corpus shows a secret."""
    for values in (case.request_headers, case.response_headers):
        assert leaks(redact.headers(values), case.secrets) == []


@pytest.mark.parametrize('case', CORPUS, ids=IDS)
def test_query_never_leaks(case):
    """No query string of the corpus shows a secret."""
    assert leaks(redact.query(case.query), case.secrets) == []


@pytest.mark.parametrize('case', CORPUS, ids=IDS)
def test_body_never_leaks_at_any_cut(case):
    """A body cut at any byte and kept to any limit shows no secret."""
    for data, content_type in (case.request_body, case.response_body):
        for cut in range(len(data) + 1):
            for limit in LIMITS:
                out = redact.body(data[:cut], content_type, limit)
                assert leaks(out, case.secrets) == [], (cut, limit, out)


@pytest.mark.parametrize('case', CORPUS, ids=IDS)
def test_event_json_never_leaks(case):
    """schema.to_json of an event with the case's data shows no secret."""
    longest = max(len(case.request_body[0]), len(case.response_body[0]))
    for cut in range(longest + 1):
        line = schema.to_json(event(case, LIMITS[cut % len(LIMITS)], cut))
        assert leaks(line, case.secrets) == [], (cut, line)
        json.loads(line)


@pytest.mark.parametrize('case', CORPUS, ids=IDS)
def test_non_secret_content_survives(case):
    """Names, ids, types, dates and URLs are still there after masking."""
    line = schema.to_json(event(case, limit=100000))
    record = json.loads(line)
    shown = '\n'.join([
        record.get('query', ''),
        json.dumps(record['headers']),
        *(value if isinstance(value, str) else json.dumps(value)
          for value in record['body'].values())])
    for kept in case.keep:
        assert kept in shown, kept


def test_same_token_hashes_alike_everywhere():
    """One token gives one hash in headers, query, JSON body and text."""
    expected = redact.hash_value(ADMIN_TOKEN)
    request = redact.headers([('X-Auth-Token', ADMIN_TOKEN)])
    response = redact.headers({'X-Subject-Token': ADMIN_TOKEN})
    assert request['X-Auth-Token'] == expected
    assert response['X-Subject-Token'] == expected
    assert redact.query('token=' + ADMIN_TOKEN) == 'token=' + expected
    masked = redact.body(js({'auth': {'identity': {'token': {
        'id': ADMIN_TOKEN}}}}), 'application/json', None)
    assert json.loads(masked)['auth']['identity']['token']['id'] == expected
    assert redact.free_text('token %s expired' % ADMIN_TOKEN) == (
        'token %s expired' % expected)


def test_hash_value_is_keystoneauth_format():
    """hash_value is {SHA256} and the hex SHA-256 of the UTF-8 value."""
    assert redact.hash_value('s\xe9cret') == (
        '{SHA256}' + hashlib.sha256('s\xe9cret'.encode()).hexdigest())
    assert redact.hash_value('a') == redact.hash_value('a')
    assert redact.hash_value('a') != redact.hash_value('b')


def test_passwords_are_starred_never_hashed():
    """A password is written as *** and never as its (guessable) hash."""
    out = redact.body(js(password_auth('admin', ADMIN_PASSWORD)),
                      'application/json', None)
    assert redact.hash_value(ADMIN_PASSWORD) not in out
    assert json.loads(out)['auth']['identity']['password']['user'][
        'password'] == redact.MASK
    assert redact.headers({'X-Auth-Key': 'k3y'}) == {'X-Auth-Key': '***'}
    assert redact.headers({'Authorization': 'Basic ' + BASIC}) == {
        'Authorization': '***'}


def test_cut_value_is_starred_not_hashed():
    """A secret cut off by truncation is *** (a prefix hash gives it away)."""
    data = js({'token': {'id': ADMIN_TOKEN}})
    for cut in range(len(data)):
        out = redact.body(data[:cut], 'application/json', None)
        for size in range(1, len(ADMIN_TOKEN)):
            assert redact.hash_value(ADMIN_TOKEN[:size]) not in out


@pytest.mark.parametrize('data', [
    b'{"password": "abc',
    b'{"password": "abc\\',
    b'{"password": "abc\\u00',
    b'{"auth": {"passcode": 7319',
    b'{"x": "see password=abc',
    b'<user><password>abc',
    b'password: abc',
    b'{"blob": "{\\"secret\\": \\"abc',
])
def test_value_cut_by_truncation_is_masked(data):
    """A secret value with no end (the capture stopped) is still masked."""
    for content_type in ('application/json', None, 'text/plain'):
        out = redact.body(data, content_type, None)
        assert 'abc' not in out and '7319' not in out, out


def test_value_at_end_of_capture_is_starred():
    """A secret that ends the captured text may be cut, so is not hashed."""
    assert redact.body(b'a=1&token=Zq8vKx3mWp', None, None) == 'a=1&token=***'
    assert redact.body(b'a=1&token=Zq8vKx3mWp',
                       'application/x-www-form-urlencoded', None) == (
        'a=1&token=***')
    assert redact.body(b'token=Zq8vKx3mWp&a=1', None, None) == (
        'token=%s&a=1' % redact.hash_value('Zq8vKx3mWp'))
    assert redact.query('a=1&token=Zq8vKx3mWp') == (
        'a=1&token=%s' % redact.hash_value('Zq8vKx3mWp'))
    assert redact.body(b'got Bearer Zq8vKx3mWp', None, None) == (
        'got Bearer ***')


def test_blob_is_masked_inside_and_stays_json():
    """A keystone EC2 blob keeps its shape, its access and secret masked."""
    blob = json.dumps({'access': EC2_ACCESS, 'secret': EC2_SECRET})
    out = redact.body(js({'credential': {'blob': blob, 'type': 'ec2'}}),
                      'application/json', None)
    credential = json.loads(out)['credential']
    assert credential['type'] == 'ec2'
    assert json.loads(credential['blob']) == {
        'access': redact.hash_value(EC2_ACCESS),
        'secret': redact.hash_value(EC2_SECRET)}


def test_blob_that_is_not_json_is_masked_whole():
    """A blob that is not JSON (a TOTP seed, a certificate) is hashed."""
    out = redact.body(js({'credential': {'blob': 'GEZDGNBVGY3TQOJQ',
                                         'type': 'totp'}}), None, None)
    assert json.loads(out)['credential'] == {
        'blob': redact.hash_value('GEZDGNBVGY3TQOJQ'), 'type': 'totp'}


@pytest.mark.parametrize('name', [
    'X-Auth-Token', 'x-subject-token', 'X-Service-Token', 'Authorization',
    'Proxy-Authorization', 'Cookie', 'Set-Cookie', 'X-Storage-Token',
    'X-Auth-Key', 'X-Storage-Pass', 'X-Auth-User-Key', 'X-Auth-Admin-Key',
    'X-Amz-Security-Token', 'X-Account-Meta-Temp-URL-Key',
    'X-Account-Meta-Temp-URL-Key-2', 'X-Container-Meta-Temp-URL-Key',
    'X-Container-Meta-Temp-URL-Key-2', 'X-Container-Sync-Key',
    'X-Amz-Server-Side-Encryption-Customer-Key', 'Openstack-Auth-Receipt',
    'X-Some-Token', 'X-Client-Secret', 'X-Db-Password', 'X-Credential',
    'X-Request-Signature', 'X-Swauth-Auth-Key', 'HTTP_X_AUTH_TOKEN',
])
def test_secret_headers_are_masked(name):
    """Known secret headers and token/secret/password/... names are masked."""
    value = 'Zq8-value-Vx3'
    out = redact.headers([(name, value)])
    assert out[name] in (redact.MASK, redact.hash_value(value))


def test_secret_headers_constant():
    """SECRET_HEADERS is lower case and names keystone's and swift's."""
    assert all(name == name.lower() for name in redact.SECRET_HEADERS)
    assert {'x-auth-token', 'x-subject-token', 'x-service-token',
            'authorization', 'proxy-authorization', 'cookie', 'set-cookie',
            'x-storage-token', 'x-auth-key', 'x-storage-pass',
            'x-auth-user-key'} <= redact.SECRET_HEADERS
    assert isinstance(redact.SECRET_HEADERS, frozenset)


@pytest.mark.parametrize('name, value', [
    ('Content-Type', 'application/json'),
    ('X-OpenStack-Request-ID', 'req-0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9'),
    ('X-Auth-Token-Expires', '86399'),
    ('WWW-Authenticate', 'Keystone uri="https://keystone.example.com"'),
    ('X-Auth-User', 'demo:demo'),
    ('Location', 'https://h.example.com/v1/AUTH_demo/c/o?multipart=get'),
    ('Date', 'Mon, 01 Jan 2024 00:00:00 GMT'),
    ('Keep-Alive', 'timeout=5, max=100'),
    ('Content-Disposition', 'attachment; filename="q3 report.pdf"'),
    ('User-Agent', 'python-novaclient keystoneauth1/5.6.0 CPython/3.11.4'),
])
def test_other_headers_are_kept(name, value):
    """Headers that carry no secret are written as given."""
    assert redact.headers([(name, value)]) == {name: value}


def test_headers_join_repeats_and_keep_spelling():
    """Repeated names join with ', ' under the first spelling; each
    Set-Cookie is hashed on its own."""
    out = redact.headers([('Set-Cookie', 'a=1'), ('Vary', 'Accept'),
                          ('set-cookie', 'b=2'), ('vary', 'Cookie')])
    assert out == {'Set-Cookie': '%s, %s' % (redact.hash_value('a=1'),
                                             redact.hash_value('b=2')),
                   'Vary': 'Accept, Cookie'}


def test_headers_accept_dicts_pairs_and_bad_items():
    """A dict, pairs, bytes and malformed items never raise."""
    assert redact.headers({'X-Auth-Token': b'tok'}) == {
        'X-Auth-Token': redact.hash_value('tok')}
    assert redact.headers([(b'Accept', b'*/*'), ('bad',), None, 3]) == {
        'Accept': '*/*'}
    assert redact.headers(None) == {}
    assert redact.headers({'Set-Cookie': ['a=1', 'b=2']})['Set-Cookie'] == (
        '%s, %s' % (redact.hash_value('a=1'), redact.hash_value('b=2')))


def test_other_header_values_are_masked_as_text():
    """A secret written inside an ordinary header's value is masked."""
    out = redact.headers({'X-Debug': 'user=bob password=Zq8vKx3mWp'})
    assert out == {'X-Debug': 'user=bob password=***'}


def test_header_url_query_and_password_are_masked():
    """A URL in a header loses its query secrets and its password."""
    out = redact.headers({'Location': 'https://u:%s@h/x?sig=%s&a=1'
                          % (DB_PASSWORD, TEMP_URL_SIG)})
    assert out['Location'] == 'https://u:***@h/x?sig=%s&a=1' % (
        redact.hash_value(TEMP_URL_SIG))


def test_query_keeps_order_and_encoding():
    """Only secret values change; order and percent-encoding stay."""
    qs = 'b=2&a=%2Fx%20y&limit=10&token=ab%2Bc&sort_key=name&marker=&z'
    assert redact.query(qs) == (
        'b=2&a=%2Fx%20y&limit=10&token={}&sort_key=name&marker=&z'.format(
            redact.hash_value('ab+c')))


@pytest.mark.parametrize('name', [
    'token', 'TOKEN', 'password', 'Password', 'secret', 'signature', 'sig',
    'temp_url_sig', 'key', 'credential', 'X-Amz-Signature',
    'X-Amz-Credential', 'X-Amz-Security-Token', 'access_token', 'my_token',
    'client_secret', 'adminPass', 'oauth_verifier', 'api_key', 'passcode',
    'X%2DAmz%2DSignature',
])
def test_query_secret_names_are_masked(name):
    """Secret-named parameters are masked, whatever their case or form."""
    out = redact.query('a=1&%s=Vk3-Np8Zq&b=2' % name)
    assert 'Vk3-Np8Zq' not in out
    assert out.startswith('a=1&%s=' % name) and out.endswith('&b=2')


def test_query_semicolon_parameters_are_masked():
    """A secret after ';' is masked, and so is all of its '&' piece."""
    assert redact.query('a=1;password=x;y&b=2') == 'a=1;password=***&b=2'
    assert redact.query('password=x;b=2') == 'password=***'


@given(st.text(max_size=200))
@example('%')
@example('&&==;;=%zz&token')
@example('=token&token=&=')
def test_query_never_raises(qs):
    """Any query string gives a string back."""
    assert isinstance(redact.query(qs), str)


@pytest.mark.parametrize('data, content_type', [
    (b'\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR', 'image/png'),
    (b'password=plain-text-inside', 'application/octet-stream'),
    (gzip.compress(b'{"password": "Zq8-gzip-Vx3"}'), 'application/json'),
    (bytes(range(256)), None),
    (b'\xff\xfe\x00p\x00a\x00s\x00s', 'text/plain'),
    (b'QFI\xfb\x00\x00\x00\x03', None),
])
def test_binary_bodies_are_summarised(data, content_type):
    """Binary bodies become a summary, never their bytes."""
    out = redact.body(data, content_type, 1000)
    assert out == {'binary': True, 'bytes': len(data),
                   'content_type': content_type}


def test_text_without_content_type_is_sniffed():
    """Valid UTF-8 text with no Content-Type is masked text."""
    out = redact.body('note: caf\xe9 password=abc\n'.encode(), None, 100)
    assert out == 'note: caf\xe9 password=***\n'


def test_cut_multibyte_character_is_text():
    """A capture that ends inside a UTF-8 character is still text."""
    data = '{"name": "caf\xe9"}'.encode()
    assert redact.body(data[:14], 'application/json', None) == '{"name": "caf'


def test_truncation_after_masking_has_a_marker():
    """Text over the limit is cut to it and says how many bytes there were."""
    data = js({'password': 'Zq8-long-Vx3', 'pad': 'x' * 100})
    out = redact.body(data, 'application/json', 20)
    assert out == '{"password": "***", ' + '...[truncated, %d bytes]' % (
        len(data))
    assert redact.body(data, 'application/json', None).endswith('"}')
    assert redact.body(data, 'application/json', 0).startswith('...[trunc')


@pytest.mark.parametrize('data, content_type, limit', [
    (12345, 'application/json', 10),
    (b'{"a": 1}', b'application/json; charset=nope', 10),
    (b'{"a": 1}', 'text/plain; charset=rot13', 10),
    (b'{"a": 1}', 'application/json', 'many'),
    (bytearray(b'{"a": 1}'), object(), None),
    (memoryview(b'[' * 5000), None, 10),
])
def test_body_never_raises(data, content_type, limit):
    """Odd arguments give text or a summary, never an exception."""
    out = redact.body(data, content_type, limit)
    assert isinstance(out, (str, dict))


def test_body_failure_is_summarised_not_shown():
    """An unreadable argument is reported as omitted, with no content."""
    out = redact.body(12345, 'application/json', 10)
    assert out['omitted'] == 'redaction failed'
    assert out['binary'] is False


@pytest.mark.parametrize('text, expected', [
    ('<Password>abc</Password><User>bob</User>',
     '<Password>***</Password><User>bob</User>'),
    ('<ns:password><![CDATA[a<b]]></ns:password>',
     '<ns:password>***</ns:password>'),
    ('<Password type="x" a:b=\'c\'>abc</Password>',
     '<Password type="x" a:b=\'c\'>***</Password>'),
    # keystone's RBAC line: a Python repr is not an XML element whose
    # content would run to the end of the line.
    ("{'token': <TokenModel (audit_id=UJ3l) at 0x7fcc>, 'user_id': 'u1', "
     "'roles': ['reader']}",
     "{'token': %s (audit_id=UJ3l) at 0x7fcc>, 'user_id': 'u1', "
     "'roles': ['reader']}" % redact.hash_value('<TokenModel')),
    ("{'password': 'abc', 'name': 'bob'}",
     "{'password': '***', 'name': 'bob'}"),
    ('{\\"password\\": \\"abc\\", \\"u\\": 1}',
     '{\\"password\\": \\"***\\", \\"u\\": 1}'),
    ('openstack --os-password "a b" server list',
     'openstack --os-password "***" server list'),
    ('OS_PASSWORD=abc OS_USERNAME=bob', 'OS_PASSWORD=*** OS_USERNAME=bob'),
    ('db:\n  password: a b c\n  user: bob',
     'db:\n  password: ***\n  user: bob'),
    ('{user: bob, password: abc}', '{user: bob, password: ***'),
    ('rabbit://nova:abc@mq:5672/', 'rabbit://nova:***@mq:5672/'),
    ('Authorization: Basic dXNlcjpwYXNz', 'Authorization: ***'),
    ('got Basic dXNlcjpwYXNz from', 'got Basic *** from'),
    ('Basic authentication failed', 'Basic authentication failed'),
    ('-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----',
     '-----BEGIN RSA PRIVATE KEY-----***-----END RSA PRIVATE KEY-----'),
    ('nothing here: at 10:00, user=bob', 'nothing here: at 10:00, user=bob'),
])
def test_free_text_rules(text, expected):
    """Free text masks quoted, bare, XML, flag, URL and PEM secrets."""
    assert redact.free_text(text) == expected


def test_escaped_json_in_text_is_masked():
    """JSON escaped in a string (a logged body) is masked to its real end."""
    escaped = json.dumps(json.dumps({'password': 'a b\\"c d', 'u': 1}))
    out = redact.free_text('body=' + escaped)
    assert out == 'body=' + json.dumps(json.dumps({'password': '***', 'u': 1}))


def test_multipart_secret_field_is_masked():
    """A multipart/form-data field named like a secret is masked."""
    data = (b'--b\r\nContent-Disposition: form-data; name="password"\r\n\r\n'
            b'abc def\r\n--b\r\nContent-Disposition: form-data; '
            b'name="user"\r\n\r\nbob\r\n--b--\r\n')
    out = redact.body(data, 'multipart/form-data; boundary=b', None)
    assert 'abc' not in out and 'bob' in out


@pytest.mark.parametrize('name', [
    'password_expires_at', 'token_type', 'secret_ref', 'secret_type',
    'SignatureMethod', 'SignatureVersion', 'sort_key', 'key_name',
    'public_key', 'payload_content_type', 'methods', 'expires_at', 'id',
    'max_active_keys', 'num_keys', 'min_password_length',
])
def test_metadata_about_secrets_is_kept(name):
    """Names that describe a secret (type, expiry, reference) are kept."""
    out = redact.body(js({name: 'Zq8-meta-Vx3'}), 'application/json', None)
    assert json.loads(out) == {name: 'Zq8-meta-Vx3'}


def test_json_literals_under_secret_keys():
    """Numbers under secret keys are masked; null and booleans are not."""
    out = redact.body(b'{"pin": 1234, "password": null, "token": true}',
                      'application/json', None)
    assert json.loads(out) == {'pin': '***', 'password': None, 'token': True}


def test_json_string_in_json_is_masked():
    """JSON carried in a string (a heat parameter) is masked inside."""
    inner = json.dumps({'db_password': 'Zq8-inner-Vx3', 'user': 'bob'})
    out = redact.body(js({'parameters': inner}), 'application/json', None)
    assert json.loads(json.loads(out)['parameters']) == {
        'db_password': '***', 'user': 'bob'}


def test_formatting_of_json_is_kept():
    """Masking changes only secret values, not the document's layout."""
    data = json.dumps({'a': [1, 2], 'password': 'Zq8', 'b': {}},
                      indent=3).encode()
    out = redact.body(data, 'application/json', None)
    assert out == data.decode().replace('"Zq8"', '"***"')


def test_path_masks_tokens():
    """A token in a URL path is hashed; other segments stay."""
    assert redact.path('/v2.0/tokens/%s/endpoints' % ADMIN_TOKEN) == (
        '/v2.0/tokens/%s/endpoints' % redact.hash_value(ADMIN_TOKEN))
    assert redact.path('/v3/auth/tokens') == '/v3/auth/tokens'
    assert redact.path('/v1/AUTH_demo/c/o') == '/v1/AUTH_demo/c/o'


SECRET_KEYS = [
    'password', 'adminPass', 'admin_pass', 'admin_password', 'new_password',
    'original_password', 'secret', 'client_secret', 'token', 'access_token',
    'auth_token', 'X-Subject-Token', 'credential', 'passcode', 'totp',
    'api_key', 'private_key', 'temp_url_key', 'db_password', 'OS_PASSWORD',
    'signature', 'psk', 'payload', 'blob', 'chapsecret', 'ipmi_password',
    'sslkey', 'fernetkey', 'user_data', 'configdrive', 'auth_password',
]
SECRET_ALPHABET = string.ascii_uppercase + string.digits
# Plain content never shares a run of WINDOW characters with a secret.
plain_text = st.text(alphabet=string.ascii_lowercase + ' .:=,/-_&<>"\\{[',
                     max_size=20)
plain_values = (st.none() | st.booleans() | st.integers(-9999, 9999)
                | plain_text)
plain_keys = st.text(alphabet=string.ascii_lowercase + '_', min_size=1,
                     max_size=10)
secret_values = st.text(alphabet=SECRET_ALPHABET, min_size=8, max_size=40)


@st.composite
def documents(draw):
    """A JSON-ish dict with secrets under secret keys at random depths."""
    secrets = []

    def secret():
        value = draw(secret_values)
        secrets.append(value)
        return value

    def member(node):
        shape = draw(st.sampled_from(['plain', 'list', 'token', 'blob']))
        if shape == 'plain':
            node[draw(st.sampled_from(SECRET_KEYS))] = secret()
        elif shape == 'list':
            node[draw(st.sampled_from(SECRET_KEYS))] = [
                secret() for _ in range(draw(st.integers(1, 3)))]
        elif shape == 'token':
            node['token'] = {'id': secret(), 'expires_at': '2026'}
        else:
            node['blob'] = json.dumps({'access': secret(), 'secret': secret()})

    def value(depth):
        kind = draw(st.sampled_from(['leaf', 'dict', 'list'])
                    if depth < 5 else st.just('leaf'))
        if kind == 'leaf':
            return draw(plain_values)
        if kind == 'list':
            return [value(depth + 1) for _ in range(draw(st.integers(0, 3)))]
        node = {}
        for _ in range(draw(st.integers(0, 4))):
            if draw(st.booleans()):
                member(node)
            else:
                node[draw(plain_keys)] = value(depth + 1)
        return node

    doc = {}
    while not secrets:
        member(doc)
        doc[draw(plain_keys)] = value(0)
    return doc, secrets


@settings(max_examples=300, deadline=None)
@given(documents(), st.sampled_from([None, 2, '\t']), st.booleans(),
       st.integers(min_value=0), st.sampled_from(LIMITS),
       st.sampled_from(['application/json', None, 'text/plain']))
def test_random_documents_never_leak(document, indent, ascii_only, cut, limit,
                                     content_type):
    """Secrets under secret keys at any depth never show, at any cut."""
    doc, secrets = document
    data = json.dumps(doc, indent=indent, ensure_ascii=ascii_only).encode()
    cut %= len(data) + 1
    out = redact.body(data[:cut], content_type, limit)
    assert leaks(out, secrets) == [], (out, secrets)
    if cut == len(data) and limit is None:
        json.loads(out)  # a whole document stays valid JSON


def test_secret_named_structure_keeps_the_line_and_masks_inside():
    """A secret-named key whose value is a structure masks what is inside."""
    line = ('RESP BODY: {"token": {"methods": ["password"], '
            '"password": "hunter2", "expires_at": "2026-11-23"}} tail')
    masked = redact.free_text(line)
    assert 'hunter2' not in masked
    assert masked.startswith('RESP BODY: {"token": {"methods"')
    assert masked.endswith('"expires_at": "2026-11-23"}} tail')
