"""Options of the ``[global_reqid]`` group, declared once.

Every option can also be set in the filter's ``api-paste.ini`` section under
the same name; a value there wins over the configuration file.
"""

import copy

from oslo_config import cfg

from global_reqid.events import locations

GROUP = 'global_reqid'

MIDDLEWARE_OPTS = [
    cfg.StrOpt(
        'service_name',
        help='Name of this service in traces and in the caller header sent '
             'on outbound calls, e.g. "glance-api". 1-64 characters of '
             '[A-Za-z0-9._:-]. Default: derived from the api-paste.ini path '
             '(/etc/nova/api-paste.ini gives "nova-api", '
             'glance-api-paste.ini gives "glance-api"), else the oslo.config '
             'program or project name, else the process name.'),
    cfg.ListOpt(
        'compat_headers',
        default=[],
        help='Further response headers that carry the local request id, as '
             'oslo.middleware\'s RequestId compat_headers, e.g. '
             '"x-compute-request-id" for nova. Default: none.'),
    cfg.BoolOpt(
        'instrument_outbound',
        default=False,
        help='Make every outbound HTTP call this service makes while '
             'serving a request carry the request\'s global id and trace '
             'links (hooks keystoneauth1 and requests, reversibly: '
             'global_reqid.client.instrument) and record a "client" event '
             'for it. Default: false.'),
    cfg.StrOpt(
        'downstream_request_id',
        default='local',
        choices=[
            ('local', 'the app sees this request\'s fresh local id in the '
                      'X-OpenStack-Request-ID header (glance copies that '
                      'header into its local id)'),
            ('global', 'the app sees the validated global id there, or no '
                       'header when the inbound one was missing or invalid '
                       '(for an oslo.middleware RequestId subclass further '
                       'down the pipeline, e.g. placement\'s RequestLog)'),
        ],
        help='What the rest of the pipeline sees in the inbound '
             'X-OpenStack-Request-ID header. An invalid inbound value never '
             'reaches it either way. Default: local.'),
]


EVENT_SINKS = ('file', 'log', 'none')
DEFAULT_EVENT_DIR = locations.DEFAULT_EVENT_DIR
EVENT_DIR_ENV = locations.EVENT_DIR_ENV

EVENT_OPTS = [
    cfg.ListOpt(
        'event_sinks',
        default=['file'],
        help='Where sequence events go, a comma list of: "file" (one '
             'JSON-lines file per process in event_dir), "log" (one record '
             'per event on the Python logger "global_reqid.events", shipped '
             'wherever the service\'s logs go), "none" (record nothing; '
             'alone only). Default: file.'),
    cfg.StrOpt(
        'event_dir',
        sample_default=DEFAULT_EVENT_DIR,
        help='Directory of the file sink; each process writes '
             '<service>.<host>.<pid>.jsonl there. Default: '
             '$GLOBAL_REQID_EVENTS when set, else /var/log/global-reqid.'),
    cfg.IntOpt(
        'event_max_bytes',
        default=50 * 1024 * 1024,
        min=0,
        help='Size in bytes at which an event file is rotated; 0 never '
             'rotates. Default: 52428800 (50 MiB).'),
    cfg.IntOpt(
        'event_backup_count',
        default=5,
        min=0,
        help='How many rotated event files are kept per process. '
             'Default: 5.'),
    cfg.BoolOpt(
        'event_compress',
        default=False,
        help='Gzip rotated event files (<file>.1.gz). Default: false.'),
    cfg.IntOpt(
        'event_queue_size',
        default=10000,
        min=1,
        help='Events waiting for the background writer, at most; when the '
             'queue is full events are dropped and counted, never waited '
             'for. Default: 10000.'),
    cfg.BoolOpt(
        'capture_bodies',
        default=False,
        help='Also record request and response headers and bodies, capped '
             'at max_body_bytes, with every secret masked and binary '
             'bodies summarised. Default: false.'),
    cfg.IntOpt(
        'max_body_bytes',
        default=4096,
        min=0,
        help='Bytes of each body kept when capture_bodies is on. '
             'Default: 4096.'),
    cfg.StrOpt(
        'filter_rules',
        help='Path of a JSON or YAML rules file naming calls not to record '
             '(by caller, callee, method and URL template). Re-read when it '
             'changes. Default: none, record everything.'),
]


def all_opts():
    """Every option of the [global_reqid] group (the originals)."""
    return MIDDLEWARE_OPTS + EVENT_OPTS


def list_opts():
    """Return the options for oslo-config-generator (deep copies)."""
    return [(GROUP, copy.deepcopy(all_opts()))]
