#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""The [xloud] option group.

Each safeguard declares its options in its own module; this package gathers
them into one group, registers it and lists it for oslo-config-generator
(the oslo.config.opts entry point xloud_nova_ext).
"""

from oslo_config import cfg

from xloud_nova_ext.conf import connection
from xloud_nova_ext.conf import cpu
from xloud_nova_ext.conf import disk
from xloud_nova_ext.conf import vtpm

GROUP = cfg.OptGroup(
    'xloud',
    title='Xloud migration safeguards',
    help="""
Options of the Xloud libvirt driver (``compute_driver =
xloud.XloudLibvirtDriver``): the CPU baseline check, the vTPM secret
transfer through the key manager, the block-migration disk preflight and
the connection pre-check.
Each safeguard refuses a doomed migration before any memory or disk is copied.
""")

ALL_OPTS = cpu.OPTS + vtpm.OPTS + disk.OPTS + connection.OPTS

CONF = cfg.CONF


def register_opts(conf):
    conf.register_group(GROUP)
    conf.register_opts(ALL_OPTS, group=GROUP)


def list_opts():
    return [(GROUP, ALL_OPTS)]


register_opts(CONF)
