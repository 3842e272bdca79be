"""Test doubles for external services, served over real sockets."""
