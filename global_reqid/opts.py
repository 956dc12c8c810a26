"""Options of the ``[global_reqid]`` group, declared once.

Every option can also be set in the filter's ``api-paste.ini`` section under
the same name; a value there wins over the configuration file.
"""

import copy

from oslo_config import cfg

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


def list_opts():
    """Return the options for oslo-config-generator (deep copies)."""
    return [(GROUP, copy.deepcopy(MIDDLEWARE_OPTS))]
