"""The HTML report is one well-formed, self-contained, escaped page."""

import copy
import html.parser
import os
import re
import subprocess
import sys

import pytest

from global_reqid.events import redact
from global_reqid.tests.unit import trace_fixtures
from global_reqid.tests.unit import trace_fixtures_html as fixtures
from global_reqid.trace import model
from global_reqid.trace.render import html as render_html

VOID = frozenset(['area', 'base', 'br', 'col', 'embed', 'hr', 'img',
                  'input', 'link', 'meta', 'source', 'track', 'wbr'])
# Attributes a browser may fetch from or navigate to.
FETCHING = frozenset(['src', 'href', 'xlink:href', 'action', 'formaction',
                      'data', 'poster', 'srcset', 'background', 'ping',
                      'manifest', 'codebase', 'cite', 'longdesc'])
# Attributes that are text for people, never fetched.
TEXT_ATTRS = frozenset(['title', 'aria-label'])


class Element:
    def __init__(self, tag, attrs, parent):
        self.tag = tag
        self.attrs = dict(attrs)
        self.parent = parent
        self.children = []
        self.text = []

    @property
    def classes(self):
        return set((self.attrs.get('class') or '').split())

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()

    def find_all(self, tag=None, cls=None):
        return [node for node in self.walk()
                if (tag is None or node.tag == tag)
                and (cls is None or cls in node.classes)]

    def all_text(self):
        return ''.join(''.join(node.text) for node in self.walk())


class Page(html.parser.HTMLParser):
    """A strict tree: every non-void element closed, in order."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.root = Element('#document', [], None)
        self.current = self.root
        self.errors = []
        self.doctype = None
        self.comments = []
        self.feed(text)
        self.close()
        if self.current is not self.root:
            self.errors.append('unclosed <%s>' % self.current.tag)

    def handle_decl(self, decl):
        self.doctype = decl

    def handle_comment(self, data):
        self.comments.append(data)

    def handle_starttag(self, tag, attrs):
        node = Element(tag, attrs, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Element(tag, attrs, self.current))

    def handle_endtag(self, tag):
        if tag in VOID:
            self.errors.append('end tag of void <%s>' % tag)
        elif self.current.tag != tag:
            self.errors.append('</%s> closes <%s>' % (tag, self.current.tag))
        else:
            self.current = self.current.parent

    def handle_data(self, data):
        self.current.text.append(data)

    def find_all(self, tag=None, cls=None):
        return self.root.find_all(tag, cls)

    def by_id(self, ident):
        found = [node for node in self.root.walk()
                 if node.attrs.get('id') == ident]
        assert len(found) == 1, (ident, len(found))
        return found[0]


def parse(trace):
    text = render_html.render(trace)
    page = Page(text)
    assert page.errors == []
    return text, page


def arrows(page, kind=None):
    found = page.find_all(cls='arrow')
    return [node for node in found if kind is None or kind in node.classes]


def arrow_y(page, number, kind):
    row = page.by_id(('arrow-%d' if kind == 'req' else 'answer-%d')
                     % number)
    line = [node for node in row.walk() if 'arrow' in node.classes][0]
    return float(line.attrs['y1'])


@pytest.fixture(scope='module')
def rendered():
    """``rendered(build)``: the trace, its page and its parse, made once
    per module (parsing 500 hops takes a second)."""
    cache = {}

    def get(build):
        if build not in cache:
            trace = build()
            cache[build] = (trace,) + parse(trace)
        return cache[build]
    return get


ALL = [trace_fixtures.image_create, trace_fixtures.empty, fixtures.no_hops,
       fixtures.many, fixtures.hostile, fixtures.secrets, fixtures.self_call]


@pytest.mark.parametrize('build', ALL, ids=lambda build: build.__name__)
def test_page_is_well_formed(build, rendered):
    """Every element closes in order, under one <html>, after a doctype."""
    _, text, page = rendered(build)
    assert page.doctype == 'DOCTYPE html'
    assert [node.tag for node in page.root.children] == ['html']
    assert [node.tag for node in page.root.children[0].children] == [
        'head', 'body']
    assert text.endswith('</html>\n')


@pytest.mark.parametrize('build', ALL, ids=lambda build: build.__name__)
def test_one_svg_with_two_arrows_per_hop(build, rendered):
    """One <svg>; a request and an answer arrow for every hop."""
    trace, _, page = rendered(build)
    count = len(list(trace.hops()))
    assert len(page.find_all('svg')) == 1
    assert len(arrows(page)) == 2 * count
    assert len(arrows(page, 'req')) == count
    assert len(arrows(page, 'ans')) == count


@pytest.mark.parametrize('build', ALL, ids=lambda build: build.__name__)
def test_every_hop_has_details_and_its_arrows_link_there(build, rendered):
    """One <details> per hop, and both arrows of a hop link to it."""
    trace, _, page = rendered(build)
    count = len(list(trace.hops()))
    details = page.find_all('details', 'hop')
    assert [node.attrs['id'] for node in details] == [
        'hop-%d' % number for number in range(1, count + 1)]
    assert all(node.children[0].tag == 'summary' for node in details)
    links = [node.attrs['href'] for node in page.find_all('a', 'row')]
    assert sorted(links) == sorted(['#hop-%d' % number
                                    for number in range(1, count + 1)] * 2)


@pytest.mark.parametrize('build', ALL, ids=lambda build: build.__name__)
def test_nothing_is_fetched(build, rendered):
    """No resource outside the page: links are fragments or data:, URLs
    appear only as text, and a strict CSP forbids any fetch."""
    _, text, page = rendered(build)
    csp = [node.attrs['content'] for node in page.find_all('meta')
           if node.attrs.get('http-equiv') == 'Content-Security-Policy']
    assert csp == [render_html.CSP]
    assert "default-src 'none'" in csp[0]
    for node in page.root.walk():
        for name, value in node.attrs.items():
            value = value or ''
            if name in FETCHING:
                assert value.startswith(('#', 'data:')), (node.tag, name)
            if name not in TEXT_ATTRS:
                assert '//' not in value, (node.tag, name, value)
            if 'url(' in value:
                assert re.fullmatch(r'url\(#[\w-]+\)', value), value
            assert not name.startswith('on'), (node.tag, name)
    for style in page.find_all('style'):
        assert 'url(' not in style.all_text()
        assert '@import' not in style.all_text()
    assert {node.tag for node in page.root.walk()}.isdisjoint(
        {'img', 'iframe', 'object', 'embed', 'video', 'audio', 'source',
         'image', 'use', 'foreignobject', 'base', 'form'})
    # Every URL in the raw page is inside text: each one the browser
    # would show is one the parser found in text or a title.
    shown = ''.join(node.all_text() for node in page.root.children)
    shown += ''.join(node.attrs.get('title', '') or ''
                     for node in page.root.walk())
    raw = len(re.findall(r'https?://', text))
    assert raw <= len(re.findall(r'https?://', shown))


def test_hostile_text_never_reaches_the_page_raw():
    """Markup in every field is shown as text: no raw tag, no handler, one
    script (ours)."""
    trace = fixtures.hostile()
    text, page = parse(trace)
    for bad in fixtures.HOSTILE:
        assert bad not in text
    assert text.count('<script') == 1 and text.count('</script') == 1
    assert '<img' not in text and '<iframe' not in text
    assert page.comments == []
    scripts = page.find_all('script')
    assert len(scripts) == 1 and scripts[0].all_text().strip() == render_html._SCRIPT.strip()
    # Shown, escaped, where an operator looks for it.
    assert fixtures.HOSTILE[0] in page.find_all('h1')[0].all_text()
    assert fixtures.HOSTILE[1] in page.by_id('hop-2').all_text()
    actors = [node.find_all('text')[0].all_text()
              for node in page.find_all('g', 'actor')]
    assert fixtures.HOSTILE[0] in actors


def test_control_characters_are_drawn_as_escapes():
    """Terminal colours, bidi overrides, NUL and lone surrogates become
    visible escapes; the page encodes as UTF-8."""
    text = render_html.render(fixtures.hostile())
    text.encode('utf-8')
    for char in ('\x1b', '\u202e', '\x00', '\udcff'):
        assert char not in text
    assert '\\x1b[31mred' in text and '\\u202eoverride' in text


def test_secrets_are_masked_again():
    """Secrets left in clear in the model never reach the page."""
    text, page = parse(fixtures.secrets())
    for secret in (fixtures.TOKEN, fixtures.PASSWORD, fixtures.SIGNATURE):
        assert secret not in text
        assert secret[:8] not in text
    hashed = redact.hash_value(fixtures.TOKEN)
    headers = page.by_id('hop-1').all_text()
    assert 'X-Auth-Token' + hashed in headers
    assert 'Authorization***' in headers


def test_failed_answers_are_red_and_lost_requests_crossed():
    """A 4xx/5xx or error answer is drawn red; a call with no answer ends
    in a cross; a good answer is neither."""
    _, page = parse(trace_fixtures.image_create())
    markers = {node.attrs['id']: node for node in page.find_all('marker')}
    assert '#dc2626' in str([n.attrs for n in markers['m-ans-failed'].walk()])
    assert '#dc2626' in str([n.attrs for n in markers['m-lost'].walk()])

    def arrow(number, kind):
        row = page.by_id(('arrow-%d' if kind == 'req' else 'answer-%d')
                         % number)
        return [node for node in row.walk() if 'arrow' in node.classes][0]
    # 1: GET /v3 200; 5: PUT 500 OSError; 6: no answer (ConnectTimeout).
    assert 'failed' not in arrow(1, 'ans').classes
    assert arrow(1, 'ans').attrs['marker-end'] == 'url(#m-ans)'
    for number in (5, 6):
        assert 'failed' in arrow(number, 'ans').classes
        assert arrow(number, 'ans').attrs['marker-end'] == (
            'url(#m-ans-failed)')
    assert arrow(6, 'req').attrs['marker-end'] == 'url(#m-lost)'
    assert arrow(5, 'req').attrs['marker-end'] == 'url(#m-req)'
    assert 'no answer: ConnectTimeout' in page.by_id('answer-6').all_text()
    assert '500 OSError' in page.by_id('answer-5').all_text()


def test_nested_calls_are_drawn_between_request_and_answer():
    """Rows go down in call order; a nested call's arrows lie between its
    parent's request and answer."""
    _, page = parse(trace_fixtures.image_create())
    # 3: client -> glance-api POST /v2/images; 4: glance-api -> keystone.
    assert (arrow_y(page, 3, 'req') < arrow_y(page, 4, 'req')
            < arrow_y(page, 4, 'ans') < arrow_y(page, 3, 'ans')
            < arrow_y(page, 5, 'req'))
    requests = [arrow_y(page, number, 'req') for number in range(1, 8)]
    assert requests == sorted(set(requests))


def test_layout_grows_with_hops(rendered):
    """500 hops: 1000 rows, none sharing a height, in a taller SVG."""
    small = rendered(trace_fixtures.image_create)[2]
    big = rendered(fixtures.many)[2]
    heights = [float(page.find_all('svg')[0].attrs['height'])
               for page in (small, big)]
    assert heights[1] >= 1000 * render_html.ROW > 10 * heights[0]
    rows = [float(node.attrs.get('y1', 0)) for node in arrows(big)
            if node.tag == 'line']
    assert len(rows) == 1000 and len(set(rows)) == 1000
    # Participant names are repeated down the diagram.
    assert len(big.find_all('g', 'band')) == 1000 // render_html.BAND_EVERY


def test_no_hops():
    """An action with no hops still renders: an empty diagram, no details,
    and the lines that no hop claimed."""
    text, page = parse(fixtures.no_hops())
    assert arrows(page) == [] and page.find_all('details') == []
    assert 'No hops found' in page.find_all('svg')[0].all_text()
    orphans = page.by_id('orphans')
    assert 'Token validation failed' in orphans.all_text()
    assert len(orphans.find_all('div', 'error')) == 1


def test_details_hold_headers_bodies_and_lines():
    """A hop's details show its fields, captured headers and bodies, and
    its log lines with ERROR lines marked."""
    trace = trace_fixtures.image_create()
    _, page = parse(trace)
    create = page.by_id('hop-3')
    tables = create.find_all('table')
    cells = [[cell.all_text() for cell in row.children]
             for table in tables for row in table.find_all('tr')]
    assert ['URL', 'http://127.0.0.1:9292/v2/images'] in cells
    assert ['Request id', 'req-7a3d0f52-3c55-4b0e-9c67-0c0a4f6f2d11'] in cells
    assert ['Content-Type', 'application/json'] in cells
    assert ['Location', '/v2/images/0708'] in cells
    bodies = [node.all_text() for node in create.find_all('pre')]
    assert bodies[0] == '{"name": "testimg", "password": "***"}'
    assert '"binary": true' in bodies[1]
    assert 'Creating image <b>&' in create.find_all('div', 'line')[0].all_text()
    # A hop without captures has no header or body section.
    assert page.by_id('hop-1').find_all('pre') == []
    assert 'headers' not in page.by_id('hop-1').all_text()
    errors = [node.all_text() for node in page.find_all('div', 'error')]
    wanted = [line.text for hop in trace.hops() for line in hop.lines
              if line.error]
    assert errors == wanted and len(errors) == 2
    # Failed hops are open, the others closed.
    opened = [node.attrs['id'] for node in page.find_all('details')
              if 'open' in node.attrs]
    assert opened == ['hop-5', 'hop-6']


def test_header_summarises_the_action():
    """The header names the ids, mode, participants, hops, failures, span."""
    _, page = parse(trace_fixtures.image_create())
    summary = page.find_all('dl', 'summary')[0]
    pairs = dict(zip([node.all_text() for node in summary.find_all('dt')],
                     [node.all_text() for node in summary.find_all('dd')],
                     strict=True))
    assert pairs['Global id'] == trace_fixtures.GLOBAL
    assert pairs['Participants'] == 'client, keystone, glance-api, ' \
        'object-store'
    assert pairs['Hops'] == '7' and pairs['Failures'] == '2'
    assert pairs['Total span'] == '2.01 s'  # T0 to the end of the GET at +2s
    assert pairs['Started'] == '2026-11-23T17:18:54.000Z'
    assert pairs['Mode'].startswith('mixed')


def test_long_paths_are_shortened_in_the_diagram_only():
    """A label too long for its arrow keeps its start and end; the details
    keep the whole path."""
    trace = trace_fixtures.image_create()
    long_path = '/v2/images/' + 'x' * 300 + '/file'
    trace.roots[0].path = long_path
    _, page = parse(trace)
    label = page.by_id('arrow-1').find_all('text', 'label')[0].all_text()
    assert render_html.ELLIPSIS in label and len(label) < 100
    assert label.startswith('GET /v2/images/') and label.endswith('/file')
    assert long_path in page.by_id('hop-1').all_text()


def test_self_calls_and_unlisted_participants():
    """A call to oneself is a loop; a participant missing from the list
    still gets a lifeline."""
    _, page = parse(fixtures.self_call())
    names = [node.find_all('text')[0].all_text()
             for node in page.find_all('g', 'actor')]
    assert names == ['client', 'nova-api', 'cyborg-api'] * 2
    loop = [node for node in page.by_id('arrow-2').walk()
            if 'arrow' in node.classes][0]
    assert loop.tag == 'path' and 'V' in loop.attrs['d']


def test_output_is_deterministic():
    """Same trace, same bytes: twice, on a copy, and in other processes
    with another time zone and hash seed."""
    trace = trace_fixtures.image_create()
    first = render_html.render(trace)
    assert render_html.render(trace) == first
    assert render_html.render(copy.deepcopy(trace)) == first
    code = ('import sys; from global_reqid.trace.render import html; '
            'from global_reqid.tests.unit import trace_fixtures; '
            'sys.stdout.write(html.render(trace_fixtures.image_create()))')
    for zone, seed in (('Asia/Tokyo', '1'), ('America/Los_Angeles', '2')):
        env = dict(os.environ, TZ=zone, PYTHONHASHSEED=seed,
                   PYTHONIOENCODING='utf-8')
        out = subprocess.run([sys.executable, '-c', code], env=env,
                             capture_output=True, timeout=60, check=True)
        assert out.stdout.decode('utf-8') == first


def test_model_is_not_changed():
    """Rendering is pure: the trace is the same afterwards."""
    trace = fixtures.secrets()
    before = model.to_dict(trace)
    render_html.render(trace)
    assert model.to_dict(trace) == before


def test_queried_local_id_links_to_its_hop():
    """Asked for by a local id, the header links to the hop it names."""
    trace = trace_fixtures.image_create()
    trace.queried_id = 'req-7a3d0f52-3c55-4b0e-9c67-0c0a4f6f2d11'  # hop 3
    _, page = parse(trace)
    summary = page.find_all('dl', 'summary')[0]
    links = [node.attrs['href'] for node in summary.find_all('a')]
    assert links == ['#hop-3']
    trace.queried_id = trace.global_request_id
    _, page = parse(trace)
    assert page.find_all('dl', 'summary')[0].find_all('a') == []


def test_warnings_shown_and_skipped_lines_collapsed():
    """Warnings are listed; skipped lines wait in a closed <details>."""
    trace = trace_fixtures.image_create()
    trace.stats.warnings = ['cannot read /var/log/nova: Permission denied']
    trace.stats.skipped = 3
    trace.stats.skipped_where = ['/srv/x.out:0: unknown format']
    _, page = parse(trace)
    header = page.find_all('header')[0]
    assert [node.all_text() for node in header.find_all('li')] == [
        'cannot read /var/log/nova: Permission denied',
        '/srv/x.out:0: unknown format']
    skipped = header.find_all('details', 'skipped')
    assert len(skipped) == 1 and 'open' not in skipped[0].attrs
    assert skipped[0].find_all('summary')[0].all_text().startswith(
        '3 lines skipped')
