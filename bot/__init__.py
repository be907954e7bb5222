"""Switchboard core: settings, customer database, services and command line."""

__version__ = "0.1.0"
