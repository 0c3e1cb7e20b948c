"""tether's web layer: the Flask app factory and the webhook receivers plugins contribute."""

from .app import create_app

__all__ = ["create_app"]
