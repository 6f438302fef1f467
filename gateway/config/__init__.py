"""Configuration: ``gateway.yaml`` -> typed :mod:`gateway.config.model` objects -> QuickFIX settings.

    from gateway.config import load_config, render_quickfix_settings, session_settings
    config = load_config("config/gateway.yaml")        # raises ConfigError (file, line, key)
    text = render_quickfix_settings(config)            # QuickFIX SessionSettings text
    settings = session_settings(config)                # quickfix.SessionSettings (imports quickfix)
"""

from gateway.config.dictionaries import DictionaryPaths, locate_dictionaries
from gateway.config.errors import ConfigError, DictionaryNotFound
from gateway.config.loader import load_config, load_config_text
from gateway.config.model import GatewayConfig, SessionConfig
from gateway.config.quickfix_settings import (
    build_session_settings,
    render_quickfix_settings,
    session_settings,
)

__all__ = [
    "ConfigError",
    "DictionaryNotFound",
    "DictionaryPaths",
    "GatewayConfig",
    "SessionConfig",
    "build_session_settings",
    "load_config",
    "load_config_text",
    "locate_dictionaries",
    "render_quickfix_settings",
    "session_settings",
]
