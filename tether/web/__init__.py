"""tether's web pages: Renewal Center, Company and Relationship 360, Admin.

Served by the same Flask app as the API (``tether.webhooks.create_app`` calls
:func:`install`), built on the API's own endpoints and roles; see docs/web.md.
"""

from .pages import install
from .pages_signin import issue_signin_link, signin_url

__all__ = ["install", "issue_signin_link", "signin_url"]
