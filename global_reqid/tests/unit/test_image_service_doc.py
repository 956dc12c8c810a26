"""The checked-in "Tracing the image service" page and its generator.

The page (doc/source/image-service.rst) and its tree (doc/source/
image-service/) are written by tools/image-service-doc.py against a real
keystone and glance-api; these tests do not run that cloud again. They
check that what is checked in is consistent and holds no secret, and that
the generator's secret check refuses what it must.
"""

import importlib.util
import json
import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.join(os.path.dirname(__file__), '..', '..', '..')
DOC = os.path.join(ROOT, 'doc', 'source')
PAGE = os.path.join(DOC, 'image-service.rst')
TREE = os.path.join(DOC, 'image-service')
SCRIPT = os.path.join(ROOT, 'tools', 'image-service-doc.py')
JS = os.path.join(ROOT, 'tools', 'js')
#: The ten commands of test_real_image_cli.COMMANDS, in order.
COMMANDS = ('create', 'list', 'show', 'save', 'add project', 'member list',
            'remove project', 'set', 'unset', 'delete')
FILES = ('trace.txt', 'diagram.md', 'body.md', 'trace.json', 'trace.html')
#: A keystone fernet token.
FERNET = re.compile(r'gAAAAA[A-Za-z0-9_=-]{20,}')
#: A password given a value that is not masked.
PASSWORD = re.compile(
    r'OS_PASSWORD[\'"]?\s*[=:]\s*[\'"]?(?!\*)[^\s\'"`*,}]+'
    r'|"password"\s*:\s*"(?!\*+")[^"]*"'
    r'|&quot;password&quot;:\s*&quot;(?!\*+&quot;)')
#: A token header row of body.md and the value it shows.
TOKEN_ROW = re.compile(r'`X-(?:Auth|Subject|Service)-Token` \| `([^`]*)`',
                       re.IGNORECASE)
MASKED = re.compile(r'\*+|\{SHA256\}[0-9a-f]{64}')
#: The generator's temporary directory (tempfile.mkdtemp's name).
TEMP_DIR = re.compile(r'image-service-doc-[A-Za-z0-9_]{8}')
#: Paths the page points at: literalinclude, iframe src, inline links.
TARGETS = re.compile(r'literalinclude:: (\S+)|<iframe src="([^"]+)"'
                     r'|`[^`<]*<([^>]+)>`__')


def _page():
    with open(PAGE, encoding='utf-8') as handle:
        return handle.read()


def _generated():
    """(relative path, text) of the page and every generated file."""
    yield 'image-service.rst', _page()
    for directory in sorted(os.listdir(TREE)):
        for name in sorted(os.listdir(os.path.join(TREE, directory))):
            path = os.path.join(TREE, directory, name)
            with open(path, encoding='utf-8') as handle:
                yield os.path.relpath(path, DOC), handle.read()


def _slug(index, name):
    return '%02d-%s' % (index, name.replace(' ', '-'))


def load_script():
    """tools/image-service-doc.py as a module (its name has dashes)."""
    spec = importlib.util.spec_from_file_location('image_service_doc',
                                                  SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_command_has_a_section_and_its_files():
    """Each of the ten commands has its section, in order, and five files."""
    page = _page()
    positions = []
    for index, name in enumerate(COMMANDS, 1):
        title = '%d. openstack image %s\n' % (index, name)
        assert title in page, title
        positions.append(page.index(title))
        written = sorted(os.listdir(os.path.join(TREE, _slug(index, name))))
        assert written == sorted(FILES), name
    assert positions == sorted(positions)
    assert sorted(os.listdir(TREE)) == [
        _slug(index, name) for index, name in enumerate(COMMANDS, 1)]


def test_every_target_of_the_page_exists():
    """Every included file, iframe and link of the page is in the tree."""
    found = [next(group for group in match.groups() if group)
             for match in TARGETS.finditer(_page())]
    # Per command: three includes, the iframe, two links.
    assert len(found) == 6 * len(COMMANDS)
    for target in found:
        assert not os.path.isabs(target), target
        assert os.path.isfile(os.path.join(DOC, target)), target
    iframes = [t for t in found if t.endswith('trace.html')]
    assert len(set(iframes)) == len(COMMANDS)


def test_page_is_in_the_toctree_after_trace():
    """index.rst lists image-service right after trace."""
    with open(os.path.join(DOC, 'index.rst'), encoding='utf-8') as handle:
        entries = [line.strip() for line in handle
                   if line.startswith('   ') and line.strip()]
    assert entries.index('image-service') == entries.index('trace') + 1


def test_each_trace_is_one_global_id_as_the_page_says():
    """Each trace.json has one global id, the one the page shows."""
    page = _page()
    for index, name in enumerate(COMMANDS, 1):
        path = os.path.join(TREE, _slug(index, name), 'trace.json')
        with open(path, encoding='utf-8') as handle:
            trace = json.load(handle)
        global_id = trace['global_request_id']
        assert trace['mode'] == 'events', name
        stack = list(trace['hops'])
        while stack:
            hop = stack.pop()
            assert hop['global_request_id'] == global_id, name
            stack.extend(hop['children'])
        assert ('global-reqid-trace %s ' % global_id) in page, name


def test_no_secret_in_the_generated_tree():
    """No fernet token, password value, unmasked token header or temp dir."""
    checked = 0
    for path, text in _generated():
        checked += 1
        assert not FERNET.search(text), path
        assert not PASSWORD.search(text), path
        assert not TEMP_DIR.search(text), path
        for value in TOKEN_ROW.findall(text):
            assert MASKED.fullmatch(value), path
    assert checked == 1 + len(FILES) * len(COMMANDS)


def test_secret_patterns_find_what_they_must():
    """The patterns above match a token, a password and a raw header."""
    assert FERNET.search('X-Auth-Token: gAAAAABpZ1c2VxampleTokenValue123')
    assert PASSWORD.search('OS_PASSWORD=hunter2')
    assert PASSWORD.search('{"password": "hunter2"}')
    assert not PASSWORD.search('{"password": "***"}')
    assert not PASSWORD.search('(``OS_PASSWORD``, …)')
    assert TOKEN_ROW.findall('| `X-Subject-Token` | `abc` |') == ['abc']


def test_generator_refuses_secrets():
    """find_secrets names the file and kind, never the secret itself."""
    script = load_script()
    tmp = os.path.join(os.sep, 'scratch', 'image-service-doc-abc123')
    trace = json.dumps({'hops': [{'request': {'headers': {
        'X-Subject-Token': 'plain-token-value'}}}]})
    problems = script.find_secrets({
        'a/trace.txt': 'token gAAAAABsecretTokenValueNeverShown0123',
        'a/body.md': 'the password s3cret-pass was sent',
        'a/trace.json': trace,
        'a/diagram.md': 'read %s/cloud/logs' % tmp,
        'b/trace.txt': 'nothing here, {SHA256}%s' % ('0' * 64),
    }, ['s3cret-pass'], tmp)
    assert problems == ['a/body.md: password #1 of the cloud',
                        'a/diagram.md: the temporary directory',
                        'a/trace.json: an unmasked X-Subject-Token',
                        'a/trace.txt: a fernet token']
    assert not any('s3cret' in problem or 'gAAAA' in problem
                   for problem in problems)


def test_generator_replaces_the_temporary_directory():
    """scrub puts $DIR where the run's temporary directory was."""
    script = load_script()
    assert script.scrub('/scratch/x1/cloud/events and /scratch/x1/work',
                        '/scratch/x1') == '$DIR/cloud/events and $DIR/work'


@pytest.mark.skipif(
    not (shutil.which('node')
         and os.path.isdir(os.path.join(JS, 'node_modules', 'mermaid'))),
    reason='node and tools/js/node_modules (tools/install-js-deps.sh) '
           'are needed to run the real mermaid parser')
def test_every_diagram_parses_as_mermaid(tmp_path):
    """The real mermaid parser accepts every checked-in diagram.md."""
    paths = []
    for index, name in enumerate(COMMANDS, 1):
        path = os.path.join(TREE, _slug(index, name), 'diagram.md')
        with open(path, encoding='utf-8') as handle:
            text = handle.read()
        assert text.startswith('```mermaid\n') and text.endswith('```\n')
        source = tmp_path / ('%02d.mmd' % index)
        source.write_text(text[len('```mermaid\n'):-len('```\n')])
        paths.append(str(source))
    check = subprocess.run(
        ['node', os.path.join(JS, 'mermaid-parse.mjs')] + paths,
        capture_output=True, text=True, timeout=120, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
