"""Not one secret of the corpus reaches any byte an event sink writes."""

import io
import logging

import pytest
import webtest

from global_reqid import middleware
from global_reqid.tests.unit import test_redact as corpus


@pytest.fixture
def log_output():
    """What the log sink writes, through a real handler."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger('global_reqid.events')
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)


def _app(case):
    def app(environ, start_response):
        environ['wsgi.input'].read()
        start_response('200 OK', list(dict(case.response_headers).items())
                       if isinstance(case.response_headers, dict)
                       else list(case.response_headers))
        return [case.response_body[0]]
    return app


@pytest.mark.parametrize('case', corpus.CORPUS, ids=corpus.IDS)
@pytest.mark.parametrize('limit', ['4096', '37'])
def test_no_secret_in_written_bytes(case, limit, tmp_path, log_output):
    """Through the filter, file and log sinks, bodies captured: no secret."""
    filt = middleware.RequestId(_app(case), {
        'service_name': 'svc', 'event_dir': str(tmp_path),
        'event_sinks': 'file,log', 'capture_bodies': 'true',
        'max_body_bytes': limit})
    headers = dict(case.request_headers)
    body, content_type = case.request_body
    if content_type:
        headers['Content-Type'] = content_type
    url = '/v3/things' + ('?' + case.query if case.query else '')
    webtest.TestApp(filt, lint=False).post(url, params=body,
                                           headers=headers)
    assert filt.flush(10)
    written = b''.join(p.read_bytes() for p in tmp_path.iterdir())
    assert written.count(b'\n') == 1
    text = written.decode('utf-8') + log_output.getvalue()
    assert corpus.leaks(text, case.secrets) == []
