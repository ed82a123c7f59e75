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

"""Hostile values of the [xloud] options, read from a configuration file.

Every value either reads back as the option's type within its bounds and
choices, and the vTPM transfer uses it (the transport in force, the timeout
its sessions carry), or is refused by oslo.config with an error that names
the option; never another exception.
"""

import math
import os

import fixtures
from hypothesis import strategies as st
from keystoneauth1 import token_endpoint
from oslo_config import cfg

from xloud_nova_ext import conf as xloud_conf
from xloud_nova_ext.tests.fuzz import base
from xloud_nova_ext.vtpm import keymgr
from xloud_nova_ext.vtpm import transfer

OPTS = {opt.name: opt for opt in xloud_conf.ALL_OPTS}

#: Values an operator might write, and some nobody should.
VALUES = st.one_of(
    st.sampled_from(['auto', 'barbican', 'rpc', 'Barbican', 'true', 'False',
                     'yes', '0', '-1', '0.05', '1e3', 'nan', 'inf', '-inf',
                     '10', '  10  ', '', '$host', '${xloud.foo}', '%(x)s',
                     '"quoted"', "'q'", '0x10', '1_000', '9' * 400]),
    st.integers(min_value=-10 ** 12, max_value=10 ** 12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    # One line: a newline would start another option, tested by name.
    st.text(max_size=60).map(
        lambda s: s.replace('\n', ' ').replace('\r', ' ')))


class _Host(object):
    """nova's Host: the transfer only needs its secret calls here."""

    def find_secret(self, usage_type, usage_id):
        return None


class XloudOptionsTest(base.FuzzTestCase):

    def setUp(self):
        super().setUp()
        self.path = os.path.join(
            self.useFixture(fixtures.TempDir()).path, 'nova.conf')
        self.conf = cfg.ConfigOpts()
        self.conf.register_opt(cfg.StrOpt('host', default='cmp1'))
        xloud_conf.register_opts(self.conf)
        self.guard = transfer.VTPMGuard(_Host(), self.conf)

    def read(self, name, raw, backend):
        with open(self.path, 'w') as f:
            f.write('[key_manager]\nbackend = %s\n[xloud]\n%s = %s\n'
                    % (backend, name, raw))
        self.conf(['--config-file', self.path], project='nova')
        return getattr(self.conf.xloud, name)

    def check(self, case):
        name, raw, backend = case
        opt = OPTS[name]
        try:
            value = self.read(name, raw, backend)
        except (cfg.NoSuchOptError, cfg.TemplateSubstitutionError) as e:
            # '$other' names an option that does not exist: oslo.config
            # names that one.
            self.assertTrue(str(e))
            return
        except cfg.Error as e:
            # A clean refusal: oslo.config's, naming the option.
            self.assertIn(name, str(e))
            return
        self.assert_valid(opt, value)
        self.assert_used(name, value, backend)

    def assert_valid(self, opt, value):
        if value is None or (isinstance(value, float) and
                             math.isnan(value)):
            # Empty, or 'nan' (which oslo.config's bounds let through):
            # what the product does with it is checked in assert_used.
            return
        choices = getattr(opt.type, 'choices', None)
        if choices:
            self.assertIn(value, choices)
        for bound, compare in (('min', self.assertGreaterEqual),
                               ('max', self.assertLessEqual)):
            limit = getattr(opt.type, bound, None)
            if limit is not None:
                compare(value, limit)

    def assert_used(self, name, value, backend):
        if name == 'vtpm_secret_transport':
            barbican = backend in keymgr.BARBICAN_BACKENDS
            auto = 'barbican' if barbican else 'rpc'
            expected = value if value in ('barbican', 'rpc') else auto
            self.assertEqual(expected, self.guard.transport)
        elif name == 'vtpm_key_manager_timeout':
            sess = self.guard._km._bounded(token_endpoint.Token('x', 't'))
            # A number of seconds; 'nan' falls back to the default.
            self.assertTrue(math.isfinite(sess.timeout), sess.timeout)
            if value is not None and math.isfinite(value):
                self.assertEqual(value, sess.timeout)

    def test_option_values(self):
        self.fuzz(st.tuples(st.sampled_from(sorted(OPTS)), VALUES,
                            st.sampled_from(['barbican', 'vault'])),
                  self.check)

    def test_vtpm_option_values(self):
        # The vTPM options get their own 1,000 cases.
        self.fuzz(st.tuples(st.sampled_from(
            ['vtpm_secret_transport', 'vtpm_key_manager_timeout',
             'vtpm_grant_service_user']), VALUES,
            st.sampled_from(['barbican', 'vault', keymgr.BARBICAN_BACKENDS[1],
                             'nova.keymgr.conf_key_mgr.ConfKeyManager'])),
            self.check)
