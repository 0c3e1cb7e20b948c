"""Logins the client libraries perform: SOAP login and every OAuth 2.0 grant simple-salesforce uses."""

from __future__ import annotations

import datetime

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from salesforce_bulk import SalesforceBulk
from simple_salesforce import Salesforce, SalesforceLogin
from simple_salesforce.exceptions import SalesforceAuthenticationFailed

from tether.testing.fake_salesforce import FakeClock, FakeOrg, fake_org_responses
from tether.testing.fake_salesforce.org import (ADMIN_USERNAME, CONSUMER_KEY, CONSUMER_SECRET, DEFAULT_PASSWORD,
                                                DEFAULT_TOKEN)


@pytest.fixture(scope="module")
def signing_key():
    """An RSA key and self-signed certificate, as a connected app for JWT bearer is set up."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tether-jwt")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
                   .sign(key, hashes.SHA256()))
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
    return private_pem, certificate.public_bytes(serialization.Encoding.PEM)


def test_soap_login_returns_session_and_instance(fake_org):
    session_id, instance = SalesforceLogin(username=ADMIN_USERNAME, password=DEFAULT_PASSWORD,
                                           security_token=DEFAULT_TOKEN)
    assert instance == "tether-fake.my.salesforce.com"
    assert session_id.startswith(fake_org.org_id[:15] + "!")
    sf = Salesforce(session_id=session_id, instance=instance)
    assert sf.query("SELECT Username FROM User WHERE Username = 'admin@fake-org.tether.test'")["totalSize"] == 1


def test_soap_login_failure_is_a_login_fault(fake_org):
    with pytest.raises(SalesforceAuthenticationFailed) as error:
        SalesforceLogin(username=ADMIN_USERNAME, password="wrong", security_token=DEFAULT_TOKEN)
    assert error.value.code == "INVALID_LOGIN"
    assert error.value.auth_message == "Invalid username, password, security token; or user locked out."


def test_ip_filtered_login_without_token_and_salesforce_bulk_login(fake_org):
    sf = Salesforce(username=ADMIN_USERNAME, password=DEFAULT_PASSWORD, organizationId=fake_org.org_id[:15])
    assert sf.sf_instance == "tether-fake.my.salesforce.com"
    bulk = SalesforceBulk(username=ADMIN_USERNAME, password=DEFAULT_PASSWORD, security_token=DEFAULT_TOKEN,
                          API_version="59.0")
    assert bulk.endpoint == "https://tether-fake.my.salesforce.com/services/async/59.0"


def test_oauth_password_grant(fake_org):
    sf = Salesforce(username=ADMIN_USERNAME, password=DEFAULT_PASSWORD + DEFAULT_TOKEN, consumer_key=CONSUMER_KEY,
                    consumer_secret=CONSUMER_SECRET)
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0
    response = requests.post("https://login.salesforce.com/services/oauth2/token", data={
        "grant_type": "password", "client_id": CONSUMER_KEY, "client_secret": CONSUMER_SECRET,
        "username": ADMIN_USERNAME, "password": DEFAULT_PASSWORD + DEFAULT_TOKEN})
    body = response.json()
    assert set(body) == {"access_token", "instance_url", "id", "token_type", "issued_at", "signature"}
    assert body["instance_url"] == "https://tether-fake.my.salesforce.com" and body["token_type"] == "Bearer"
    assert body["id"] == f"https://login.salesforce.com/id/{fake_org.org_id}/{fake_org.admin_user_id}"
    bad = requests.post("https://login.salesforce.com/services/oauth2/token", data={
        "grant_type": "password", "client_id": CONSUMER_KEY, "client_secret": CONSUMER_SECRET,
        "username": ADMIN_USERNAME, "password": DEFAULT_PASSWORD})
    assert (bad.status_code, bad.json()) == (400, {"error": "invalid_grant", "error_description": "authentication failure"})


def test_jwt_bearer_grant_verifies_the_signature(fake_org, signing_key):
    private_pem, certificate = signing_key
    app = fake_org.add_connected_app("jwt", certificate_pem=certificate)
    sf = Salesforce(username=ADMIN_USERNAME, consumer_key=app.consumer_key, privatekey=private_pem)
    assert sf.sf_instance == "tether-fake.my.salesforce.com"
    assert sf.query("SELECT COUNT() FROM User")["totalSize"] >= 2
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    with pytest.raises(SalesforceAuthenticationFailed) as error:
        Salesforce(username=ADMIN_USERNAME, consumer_key=app.consumer_key, privatekey=other_key)
    assert (error.value.code, error.value.auth_message) == ("invalid_grant", "invalid assertion")


def test_refresh_token_and_client_credentials_grants(fake_org):
    refresh = fake_org.auth.issue_refresh_token(fake_org.integration_user_id, CONSUMER_KEY)
    token = requests.post("https://login.salesforce.com/services/oauth2/token", data={
        "grant_type": "refresh_token", "refresh_token": refresh, "client_id": CONSUMER_KEY,
        "client_secret": CONSUMER_SECRET}).json()
    assert token["id"].endswith(fake_org.integration_user_id) and "refresh_token" not in token
    expired = requests.post("https://login.salesforce.com/services/oauth2/token", data={
        "grant_type": "refresh_token", "refresh_token": "5Aep-unknown", "client_id": CONSUMER_KEY})
    assert expired.json() == {"error": "invalid_grant", "error_description": "expired access/refresh token"}
    app = fake_org.add_connected_app("cc", run_as_user_id=fake_org.integration_user_id)
    sf = Salesforce(consumer_key=app.consumer_key, consumer_secret=app.consumer_secret, domain="tether-fake.my")
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0


def test_sessions_time_out_after_inactivity(fake_org, fake_clock):
    sf = fake_org.client()
    fake_clock.advance(hours=1, minutes=59)
    sf.query("SELECT COUNT() FROM Account")  # activity keeps the session alive
    fake_clock.advance(hours=1, minutes=59)
    sf.query("SELECT COUNT() FROM Account")
    fake_clock.advance(hours=2, seconds=1)
    with pytest.raises(Exception) as error:
        sf.query("SELECT COUNT() FROM Account")
    assert error.value.status == 401


def test_short_session_timeout_setting():
    org = FakeOrg(clock=FakeClock("2024-06-03T09:00:00Z"), session_timeout_seconds=60)
    with fake_org_responses(org):
        sf = org.client()
        org.clock.advance(seconds=61)
        with pytest.raises(Exception) as error:
            sf.query("SELECT COUNT() FROM Account")
        assert error.value.content == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
