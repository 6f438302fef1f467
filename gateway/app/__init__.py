"""Wiring of the gateway: runtime, services registry, command modules, test helpers."""
