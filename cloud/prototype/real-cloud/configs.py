"""Configuration files of the real cloud's services (ini text)."""

import configparser
import io


def ini(sections):
    """{section: {option: value}} as ini text (values as given)."""
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


def _auth(ctx, user):
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


def nova_common(ctx):
    """What every nova process of the cloud shares."""
    return {
        'DEFAULT': {
            'transport_url': ctx['transport_url'],
            'state_path': ctx['state_path'],
            'debug': False,
            'use_stderr': True,
        },
        'oslo_concurrency': {'lock_path': ctx['lock_path']},
        'placement': _auth(ctx, 'placement'),
        'neutron': dict(_auth(ctx, 'neutron'),
                        endpoint_override=ctx['network_url']),
        'glance': {'endpoint_override': ctx['image_url']},
        'key_manager': {'backend': 'barbican'},
        'barbican': {'barbican_endpoint': ctx['barbican_url'],
                     'auth_endpoint': ctx['keystone_url']},
        'service_user': dict(_auth(ctx, 'nova'), send_service_user_token=True),
        'cinder': {'os_region_name': 'RegionOne'},
        'oslo_messaging_notifications': {'driver': 'noop'},
        'vnc': {'enabled': False},
        'spice': {'enabled': False},
    }


def nova_control(ctx):
    """nova.conf of nova-api, nova-conductor and nova-scheduler."""
    sections = nova_common(ctx)
    sections['DEFAULT'].update({'my_ip': ctx['control_ip'],
                                'host': 'xlc-control'})
    sections.update({
        'api': {'auth_strategy': 'keystone'},
        'api_database': {'connection': ctx['db']['nova_api']},
        'database': {'connection': ctx['db']['nova']},
        'keystone_authtoken': dict(
            _auth(ctx, 'nova'), www_authenticate_uri=ctx['keystone_url'],
            service_token_roles_required=True),
        'scheduler': {'discover_hosts_in_cells_interval': 2},
        'wsgi': {'api_paste_config': ctx['api_paste']},
        'conductor': {'workers': 1},
    })
    return sections


def nova_compute(ctx, host):
    """nova-cpu.conf of one compute host."""
    sections = nova_common(ctx)
    sections['DEFAULT'].update({
        'host': host['name'],
        'my_ip': host['ip'],
        'compute_driver': host['driver'],
        'instances_path': ctx['instances_path'],
        'state_path': host['state_path'],
        # No network: servers boot without ports (neutron is a stub).
        'vif_plugging_is_fatal': False,
        'vif_plugging_timeout': 0,
        'resume_guests_state_on_host_boot': False,
        'heal_instance_info_cache_interval': -1,
    })
    sections['oslo_concurrency']['lock_path'] = host['lock_path']
    sections.update({
        'libvirt': {
            'virt_type': 'qemu',
            'connection_uri': 'qemu:///system',
            'live_migration_scheme': 'tcp',
            'live_migration_inbound_addr': host['ip'],
            'cpu_mode': 'custom',
            'cpu_models': ctx['cpu_model'],
            'swtpm_enabled': True,
            'swtpm_user': 'root',
            'swtpm_group': 'root',
        },
        'compute': {'resource_provider_association_refresh': 60},
        'workarounds': {'disable_rootwrap': True},
        'xloud': ctx.get('xloud', {}),
    })
    return sections
