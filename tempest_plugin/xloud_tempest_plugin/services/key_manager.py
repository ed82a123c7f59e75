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

"""Read-only client for Barbican secrets (the vTPM scenario's evidence).

Our own, so that the plugin needs barbican-tempest-plugin only for its
``[service_available] barbican`` option, not for its code.
"""

from urllib import parse

from oslo_serialization import jsonutils as json

from tempest.lib.common import rest_client

__all__ = ['SecretsClient']


class SecretsClient(rest_client.RestClient):
    """Barbican /v1/secrets: list and show secret metadata."""

    def list_secrets(self, **params):
        """List the secrets the caller may see, e.g. ``name=...``."""
        url = 'v1/secrets'
        if params:
            url += '?%s' % parse.urlencode(params)
        resp, body = self.get(url)
        self.expected_success(200, resp.status)
        return rest_client.ResponseBody(resp, json.loads(body))

    def read_payload_status(self, secret_uuid):
        """HTTP status of a read of the secret's payload, by this client.

        The payload itself is never read, so never logged: a streamed GET
        (``chunked``) skips tempest's request logging, and the response is
        closed unread; only its status comes back (200 readable, 403 or 404
        refused).
        """
        url, headers, _body = self.auth_provider.auth_request(
            'GET', 'v1/secrets/%s/payload' % secret_uuid,
            headers=dict(self.get_headers(),
                         Accept='application/octet-stream'),
            filters=self.filters)
        resp, _unread = self.raw_request(url, 'GET', headers=headers,
                                         chunked=True)
        try:
            return resp.status
        finally:
            resp.close()

    def show_secret(self, secret_uuid):
        """Metadata of one secret (never its payload)."""
        resp, body = self.get('v1/secrets/%s' % secret_uuid)
        self.expected_success(200, resp.status)
        return rest_client.ResponseBody(resp, json.loads(body))


def secret_uuid(secret):
    """The UUID at the end of a secret's ``secret_ref`` URL."""
    return secret['secret_ref'].rstrip('/').rsplit('/', 1)[-1]
