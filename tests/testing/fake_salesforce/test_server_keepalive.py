"""The HTTPS fake org keeps connections alive as Salesforce does, and a body the app does
not read never leaks into the next request on the connection."""

from __future__ import annotations


def _counting_accepts(server) -> list[int]:
    accepted: list[int] = []
    original = server._server.get_request

    def get_request():
        accepted.append(1)
        return original()

    server._server.get_request = get_request
    return accepted


def test_calls_share_one_connection(fake_org_server):
    accepted = _counting_accepts(fake_org_server)
    sf = fake_org_server.client()
    sf.Account.create({"Name": "Kept Alive Ltd"})
    for _ in range(5):
        assert sf.query("SELECT Id, Name FROM Account")["totalSize"] == 1
    assert len(accepted) == 1


def test_an_unread_body_is_drained_before_the_next_request(fake_org_server):
    accepted = _counting_accepts(fake_org_server)
    session = fake_org_server.requests_session()
    base = fake_org_server.instance_url
    refused = session.post(f"{base}/no/such/endpoint", data=b"x" * 200_000, headers={"Content-Type": "text/plain"})
    assert refused.status_code == 404 and refused.headers.get("Connection", "").lower() != "close"
    versions = session.get(f"{base}/services/data/")
    assert versions.status_code == 200 and isinstance(versions.json(), list)
    assert len(accepted) == 1
