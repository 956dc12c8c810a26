"""The HTML report opens in headless Chromium, draws, and fetches nothing.

How "no network" is checked, from two independent sides:

* every run points Chromium at a canary proxy on 127.0.0.1 and maps every
  host name to NOTFOUND, so nothing can leave the machine and whatever
  goes through the proxy is recorded;
* every run writes Chromium's net log (``--log-net-log``), which lists
  every URL request its network service started. Requests the page made
  carry the page's origin (``null`` for ``file://``) or its ``file://``
  site; Chromium's own background calls (component updates, network time,
  sign-in) carry neither and are set aside. No request may be the page's,
  and every host the canary saw must be one of Chromium's own.

A control page with an external image and stylesheet shows both sides
catch a fetch, and the same image injected into a report shows its
Content-Security-Policy blocks it.
"""

import collections
import json
import re
import shutil
import socket
import struct
import subprocess
import threading
import urllib.parse
import zlib

import pytest

from global_reqid.tests.unit import trace_fixtures
from global_reqid.tests.unit import trace_fixtures_html
from global_reqid.trace.render import html

CANARY_HOST = 'global-reqid-canary.invalid'
WINDOW = (1280, 2000)
TIMEOUT = 120


@pytest.fixture
def chromium():
    for name in ('chromium', 'chromium-browser'):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip('no chromium binary on PATH: run tools/install-browser.sh '
                '(Debian: apt-get install chromium)')


class Canary:
    """A proxy on 127.0.0.1 that records each request line and fails it."""

    def __init__(self):
        self.requests = []
        self._sock = socket.socket()
        self._sock.bind(('127.0.0.1', 0))
        self._sock.listen(32)
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    line = conn.recv(4096).split(b'\r\n', 1)[0]
                    self.requests.append(line.decode('latin-1'))
                    conn.sendall(b'HTTP/1.1 502 Bad Gateway\r\n'
                                 b'Content-Length: 0\r\n\r\n')
                except OSError:
                    pass

    def hosts(self):
        """The hosts asked for (``GET http://h/...``, ``CONNECT h:443``)."""
        found = set()
        for line in self.requests:
            parts = line.split()
            if len(parts) < 2:
                continue
            if parts[0] == 'CONNECT':
                found.add(parts[1].rsplit(':', 1)[0])
            else:
                found.add(urllib.parse.urlsplit(parts[1]).hostname)
        return found

    def close(self):
        # NOTE: shutdown wakes the accept() that close() alone leaves
        # blocked on Linux.
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        self._thread.join(5)


@pytest.fixture
def canary():
    proxy = Canary()
    yield proxy
    proxy.close()


class Run:
    """One headless Chromium run: its output and what it fetched."""

    def __init__(self, binary, workdir, canary, url, *options):
        netlog = workdir / 'netlog.json'
        command = [
            binary, '--headless', '--no-sandbox', '--disable-gpu',
            '--no-first-run', '--disable-background-networking',
            '--disable-component-update', '--disable-sync',
            '--disable-dev-shm-usage',
            '--user-data-dir=%s' % (workdir / 'profile'),
            '--proxy-server=http://127.0.0.1:%d' % canary.port,
            '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
            '--log-net-log=%s' % netlog,
            '--enable-logging=stderr', '--v=0',
        ] + list(options) + [url]
        out = subprocess.run(command, capture_output=True, timeout=TIMEOUT)
        assert out.returncode == 0, out.stderr.decode('utf-8', 'replace')
        self.dom = out.stdout.decode('utf-8')
        self.console = [line for line in out.stderr.decode(
            'utf-8', 'replace').splitlines() if ':CONSOLE' in line]
        self.page_requests = []
        self.own_hosts = set()
        for params in _url_requests(netlog):
            if _from_page(params):
                self.page_requests.append(params['url'])
            else:
                self.own_hosts.add(urllib.parse.urlsplit(
                    params['url']).hostname)
        self.canary_hosts = canary.hosts()


def _url_requests(netlog):
    """The parameters of every URL request the net log records."""
    text = netlog.read_text(encoding='utf-8')
    try:
        data = json.loads(text)
    except ValueError:  # cut short: Chromium ends the file on exit
        data = json.loads(text.rstrip().rstrip(',') + ']}')
    start_job = data['constants']['logEventTypes']['URL_REQUEST_START_JOB']
    return [event['params'] for event in data['events']
            if event['type'] == start_job
            and 'url' in event.get('params', {})]


def _from_page(params):
    initiator = params.get('initiator') or ''
    site = '%s %s' % (params.get('network_isolation_key'),
                      params.get('site_for_cookies'))
    return (initiator == 'null' or initiator.startswith('file:')
            or 'file://' in site)


def _write(tmp_path, text, name='trace.html'):
    path = tmp_path / name
    path.write_text(text, encoding='utf-8')
    return path.as_uri()


def _assert_no_network(run):
    assert run.page_requests == []
    assert run.canary_hosts <= run.own_hosts, run.canary_hosts
    assert not [line for line in run.console
                if 'Content Security Policy' in line or 'Uncaught' in line]


@pytest.mark.parametrize('build', [trace_fixtures.image_create,
                                   trace_fixtures_html.many],
                         ids=lambda build: build.__name__)
def test_dom_holds_the_diagram_and_details(chromium, canary, tmp_path,
                                           build):
    """Chromium builds one SVG with two arrows per hop and one <details>
    per hop, runs the inline script, and makes no network request."""
    trace = build()
    count = len(list(trace.hops()))
    run = Run(chromium, tmp_path, canary,
              _write(tmp_path, html.render(trace)), '--dump-dom')
    assert run.dom.count('<svg') == 1
    assert len(re.findall(r'class="arrow req\b', run.dom)) == count
    assert len(re.findall(r'class="arrow ans\b', run.dom)) == count
    assert len(re.findall(r'<details id="hop-\d+"', run.dom)) == count
    assert 'data-script="ready"' in run.dom  # the CSP let our script run
    _assert_no_network(run)


def test_an_arrow_link_opens_its_details(chromium, canary, tmp_path):
    """Following an arrow's link (#hop-N) opens that hop's details."""
    url = _write(tmp_path, html.render(trace_fixtures.image_create()))
    run = Run(chromium, tmp_path, canary, url + '#hop-3', '--dump-dom')
    details = dict(re.findall(r'<details id="(hop-\d+)"([^>]*)>', run.dom))
    assert ' open=' in details['hop-3']
    assert ' open=' not in details['hop-1']
    _assert_no_network(run)


def test_page_is_whole_without_script(chromium, canary, tmp_path):
    """Without its script the diagram, links and details are all there."""
    trace = trace_fixtures.image_create()
    count = len(list(trace.hops()))
    # NOTE: --dump-dom needs script to serialise the page, so the script
    # is cut out of the page rather than turned off in the browser.
    text = html.render(trace)
    start, end = text.index('<script>'), text.index('</script>')
    text = text[:start] + text[end + len('</script>'):]
    run = Run(chromium, tmp_path, canary, _write(tmp_path, text),
              '--dump-dom')
    assert '<script' not in run.dom and 'data-script' not in run.dom
    assert len(re.findall(r'class="arrow (?:req|ans)\b', run.dom)) == 2 * count
    assert len(re.findall(r'<a href="#hop-\d+"', run.dom)) == 2 * count
    assert len(re.findall(r'<details id="hop-\d+"', run.dom)) == count
    _assert_no_network(run)


def test_screenshot_shows_the_drawing(chromium, canary, tmp_path):
    """The page paints: a 1280x2000 PNG with many colours, ink, and the
    red of the failed answers."""
    png = tmp_path / 'trace.png'
    run = Run(chromium, tmp_path, canary,
              _write(tmp_path, html.render(trace_fixtures.image_create())),
              '--screenshot=%s' % png, '--window-size=%d,%d' % WINDOW)
    width, height, colours = _decode_png(png.read_bytes())
    assert (width, height) == WINDOW
    assert sum(colours.values()) == width * height
    assert len(colours) >= 64

    def count(test):
        return sum(n for (r, g, b), n in colours.items() if test(r, g, b))
    assert count(lambda r, g, b: r + g + b < 600) > width * height // 100
    assert count(lambda r, g, b: r > 180 and g < 90 and b < 90) > 200
    assert count(lambda r, g, b: r + g + b < 150) > 1000
    _assert_no_network(run)


def test_a_fetch_would_be_caught(chromium, canary, tmp_path):
    """Control: a page that loads an external image and stylesheet is seen
    by both the net log and the canary proxy."""
    page = ('<!DOCTYPE html><html><head><link rel="stylesheet" '
            'href="https://%s/a.css"></head><body><img src="http://%s/b.png">'
            '</body></html>' % (CANARY_HOST, CANARY_HOST))
    run = Run(chromium, tmp_path, canary, _write(tmp_path, page),
              '--dump-dom')
    assert sorted(run.page_requests) == [
        'http://%s/b.png' % CANARY_HOST, 'https://%s/a.css' % CANARY_HOST]
    assert CANARY_HOST in run.canary_hosts
    assert CANARY_HOST not in run.own_hosts


def test_content_security_policy_blocks_a_fetch(chromium, canary, tmp_path):
    """An image smuggled into a report is blocked by its CSP: no request,
    and Chromium says why."""
    text = html.render(trace_fixtures.image_create())
    text = text.replace('<body>', '<body><img src="http://%s/c.png">'
                        % CANARY_HOST, 1)
    run = Run(chromium, tmp_path, canary, _write(tmp_path, text),
              '--dump-dom')
    assert run.page_requests == []
    assert CANARY_HOST not in run.canary_hosts
    assert any('Content Security Policy' in line and CANARY_HOST in line
               for line in run.console)


# -- PNG, with the standard library only -------------------------------------

def _decode_png(data):
    """Return ``(width, height, Counter({(r, g, b): pixels}))`` of an 8-bit
    RGB(A) non-interlaced PNG (what Chromium writes)."""
    assert data[:8] == b'\x89PNG\r\n\x1a\n'
    position, chunks, header = 8, [], None
    while position < len(data):
        length, kind = struct.unpack('>I4s', data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        crc = struct.unpack('>I', data[position + 8 + length:
                                       position + 12 + length])[0]
        assert zlib.crc32(kind + body) == crc, kind
        if kind == b'IHDR':
            header = struct.unpack('>IIBBBBB', body)
        elif kind == b'IDAT':
            chunks.append(body)
        elif kind == b'IEND':
            break
        position += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(b''.join(chunks))
    stride = width * channels
    assert len(raw) == height * (stride + 1)
    colours = collections.Counter()
    previous = bytearray(stride)
    for row in range(height):
        start = row * (stride + 1)
        line = _unfilter(raw[start], bytearray(raw[start + 1:
                                                   start + 1 + stride]),
                         previous, channels)
        colours.update(zip(line[0::channels], line[1::channels],
                           line[2::channels], strict=True))
        previous = line
    return width, height, colours


def _unfilter(kind, line, up, step):
    if kind == 0:
        return line
    if kind == 2:
        return bytearray((a + b) & 255 for a, b in zip(line, up, strict=True))
    for i in range(len(line)):
        left = line[i - step] if i >= step else 0
        if kind == 1:
            line[i] = (line[i] + left) & 255
        elif kind == 3:
            line[i] = (line[i] + ((left + up[i]) >> 1)) & 255
        else:  # 4, Paeth
            corner = up[i - step] if i >= step else 0
            above = up[i]
            estimate = left + above - corner
            near_left = abs(estimate - left)
            near_above = abs(estimate - above)
            near_corner = abs(estimate - corner)
            if near_left <= near_above and near_left <= near_corner:
                guess = left
            elif near_above <= near_corner:
                guess = above
            else:
                guess = corner
            line[i] = (line[i] + guess) & 255
    return line
