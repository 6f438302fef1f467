"""Plxtra Zenith simulator: a separate program speaking the Zenith WebSocket protocol (spec §1-§9)."""
