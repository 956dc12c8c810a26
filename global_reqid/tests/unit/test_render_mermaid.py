"""The Mermaid renderer writes sequence diagrams the real parser accepts."""

import json
import pathlib
import re
import shutil
import subprocess

import pytest

from global_reqid.tests.unit import trace_fixtures
from global_reqid.tests.unit import trace_fixtures_render
from global_reqid.trace import model
from global_reqid.trace.render import mermaid
from global_reqid.trace.render import text

ROOT = pathlib.Path(__file__).resolve().parents[3]
JS = ROOT / 'tools' / 'js'
PARSER = JS / 'mermaid-parse.mjs'
NODE = shutil.which('node')

ARROW = re.compile(r'^    (P\d+)(->>|-->>|--x)(P\d+): (.+)$')
PARTICIPANT = re.compile(r'^    participant (P\d+) as (.+)$')
# Every statement the renderer may write, entity codes (#59;) taken out:
# no ';' left to end a statement early.
STATEMENT = re.compile(
    r'^(?:%% [^\n]*|sequenceDiagram|    autonumber'
    r'|    participant P\d+ as [^;\n]+'
    r'|    P\d+(?:->>|-->>|--x|-\))P\d+: [^;\n]+'
    r'|    Note over P\d+: [^;\n]+'
    r'|    (?:de)?activate P\d+)$')
ENTITY = re.compile(r'#\d+;')

TRACES = {
    'image_create': trace_fixtures.image_create,
    'empty': trace_fixtures.empty,
    'hostile': trace_fixtures_render.hostile,
    'many': trace_fixtures_render.many,
    'no_hops': trace_fixtures_render.no_hops,
    'nothing': trace_fixtures_render.nothing,
    'bare': trace_fixtures_render.bare,
    'handed_over': trace_fixtures_render.handed_over,
}


def _node_missing():
    if NODE is None:
        return 'node is not installed'
    if not (JS / 'node_modules' / 'mermaid').is_dir():
        return 'mermaid is not installed: run tools/install-js-deps.sh'
    return None


needs_node = pytest.mark.skipif(_node_missing() is not None,
                                reason=str(_node_missing()))


def _arrows(output):
    return [ARROW.match(line).groups() for line in output.splitlines()
            if ARROW.match(line)]


def _hops(trace):
    return [step.hop for step in text.walk(trace.roots)]


@pytest.mark.parametrize('name', sorted(TRACES))
def test_every_line_is_a_known_statement(name):
    """Every line is a known statement, with no raw ';' or '#' in text."""
    output = mermaid.render(TRACES[name]())
    assert output.endswith('\n')
    for line in output.splitlines():
        bare = ENTITY.sub('', line)
        assert STATEMENT.match(bare), line
        assert '#' not in bare, line
    assert '%%{' not in output


def test_header_comment_autonumber_and_participants_in_order():
    """Id comment, autonumber, then participants in trace order."""
    trace = trace_fixtures.image_create()
    lines = mermaid.render(trace).splitlines()
    assert lines[0] == '%% global request id ' + trace.global_request_id
    start = lines.index('sequenceDiagram')
    assert lines[start + 1] == '    autonumber'
    declared = [PARTICIPANT.match(line).groups() for line in lines
                if PARTICIPANT.match(line)]
    assert declared == [('P%d' % index, name)
                        for index, name in enumerate(trace.participants)]


def test_two_arrows_per_hop_children_between_request_and_answer():
    """Two arrows per hop; a callee's calls sit between them."""
    trace = trace_fixtures.image_create()
    arrows = _arrows(mermaid.render(trace))
    assert len(arrows) == 2 * len(_hops(trace))
    aliases = {name: 'P%d' % index
               for index, name in enumerate(trace.participants)}
    client, glance, keystone = (aliases['client'], aliases['glance-api'],
                                aliases['keystone'])
    create = arrows.index((client, '->>', glance, 'POST /v2/images'))
    assert arrows[create + 1] == (glance, '->>', keystone,
                                  'GET /v3/auth/tokens')
    assert arrows[create + 2] == (keystone, '-->>', glance, '200 (35.5 ms)')
    assert arrows[create + 3] == (glance, '-->>', client, '201 (84.2 ms)')


def test_no_answer_is_a_dashed_cross_and_errors_are_noted():
    """No answer is a dashed cross; error lines give a note."""
    trace = trace_fixtures.image_create()
    output = mermaid.render(trace)
    assert '    P3--xP0: no answer (ConnectTimeout, 1.000 s)\n' in output
    lines = output.splitlines()
    note = lines.index('    Note over P2: ERROR Failed to upload image data')
    assert lines[note - 2].startswith('    P0->>P2: PUT /v2/images/')
    assert lines[note + 1] == '    P2-->>P0: 500 OSError (55.3 ms)'
    assert output.count('Note over') == sum(
        1 for hop in trace.hops() if any(line.error for line in hop.lines))


def test_activations_are_balanced_and_nested():
    """Every activate has its deactivate, innermost first."""
    for factory in TRACES.values():
        active = []
        for line in mermaid.render(factory()).splitlines():
            if line.startswith('    activate '):
                active.append(line.split()[-1])
            elif line.startswith('    deactivate '):
                assert active.pop() == line.split()[-1]
        assert active == []


def test_arrow_numbers_match_autonumber():
    """arrows() gives the numbers autonumber puts on each hop."""
    trace = trace_fixtures_render.many()
    steps = list(text.walk(trace.roots))
    arrows = _arrows(mermaid.render(trace))
    numbers = mermaid.arrows(steps)
    assert sorted(numbers) == [step.number for step in steps]
    for step in steps:
        request, answer = numbers[step.number]
        assert arrows[request - 1][3] == mermaid.escape(
            text.request(step.hop))
        assert arrows[answer - 1][1] in ('-->>', '--x')
        assert arrows[answer - 1][0] == arrows[request - 1][2]
    assert mermaid.arrows(list(text.walk(
        trace_fixtures.image_create().roots)))[3] == (5, 8)


def test_escape_writes_syntax_as_entity_codes():
    """escape() writes syntax as entity codes and never returns empty."""
    assert mermaid.escape('a;b#c:d') == 'a#59;b#35;c#58;d'
    assert mermaid.escape('<b>&') == '#60;b#62;#38;'
    assert mermaid.escape('%%{init}%%') == '%%#123;init#125;%%'
    assert mermaid.escape('x\x1b[2J\ny') == 'x#92;x1b[2J#92;ny'
    assert mermaid.escape('  ') == '?'
    assert mermaid.escape('ünï 漢字') == 'ünï 漢字'


def test_long_messages_are_shortened_in_the_middle():
    """A long path is cut in the middle to MAX_MESSAGE characters."""
    trace = trace_fixtures.empty()
    trace.roots[0].path = '/v2/' + 'x' * 300 + '/end'
    arrows = _arrows(mermaid.render(trace))
    assert len(arrows[0][3]) == mermaid.MAX_MESSAGE
    assert arrows[0][3].startswith('GET /v2/xx') and arrows[0][3].endswith(
        'xx/end')


def test_names_missing_from_participants_are_declared():
    """Names the trace did not list are declared after the listed ones."""
    trace = trace_fixtures.empty()
    trace.roots[0].children = [model.Hop(caller='svc', callee='db-proxy',
                                         status=200)]
    lines = mermaid.render(trace).splitlines()
    assert '    participant P2 as db-proxy' in lines


def test_deterministic_and_deep():
    """Same trace, same bytes; a very deep chain renders."""
    assert (mermaid.render(trace_fixtures.image_create())
            == mermaid.render(trace_fixtures.image_create()))
    output = mermaid.render(trace_fixtures_render.chain(1200))
    assert len(_arrows(output)) == 2400


def _parse(tmp_path, diagrams, dump=True):
    paths = []
    for name, diagram in diagrams.items():
        path = tmp_path / ('%s.mmd' % name)
        path.write_text(diagram, encoding='utf-8')
        paths.append(str(path))
    command = [NODE, str(PARSER)] + (['--dump'] if dump else []) + paths
    return subprocess.run(command, capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.fixture(scope='module')
def parsed(tmp_path_factory):
    """Every trace of TRACES rendered and parsed by the real parser in one
    node process: {name: (diagram, what the parser understood)}."""
    tmp_path = tmp_path_factory.mktemp('mermaid')
    diagrams = {name: mermaid.render(factory())
                for name, factory in sorted(TRACES.items())}
    result = _parse(tmp_path, diagrams)
    assert result.returncode == 0, result.stderr
    dumps = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(dumps) == len(diagrams)
    return {name: (diagrams[name], dump)
            for name, dump in zip(diagrams, dumps, strict=True)}


@needs_node
def test_the_real_parser_accepts_every_trace(parsed):
    """mermaid.parse() accepts every trace, with two arrows per hop."""
    for name, (_, dump) in parsed.items():
        assert dump['diagramType'] == 'sequence', name
        kinds = [message['type'] for message in dump['messages']]
        assert kinds[0] == 'AUTONUMBER', name
        arrows = [kind for kind in kinds
                  if kind in ('SOLID', 'DOTTED', 'DOTTED_CROSS',
                              'SOLID_POINT')]
        assert len(arrows) == 2 * len(_hops(TRACES[name]())), name
        assert kinds.count('ACTIVE_START') == kinds.count('ACTIVE_END')


def test_work_handed_over_by_rpc_is_an_async_arrow():
    """An RPC hop is drawn as an async message (-)), its answer as any."""
    output = mermaid.render(trace_fixtures_render.handed_over())
    assert '    P1-)P2: RPC nova.conductor.manager' in output.splitlines()
    assert '    P2->>P3: GET /v3/p/attachments/a1' in output.splitlines()
    assert len(re.findall(r'P\d->>P', output)) == 2


@needs_node
def test_the_parser_reads_the_rpc_arrow_as_async(parsed):
    """mermaid understands -) as its async message type."""
    _, dump = parsed['handed_over']
    kinds = [message['type'] for message in dump['messages']]
    assert kinds.count('SOLID_POINT') == 1


@needs_node
def test_hostile_names_and_messages_come_out_as_they_went_in(parsed):
    """Hostile names and messages reach the drawing unchanged."""
    trace = trace_fixtures_render.hostile()
    _, dump = parsed['hostile']
    shown = [actor['description'] for actor in dump['actors']]
    assert shown == [' '.join(name.split()) or '?'
                     for name in trace_fixtures_render.HOSTILE_NAMES]
    requests = [message['text'] for message in dump['messages']
                if message['type'] == 'SOLID']
    assert requests == [text.request(hop) for hop in _hops(trace)]
    notes = [message['text'] for message in dump['messages']
             if message['type'] == 'NOTE']
    assert notes == [text.clean(
        'ERROR boom; #1: <b>bold</b> `tick` \x1b[2J\u202egnp')]
    crosses = [message['text'] for message in dump['messages']
               if message['type'] == 'DOTTED_CROSS']
    assert crosses == ['no answer (Conn;Error#<b>, 1.5 ms)']


@needs_node
def test_the_parser_fails_on_a_broken_diagram(tmp_path):
    """The parser check fails on a broken diagram, naming the file."""
    broken = ('sequenceDiagram\n    participant P0 as a;b\n'
              '    P0->>: hi\n')
    result = _parse(tmp_path, {'broken': broken}, dump=False)
    assert result.returncode == 1
    assert 'broken.mmd: Parse error' in result.stderr
