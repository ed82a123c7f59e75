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

"""The configuration files of the real cloud's services, as ini text.

``ctx`` is what the control plane knows once it runs: URLs, the message
bus, database URLs, the service users' password.
"""

import configparser
import io

from xloud_migration_cloud.real import layout


def ini(sections):
    """``{section: {option: value}}`` as ini text."""
    parser = configparser.RawConfigParser()
    parser.optionxform = str
    for name, options in sections.items():
        if name != 'DEFAULT':
            parser.add_section(name)
        for key, value in options.items():
            if isinstance(value, bool):
                value = 'true' if value else 'false'
            parser.set(name, key, str(value))
    out = io.StringIO()
    parser.write(out)
    return out.getvalue()


def service_auth(ctx, user):
    """keystoneauth options of service user ``user``."""
    return {
        'auth_type': 'password',
        'auth_url': ctx['keystone_url'],
        'username': user,
        'password': ctx['service_password'],
        'project_name': 'service',
        'user_domain_name': 'Default',
        'project_domain_name': 'Default',
        'region_name': 'RegionOne',
    }


def authtoken(ctx, user):
    return dict(service_auth(ctx, user),
                www_authenticate_uri=ctx['keystone_url'],
                service_token_roles_required=True)


def keystone(ctx, workdir):
    return {
        'DEFAULT': {'use_stderr': True},
        'database': {'connection': ctx['db']['keystone']},
        # A throwaway cloud: cheap password hashing keeps tokens fast.
        'identity': {'password_hash_rounds': 4},
        'token': {'provider': 'fernet'},
        'fernet_tokens': {'key_repository': workdir + '/fernet-keys'},
        'fernet_receipts': {'key_repository': workdir + '/fernet-keys'},
        'credential': {'key_repository': workdir + '/credential-keys'},
    }


def placement(ctx):
    return {
        'DEFAULT': {'use_stderr': True},
        'placement_database': {'connection': ctx['db']['placement']},
        'api': {'auth_strategy': 'keystone'},
        'keystone_authtoken': authtoken(ctx, 'placement'),
    }


def glance(ctx, workdir, paste_ini):
    return {
        'DEFAULT': {'use_stderr': True, 'enabled_backends': 'fs:file'},
        'database': {'connection': ctx['db']['glance']},
        'glance_store': {'default_backend': 'fs'},
        'fs': {'filesystem_store_datadir': workdir + '/images'},
        'os_glance_staging_store': {
            'filesystem_store_datadir': workdir + '/staging'},
        'os_glance_tasks_store': {
            'filesystem_store_datadir': workdir + '/tasks'},
        'oslo_concurrency': {'lock_path': workdir + '/locks'},
        'paste_deploy': {'flavor': 'keystone', 'config_file': paste_ini},
        'keystone_authtoken': authtoken(ctx, 'glance'),
    }


def _nova_common(ctx):
    return {
        'DEFAULT': {
            'transport_url': ctx['transport_url'],
            'debug': False,
            'use_stderr': True,
        },
        'placement': service_auth(ctx, 'placement'),
        # The network API is a stub (network_stub): servers boot without
        # ports.
        'neutron': dict(service_auth(ctx, 'neutron'),
                        endpoint_override=ctx['urls']['network']),
        'glance': {'endpoint_override': ctx['urls']['image']},
        # The vTPM secrets: castellan's Barbican key manager, found in the
        # catalog; the Xloud vTPM guard reads them as the requester or as
        # this [service_user] (granted read access by the guard).
        'service_user': dict(service_auth(ctx, 'nova'),
                             send_service_user_token=True),
        'key_manager': {'backend': 'barbican'},
        'barbican': {'auth_endpoint': ctx['keystone_url'],
                     'barbican_region_name': 'RegionOne'},
        'cinder': {'os_region_name': 'RegionOne'},
        'oslo_messaging_notifications': {'driver': 'noop'},
        'vnc': {'enabled': False},
        'spice': {'enabled': False},
    }


def nova_control(ctx, workdir):
    """nova.conf of nova-api, nova-conductor and nova-scheduler."""
    sections = _nova_common(ctx)
    sections['DEFAULT'].update({
        'my_ip': layout.CONTROL_IP, 'host': layout.CONTROL_HOST,
        'state_path': workdir + '/state'})
    sections.update({
        'oslo_concurrency': {'lock_path': workdir + '/locks'},
        'api': {'auth_strategy': 'keystone'},
        'api_database': {'connection': ctx['db']['nova_api']},
        'database': {'connection': ctx['db']['nova']},
        'keystone_authtoken': authtoken(ctx, 'nova'),
        # New computes are mapped to the cell within seconds.
        'scheduler': {'discover_hosts_in_cells_interval': 2, 'workers': 1},
        'wsgi': {'api_paste_config': workdir + '/api-paste.ini'},
        # One worker each: 2 cores for the whole machine.
        'conductor': {'workers': 1},
        'filter_scheduler': {'host_subset_size': 1},
    })
    return sections


def nova_compute(ctx, spec, workdir):
    """nova-cpu.conf of compute host ``spec``; ``workdir`` its real dir."""
    sections = _nova_common(ctx)
    sections['DEFAULT'].update({
        'host': spec.name,
        'my_ip': spec.ip,
        'compute_driver': spec.driver,
        'instances_path': layout.INSTANCES_PATH,
        'state_path': workdir + '/nova/state',
        # No ports: neutron is a stub.
        'vif_plugging_is_fatal': False,
        'vif_plugging_timeout': 0,
        'heal_instance_info_cache_interval': -1,
        # The small host's filesystem holds less than its servers' virtual
        # disks: placement must still let the scheduler pick it, so that
        # the disk preflight (not the scheduler) decides.
        'disk_allocation_ratio': 16.0,
    })
    if spec.name in layout.PREALLOCATING_HOSTS:
        sections['DEFAULT']['preallocate_images'] = 'space'
    sections.update({
        'oslo_concurrency': {'lock_path': workdir + '/nova/locks'},
        'libvirt': {
            'virt_type': 'qemu',
            'connection_uri': 'qemu:///system',
            'live_migration_scheme': 'tcp',
            'live_migration_inbound_addr': spec.ip,
            'cpu_mode': 'custom',
            'cpu_models': layout.LACKING_HOSTS.get(
                spec.name, ((), layout.GUEST_CPU_MODEL))[1],
            'swtpm_enabled': True,
            'swtpm_user': 'root',
            'swtpm_group': 'root',
            # Cold migrations copy disks with rsync over "ssh" (the shim).
            'remote_filesystem_transport': 'rsync',
        },
        # No sudo on the machine: the shim in PATH runs the command itself
        # (nova runs as root here), and privsep starts without rootwrap.
        'workarounds': {'disable_rootwrap': True},
    })
    return sections
