"""Logging in with each auth flow the tenant manifest offers, against the fake org."""

from __future__ import annotations

import pytest
import requests
import trustme

from tether.core.errors import PermanentConnectorError
from tether.plugins.salesforce.auth import Authenticator, login_domain
from tether.plugins.salesforce.config import SalesforceSettings
from tether.testing.fake_salesforce.org import (CONSUMER_KEY, CONSUMER_SECRET, DEFAULT_PASSWORD, DEFAULT_TOKEN,
                                                INTEGRATION_USERNAME)

from .fake_org_setup import fake_clock, fake_org  # noqa: F401


def rsa_certificate(name: str):
    """A certificate with an RSA key, as connected apps use for RS256."""
    return trustme.CA().issue_cert(name, key_type=trustme.KeyType.RSA)


def test_a_key_that_cannot_sign_rs256_is_named(fake_org):
    ec_key = trustme.CA().issue_cert("x", key_type=trustme.KeyType.ECDSA).private_key_pem.bytes().decode()
    with pytest.raises(PermanentConnectorError, match="cannot sign an RS256 JWT"):
        _login(fake_org, auth="jwt", username=INTEGRATION_USERNAME, consumer_key=CONSUMER_KEY, private_key=ec_key)


def _login(org, **config):
    settings = SalesforceSettings.from_config({"instance_url": org.instance_url, **config})
    return Authenticator(settings, requests.Session()).login()


def _works(org, session) -> bool:
    return org.auth.validate(session.session_id).user_id == org.integration_user_id


def test_username_password_and_security_token(fake_org):
    session = _login(fake_org, username=INTEGRATION_USERNAME, password=DEFAULT_PASSWORD, security_token=DEFAULT_TOKEN)
    assert _works(fake_org, session) and session.instance_url == fake_org.instance_url
    assert session.session_id not in repr(session)


def test_username_password_through_a_connected_app(fake_org):
    session = _login(fake_org, username=INTEGRATION_USERNAME, password=DEFAULT_PASSWORD, security_token=DEFAULT_TOKEN,
                     consumer_key=CONSUMER_KEY, consumer_secret=CONSUMER_SECRET)
    assert _works(fake_org, session)


def test_jwt_bearer(fake_org):
    certificate = rsa_certificate("tether-integration")
    app = fake_org.add_connected_app("tether-jwt", certificate_pem=certificate.cert_chain_pems[0].bytes())
    session = _login(fake_org, auth="jwt", username=INTEGRATION_USERNAME, consumer_key=app.consumer_key,
                     private_key=certificate.private_key_pem.bytes().decode())
    assert _works(fake_org, session)


def test_jwt_signed_with_the_wrong_key_is_refused(fake_org):
    app = fake_org.add_connected_app("tether-jwt", certificate_pem=rsa_certificate("a").cert_chain_pems[0].bytes())
    other_key = rsa_certificate("b").private_key_pem.bytes().decode()
    with pytest.raises(PermanentConnectorError, match="refused the jwt login: invalid_grant"):
        _login(fake_org, auth="jwt", username=INTEGRATION_USERNAME, consumer_key=app.consumer_key, private_key=other_key)


def test_refresh_token(fake_org):
    token = fake_org.auth.issue_refresh_token(fake_org.integration_user_id, CONSUMER_KEY)
    session = _login(fake_org, auth="refresh_token", consumer_key=CONSUMER_KEY, consumer_secret=CONSUMER_SECRET,
                     refresh_token=token)
    assert _works(fake_org, session)


def test_session_id(fake_org):
    session_id = fake_org.login(fake_org.integration_user_id)
    session = _login(fake_org, auth="session", session_id=session_id)
    assert _works(fake_org, session)
    assert not Authenticator(SalesforceSettings.from_config(
        {"instance_url": fake_org.instance_url, "auth": "session", "session_id": session_id}), requests.Session()).can_refresh


def test_a_wrong_password_is_a_clear_permanent_error(fake_org):
    with pytest.raises(PermanentConnectorError) as refused:
        _login(fake_org, username=INTEGRATION_USERNAME, password="wrong", security_token=DEFAULT_TOKEN)
    assert "login failed" in refused.value.message and "wrong" not in refused.value.message


def test_missing_credentials_are_named():
    with pytest.raises(Exception, match="password: required when auth is 'password'"):
        SalesforceSettings.from_config({"instance_url": "https://x.my.salesforce.com", "username": "u"})


@pytest.mark.parametrize("login_url, domain", [
    ("https://login.salesforce.com", "login"), ("https://test.salesforce.com", "test"),
    ("https://acme.my.salesforce.com", "acme.my"), ("https://127.0.0.1:8443", "127.0.0.1:8443/login"),
])
def test_login_domain(login_url, domain):
    assert login_domain(login_url) == domain
