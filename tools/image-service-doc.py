#!/usr/bin/env python3
"""Generate the "Tracing the image service" documentation page.

Usage (from the repository root, in an environment with
``functional-requirements.txt`` installed; ``tox -e image-service-doc``
does both)::

    python tools/image-service-doc.py [--output DOC_SOURCE] [--cache DIR]

What it does, in order:

1. starts a real keystone and glance-api on 127.0.0.1 under gunicorn, each
   with the global_reqid filter and the file sink
   (:class:`global_reqid.tests.functional.realcloud.RealCloud`, in a
   temporary directory) and ``capture_bodies = true`` in the filter's
   options, so the dump shows the headers and bodies;
2. runs the ten ``openstack image`` commands of
   ``global_reqid/tests/functional/test_real_image_cli.py`` once each, with
   the ``openstack`` CLI of this Python environment, under
   ``global-reqid-trace record --events DIR --``;
3. stops the services and renders each command's trace with
   ``global-reqid-trace ID --events DIR --logs DIR --output-dir OUT``;
4. replaces the temporary directory in every path with ``$DIR``, checks
   that no password of the cloud, no fernet token and no unmasked
   ``X-Auth-Token`` / ``X-Subject-Token`` / ``X-Service-Token`` value is in
   any file it is about to write, and only then writes
   ``<output>/image-service/<nn>-<slug>/`` (trace.txt, diagram.md, body.md,
   trace.json, trace.html per command) and ``<output>/image-service.rst``.

Exit status: 0 written; 1 when something it needs is not installed, a
command or a trace failed, or a secret was found (then nothing is
written); 2 for bad usage. A run took 35 s (50 s under tox) on two cores
with the prepared databases cached (``$GLOBAL_REQID_CACHE``); preparing
them the first time adds about 20 s.
"""

import argparse
import datetime
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: What stands for the temporary directory in every written path.
PLACEHOLDER = '$DIR'
PAGE = 'image-service.rst'
TREE = 'image-service'
#: What --output-dir writes, in the order the page shows it.
OUTPUT_FILES = ('trace.txt', 'diagram.md', 'body.md', 'trace.json',
                'trace.html')
#: The distributions whose versions the page names.
VERSIONS = ('keystone', 'glance', 'python-openstackclient',
            'keystonemiddleware', 'keystoneauth1', 'gunicorn',
            'global_reqid')
#: What the run imports: the services, the client, and pytest (the
#: command list lives in a functional test module).
NEEDED = ('keystone', 'glance', 'gunicorn', 'openstackclient', 'pytest')
#: Headers whose values are credentials; a trace shows them masked.
TOKEN_HEADERS = ('x-auth-token', 'x-subject-token', 'x-service-token')
#: A keystone fernet token (what X-Auth-Token / X-Subject-Token carry).
FERNET = re.compile(r'gAAAAA[A-Za-z0-9_=-]{20,}')
#: A masked value as the recorder writes it: stars or a hash.
MASKED = re.compile(r'\*+|\{SHA256\}[0-9a-f]+|<[a-z ]+>')
IFRAME_HEIGHT = 640
#: Console lines longer than this are wrapped before an option.
COMMAND_WIDTH = 76
TIMEOUT = 300


class DocError(Exception):
    """A step failed; the message says which."""


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog='image-service-doc',
        description='Run the openstack image commands against a real '
                    'keystone and glance-api and write the "Tracing the '
                    'image service" page from their traces.')
    parser.add_argument('--output', default=os.path.join(REPO, 'doc',
                                                         'source'),
                        help='the Sphinx source directory (default: '
                             'doc/source of this repository)')
    parser.add_argument('--cache', default=None,
                        help='where prepared databases are kept (default: '
                             '$GLOBAL_REQID_CACHE, else '
                             '~/.cache/global-reqid)')
    return parser.parse_args(argv)


def slug(index, name):
    return '%02d-%s' % (index, name.replace(' ', '-'))


def versions():
    found = {}
    for name in VERSIONS:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = 'not installed'
    found['Python'] = sys.version.split()[0]
    return found


def run(command, env=None):
    return subprocess.run(command, env=env, capture_output=True,  # noqa: S603
                          text=True,
                          timeout=TIMEOUT, check=False,
                          stdin=subprocess.DEVNULL)


def run_commands(cloud, work, commands, trace_command, recording):
    """Each command once under record: [(name, argv, global id, stdout)]."""
    env = cloud.client_env(work)
    upload = os.path.join(work, 'upload.raw')
    with open(upload, 'wb') as handle:
        handle.write(bytes(range(256)) * 16)
    from global_reqid.tests.functional import realcloud

    fill = {'file': upload, 'saved': os.path.join(work, 'saved.raw'),
            'project': cloud.ids[realcloud.DEMO_PROJECT], 'image': None}
    openstack = os.path.join(os.path.dirname(sys.executable), 'openstack')
    done = []
    for name, argv, _ in commands:
        command = trace_command() + ['record', '--events', cloud.events,
                                     '--', openstack] + [
            part.format(**fill) for part in argv]
        result = run(command, env)
        match = recording.search(result.stderr)
        if result.returncode != 0 or not match:
            raise DocError('openstack %s failed (%s): %s' % (
                name, result.returncode, result.stderr.strip()[-2000:]))
        if name == 'create':
            fill['image'] = result.stdout.strip()
        shown = ['global-reqid-trace', 'record', '--events', cloud.events,
                 '--', 'openstack'] + command[len(command) - len(argv):]
        done.append((name, shown, match[1], result.stdout))
        sys.stderr.write('openstack %s: %s\n' % (name, match[1]))
    return done


def render_traces(cloud, done, out_root, trace_command):
    """--output-dir for each command: {slug: (trace command, directory)}."""
    rendered = {}
    for index, (name, _, global_id, _) in enumerate(done, 1):
        directory = os.path.join(out_root, slug(index, name))
        command = [global_id, '--events', cloud.events, '--logs',
                   cloud.logs, '--output-dir', directory]
        result = run(trace_command() + command)
        if result.returncode != 0:
            raise DocError('trace of %s failed: %s' % (
                name, result.stderr.strip()[-2000:]))
        shown = ['global-reqid-trace'] + command[:-1] + [
            '%s/%s' % (TREE, slug(index, name))]
        rendered[slug(index, name)] = (shown, directory)
    return rendered


def read_tree(rendered):
    """{relative path: text} of every file --output-dir wrote."""
    files = {}
    for name, (_, directory) in sorted(rendered.items()):
        written = sorted(os.listdir(directory))
        if written != sorted(OUTPUT_FILES):
            raise DocError('%s: --output-dir wrote %s' % (name, written))
        for file_name in OUTPUT_FILES:
            with open(os.path.join(directory, file_name),
                      encoding='utf-8') as handle:
                files['%s/%s/%s' % (TREE, name, file_name)] = handle.read()
    return files


def scrub(text, tmp):
    """The text with the temporary directory replaced by PLACEHOLDER."""
    return text.replace(tmp, PLACEHOLDER)


def _token_headers(node):
    """Every (name, value) of a token header anywhere in a JSON trace."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key.lower() in TOKEN_HEADERS and isinstance(value, str):
                yield key, value
            else:
                yield from _token_headers(value)
    elif isinstance(node, list):
        for item in node:
            yield from _token_headers(item)


def find_secrets(files, secrets, tmp):
    """Problems, one line each, with the files about to be written.

    Never the secret itself: where it is, and what kind.
    """
    problems = []
    marker = os.path.basename(tmp.rstrip('/'))
    for path, text in sorted(files.items()):
        for number, secret in enumerate(secrets):
            if secret and secret in text:
                problems.append('%s: password #%d of the cloud' % (
                    path, number + 1))
        if FERNET.search(text):
            problems.append('%s: a fernet token' % path)
        if marker in text:
            problems.append('%s: the temporary directory' % path)
        if path.endswith('.json'):
            for name, value in _token_headers(json.loads(text)):
                if not MASKED.fullmatch(value):
                    problems.append('%s: an unmasked %s' % (path, name))
    return problems


# -- the page ---------------------------------------------------------------

def _title(text, rule):
    return '%s\n%s\n' % (text, rule * len(text))


def _console(lines):
    body = ''.join('   %s\n' % line for text in lines
                   for line in text.split('\n'))
    return '.. code-block:: console\n\n' + body


def _command_line(argv, width=COMMAND_WIDTH):
    """``$ argv`` for a console block, wrapped before options when long."""
    lines, line = [], '$'
    for part in argv:
        word = _quote(part)
        if len(line) + 1 + len(word) > width and part.startswith('-') \
                and line.strip() not in ('$', ''):
            lines.append(line + ' \\')
            line = '   '
        line += ' ' + word
    lines.append(line)
    return '\n'.join(lines)


def _quote(part):
    if re.fullmatch(r'[A-Za-z0-9_./:=$@%+,-]+', part):
        return part
    return "'%s'" % part.replace("'", "'\\''")


def _literal(text):
    return '::\n\n' + ''.join('   %s\n' % line if line else '\n'
                              for line in text.rstrip('\n').split('\n'))


def summarize(trace_json):
    """Hops, calls to glance-api and token validations of a JSON trace."""
    found = {'hops': 0, 'glance_calls': 0, 'validations': 0}
    stack = list(json.loads(trace_json)['hops'])
    while stack:
        hop = stack.pop()
        found['hops'] += 1
        if hop['callee'] == 'glance-api':
            found['glance_calls'] += 1
        if (hop['caller'], hop['callee'], hop['method'], hop['path']) == (
                'glance-api', 'keystone', 'GET', '/v3/auth/tokens'):
            found['validations'] += 1
        stack.extend(hop['children'])
    return found


def render_page(meta, sections):
    """The page's reStructuredText: pure, from what the run produced.

    :param meta: ``versions``, ``date``, ``setup`` (``keystone_conf``,
        ``paste_line``, ``paste_filter``, ``keystone_cmd``, ``glance_cmd``).
    :param sections: per command, in order: ``slug``, ``name``,
        ``global_id``, ``record`` (argv), ``stdout``, ``trace`` (argv), and
        what :func:`summarize` counts.
    """
    out = ['.. This page is generated by tools/image-service-doc.py '
           '(tox -e image-service-doc).\n   Do not edit it by hand: '
           'run the script again.\n\n']
    out.append('=' * 25 + '\nTracing the image service\n' + '=' * 25 + '\n\n')
    out.append(
        'This page follows each ``openstack image`` command through a real '
        'keystone and a real glance-api, as one would document the image '
        'service by hand on devstack: for every command, the text timeline '
        'of its HTTP calls, the sequence diagram, its Mermaid source and the '
        'request/response dump. Nothing here is drawn by hand or edited: '
        'every output below is what ``global-reqid-trace`` wrote for that '
        'run. Ids, ports, times and sizes are that run\'s; the temporary '
        'directory the run used is shown as ``%s``.\n\n' % PLACEHOLDER)
    out.append(_title('How this page was made', '-') + '\n')
    out.append(
        'The page and everything under ``doc/source/%s/`` are written by '
        '``tools/image-service-doc.py``:\n\n' % TREE)
    out.append(_console(['$ tox -e image-service-doc',
                         '$ # or, with functional-requirements.txt '
                         'installed:',
                         '$ python tools/image-service-doc.py']) + '\n')
    out.append(
        'The script starts keystone and glance-api on 127.0.0.1 under '
        'gunicorn (sqlite databases, glance\'s file store, the same set-up '
        'as the functional tests in '
        '``global_reqid/tests/functional/realcloud.py``), runs the ten '
        'commands below once each with the ``openstack`` client of the same '
        'environment, under ``global-reqid-trace record``, stops the '
        'services, and writes each trace with ``global-reqid-trace ID '
        '--events DIR --logs DIR --output-dir OUT``. Before writing, it '
        'checks that no password of the cloud, no keystone token and no '
        'unmasked token header is in any file, and exits 1 writing nothing '
        'if one is.\n\n')
    out.append('This run (%s):\n\n' % meta['date'])
    out.append('.. list-table::\n   :header-rows: 1\n\n'
               '   * - Component\n     - Version\n')
    for name, version in meta['versions'].items():
        out.append('   * - %s\n     - %s\n' % (name, version))
    out.append('\n')

    setup = meta['setup']
    out.append(_title('The filter in keystone and glance-api', '-') + '\n')
    out.append(
        'Both services run the ``global_reqid`` filter in place of oslo\'s '
        '``request_id``, first in their pipelines, with '
        '``instrument_outbound = true`` (so the calls glance-api\'s '
        '``authtoken`` makes to keystone carry the global id and glance-api '
        'as the caller), the file sink (``event_dir``) and, for this page, '
        '``capture_bodies = true``. How to do the same in a deployment: '
        ':doc:`admin/services` (glance and keystone sections) and '
        ':doc:`configuration`.\n\n')
    out.append('keystone has no paste file; it is served by '
               ':mod:`global_reqid.wsgi.keystone`, which reads the '
               '``[global_reqid]`` section of ``keystone.conf``:\n\n')
    out.append(_console([_command_line(setup['keystone_cmd'])]) + '\n')
    out.append('.. code-block:: ini\n\n' + ''.join(
        '   %s\n' % line for line in setup['keystone_conf']) + '\n')
    out.append('glance-api is glance\'s own ``glance.wsgi.api`` with '
               'glance\'s ``glance-api-paste.ini``, in which the filter is '
               'put first in the ``keystone`` pipeline and defined at the '
               'end:\n\n')
    out.append(_console([_command_line(setup['glance_cmd'])]) + '\n')
    out.append('.. code-block:: ini\n\n' + ''.join(
        '   %s\n' % line if line else '\n'
        for line in [setup['paste_line'], ''] + setup['paste_filter'])
        + '\n')
    out.append(
        'Every command is run as ``admin`` of project ``admin`` '
        '(``OS_AUTH_URL``, ``OS_USERNAME``, ``OS_PASSWORD``, … in the '
        'environment, no ``clouds.yaml``). The image is 4096 bytes of raw '
        'data; ``add project`` shares it with project ``demo``.\n\n')

    out.append(_title('The commands', '-') + '\n')
    out.append(
        'What the calls are: every command starts with the client\'s '
        'keystone discovery (``GET /v3``) and a new token (``POST '
        '/v3/auth/tokens``), then glance-api\'s version discovery (``GET '
        '/``, answered ``300``); the commands that name an image look it '
        'up (``GET /v2/images/<id>``) before acting on it, and ``add '
        'project`` / ``remove project`` look the project up in keystone. '
        'The calls glance-api makes to keystone while serving a request '
        '(``authtoken``: version discovery and its own service token the '
        'first time, then ``GET /v3/auth/tokens`` to validate the client\'s '
        'token) are nested under that request, with the same global id. '
        'Tokens appear only as ``{SHA256}`` hashes, so the token keystone '
        'issued (``X-Subject-Token``) can be followed to the requests that '
        'carried it (``X-Auth-Token``) without being shown; passwords in '
        'bodies are ``***``.\n\n')
    out.append(
        'Each command runs under its own global request id. *Hops* counts '
        'every HTTP call of the trace, nested ones included; *validations*'
        ' counts glance-api\'s ``GET /v3/auth/tokens`` to '
        'keystone (``authtoken`` validates a token it has not seen, then '
        'keeps it in its cache for the next calls).\n\n')
    out.append('.. list-table::\n   :header-rows: 1\n   :widths: auto\n\n'
               '   * - ``openstack image``\n     - Global request id\n'
               '     - Hops\n     - glance-api calls\n'
               '     - Validations\n')
    for section in sections:
        out.append('   * - %s\n     - ``%s``\n'
                   '     - %d\n     - %d\n     - %d\n' % (
                       section['name'], section['global_id'],
                       section['hops'], section['glance_calls'],
                       section['validations']))
    out.append('\n')
    for index, section in enumerate(sections, 1):
        base = '%s/%s/' % (TREE, section['slug'])
        out.append(_title('%d. openstack image %s' % (index, section['name']),
                          '~') + '\n')
        out.append(_console([_command_line(section['record'])]
                            + section['stdout'].rstrip('\n').split('\n')
                            if section['stdout'].strip() else
                            [_command_line(section['record'])]) + '\n')
        out.append('The trace (%d hops), written by:\n\n' % section['hops'])
        out.append(_console([_command_line(section['trace'])]) + '\n')
        out.append('**Timeline** (``trace.txt``):\n\n')
        out.append('.. literalinclude:: %strace.txt\n   :language: text\n\n'
                   % base)
        out.append('**Sequence diagram** (``trace.html``, '
                   '`open it on its own <%strace.html>`__):\n\n' % base)
        out.append('.. raw:: html\n\n   <iframe src="%strace.html" '
                   'title="trace of openstack image %s" width="100%%" '
                   'height="%d" loading="lazy" style="border:1px solid '
                   '#cbd5e1"></iframe>\n\n'
                   % (base, section['name'], IFRAME_HEIGHT))
        out.append('**Mermaid source** (``diagram.md``):\n\n')
        out.append('.. literalinclude:: %sdiagram.md\n   :language: text\n\n'
                   % base)
        out.append('**Request/response dump** (``body.md``, every hop\'s '
                   'headers, bodies and log lines):\n\n')
        out.append('.. raw:: html\n\n   <details><summary>show the dump'
                   '</summary>\n\n')
        out.append('.. literalinclude:: %sbody.md\n   :language: text\n\n'
                   % base)
        out.append('.. raw:: html\n\n   </details>\n\n')
        out.append('The same trace as JSON: `trace.json <%strace.json>`__.'
                   '\n\n' % base)
    return ''.join(out).rstrip('\n') + '\n'


def describe_setup(cloud, tmp):
    """What the page shows of the services' set-up, from the real files."""
    with open(os.path.join(cloud.etc, 'keystone', 'keystone.conf')) as fh:
        keystone = fh.read()
    section = keystone[keystone.index('[global_reqid]'):].strip()
    with open(os.path.join(cloud.etc, 'glance',
                           'glance-api-paste.ini')) as handle:
        paste = handle.read()
    line = re.search(r'^keystone\s*=.*$', paste, re.MULTILINE)[0]
    filter_section = paste[paste.index('[filter:global_reqid]'):].strip()

    def shown(service):
        argv = list(service.command)
        argv[:3] = ['gunicorn']
        return [scrub(part, tmp) for part in argv]

    return {'keystone_conf': scrub(section, tmp).split('\n'),
            'paste_line': line,
            'paste_filter': scrub(filter_section, tmp).split('\n'),
            'keystone_cmd': ['OS_KEYSTONE_CONFIG_DIR=%s' % scrub(
                os.path.join(cloud.etc, 'keystone'), tmp)] + shown(
                    cloud.keystone),
            'glance_cmd': ['OS_GLANCE_CONFIG_DIR=%s' % scrub(
                os.path.join(cloud.etc, 'glance'), tmp)] + shown(
                    cloud.glance)}


def write(output, files, page):
    """Replace the generated tree and page under output."""
    staging = tempfile.mkdtemp(prefix='.%s-' % TREE, dir=output)
    try:
        for path, text in files.items():
            target = os.path.join(staging, path)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, 'w', encoding='utf-8') as handle:
                handle.write(text)
        tree = os.path.join(output, TREE)
        if os.path.isdir(tree):
            shutil.rmtree(tree)
        os.rename(os.path.join(staging, TREE), tree)
        with open(os.path.join(output, PAGE), 'w', encoding='utf-8') as fh:
            fh.write(page)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def generate(args):
    from global_reqid.tests.functional import realcloud
    from global_reqid.tests.functional import test_real_image_cli as cli

    tmp = tempfile.mkdtemp(prefix='image-service-doc-')
    try:
        work = os.path.join(tmp, 'work')
        os.makedirs(work)
        sys.stderr.write('starting keystone and glance-api in %s\n' % tmp)
        with realcloud.RealCloud(os.path.join(tmp, 'cloud'),
                                 cache=args.cache,
                                 capture_bodies=True) as cloud:
            done = run_commands(cloud, work, cli.COMMANDS,
                                cli.trace_command, cli.RECORDING)
            setup = describe_setup(cloud, tmp)
            secrets = cloud.secrets()
        # The services are stopped: every log line is on disk.
        rendered = render_traces(cloud, done, os.path.join(tmp, 'out'),
                                 cli.trace_command)
        files = {path: scrub(text, tmp)
                 for path, text in read_tree(rendered).items()}
        sections = []
        for index, (name, record, global_id, stdout) in enumerate(done, 1):
            key = slug(index, name)
            section = {
                'slug': key, 'name': name, 'global_id': global_id,
                'record': [scrub(part, tmp) for part in record],
                'stdout': scrub(stdout, tmp),
                'trace': [scrub(part, tmp) for part in rendered[key][0]]}
            section.update(summarize(files['%s/%s/trace.json' % (TREE, key)]))
            sections.append(section)
        meta = {'versions': versions(), 'setup': setup,
                'date': datetime.datetime.now(datetime.timezone.utc)
                .strftime('%Y-%m-%d %H:%M UTC')}
        page = render_page(meta, sections)
        problems = find_secrets(dict(files, **{PAGE: page}), secrets, tmp)
        if problems:
            raise DocError('not written: ' + '; '.join(problems))
        write(args.output, files, page)
        return sections
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None):
    args = parse_args(argv)
    if not os.path.isdir(args.output):
        sys.stderr.write('image-service-doc: error: no directory %s\n'
                         % args.output)
        return 2
    missing = [name for name in NEEDED
               if importlib.util.find_spec(name) is None]
    if missing:
        sys.stderr.write('image-service-doc: error: %s not installed (pip '
                         'install -r functional-requirements.txt -r '
                         'test-requirements.txt, or tox -e '
                         'image-service-doc)\n' % ', '.join(missing))
        return 1
    try:
        sections = generate(args)
    except (DocError, RuntimeError, OSError,
            subprocess.SubprocessError) as exc:
        sys.stderr.write('image-service-doc: error: %s\n'
                         % str(exc).replace('\n', ' '))
        return 1
    for section in sections:
        print('%s: %s, %d hops, %d calls to glance-api, %d token '
              'validations' % (section['slug'], section['global_id'],
                               section['hops'], section['glance_calls'],
                               section['validations']))
    print('wrote %s and %s/' % (os.path.join(args.output, PAGE),
                                os.path.join(args.output, TREE)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
