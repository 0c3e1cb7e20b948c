"""``tether fake-org serve``: run the fake org as an HTTPS server on loopback."""

from __future__ import annotations

import threading

import click

from .clock import FakeClock
from .org import ADMIN_USERNAME, CONSUMER_KEY, CONSUMER_SECRET, DEFAULT_PASSWORD, DEFAULT_TOKEN, FakeOrg

OUTBOUND_FIELDS = ["Name", "AccountId", "StageName", "Amount", "CloseDate", "Probability", "IsClosed", "IsWon",
                   "Type", "OwnerId", "LastModifiedById", "LastModifiedDate", "SystemModstamp"]


@click.group(name="fake-org")
def fake_org() -> None:
    """A fake Salesforce org for demos, local development and benchmarks."""


@fake_org.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on (keep it loopback).")
@click.option("--port", default=8443, show_default=True, type=int, help="Port (0 picks a free one).")
@click.option("--seed", "seed", type=int, default=None, help="Generate a realistic org from this seed.")
@click.option("--seed-file", type=click.Path(exists=True, dir_okay=False), help="JSON/YAML seed file to load.")
@click.option("--accounts", type=int, default=None, help="Accounts to generate (default: opportunities / 8).")
@click.option("--opportunities", type=int, default=None, help="Opportunities to generate (default 1000 with --seed).")
@click.option("--outbound-url", default=None, help="Send Opportunity Outbound Messages to this URL.")
@click.option("--outbound-ca", type=click.Path(exists=True, dir_okay=False), default=None,
              help="CA bundle to verify an https outbound URL against.")
@click.option("--api-limit", type=int, default=15_000, show_default=True, help="Daily API request limit.")
def serve(host: str, port: int, seed: int | None, seed_file: str | None, accounts: int | None,
          opportunities: int | None, outbound_url: str | None, outbound_ca: str | None, api_limit: int) -> None:
    """Serve a fake org over HTTPS until interrupted."""
    from .seed_file import apply_seed, read_seed_file
    from .server import FakeOrgServer
    from .transports import HttpTransport

    org = FakeOrg(clock=FakeClock(realtime=True), api_limit=api_limit, seed=seed or 0)
    if seed is not None or opportunities or accounts:
        summary = org.seed(seed=seed or 0, opportunities=opportunities if opportunities is not None else 1000,
                           accounts=accounts)
        counts = ", ".join(f"{count:,} {name}" for name, count in summary.counts.items())
        click.echo(f"Seeded {counts} in {summary.seconds:.1f}s")
    if seed_file:
        apply_seed(org, read_seed_file(seed_file))
        click.echo(f"Loaded {seed_file}")
    if outbound_url:
        org.outbound.transport = HttpTransport(ca_file=outbound_ca)
        org.add_outbound_rule("opportunity_changes", "Opportunity", OUTBOUND_FIELDS, outbound_url,
                              integration_user_id=org.integration_user_id)
        click.echo(f"Outbound Messages for Opportunity changes → {outbound_url}")
    server = FakeOrgServer(org, host=host, port=port).start()
    click.echo(f"""Fake Salesforce org listening
  instance URL    {server.instance_url}
  CA bundle       {server.ca_bundle_path}
  username        {ADMIN_USERNAME}
  password        {DEFAULT_PASSWORD}
  security token  {DEFAULT_TOKEN}
  consumer key    {CONSUMER_KEY}
  consumer secret {CONSUMER_SECRET}
  login domain    {server.login_domain}   (simple-salesforce domain= for SOAP/OAuth login)

  export REQUESTS_CA_BUNDLE={server.ca_bundle_path}
  python -c "from simple_salesforce import Salesforce; sf = Salesforce(username='{ADMIN_USERNAME}', \\
password='{DEFAULT_PASSWORD}', security_token='{DEFAULT_TOKEN}', domain='{server.login_domain}'); \\
print(sf.query('SELECT COUNT() FROM Opportunity'))"

Press Ctrl-C to stop.""")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        click.echo("Stopping")
    finally:
        server.stop()


def register(cli: click.Group) -> None:
    """Mount the group as ``tether fake-org``."""
    cli.add_command(fake_org)
