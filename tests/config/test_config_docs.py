"""config/README.md documents every key the loader accepts, and every model field is one of them."""

from __future__ import annotations

import dataclasses
import re

from config_helpers import CONFIG_DIR

from gateway.config import loader, model, sessions
from gateway.config.schedule import SCHEDULE_KEYS

# Model fields the YAML does not spell out: computed by the loader from other keys.
DERIVED = {"path", "account_aliases", "always_on"}


def _reference_text() -> str:
    text = (CONFIG_DIR / "README.md").read_text(encoding="utf-8")
    start = text.index("## Reference")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def _yaml_keys() -> set[str]:
    return set(loader.TOP_LEVEL_KEYS + loader.GATEWAY_KEYS + loader.ZENITH_KEYS + sessions.SESSION_KEYS
               + sessions.CREDENTIAL_KEYS + sessions.SYMBOLOGY_KEYS + sessions.LIMIT_KEYS
               + sessions.ACCOUNT_KEYS + SCHEDULE_KEYS)


def test_every_config_key_is_documented_in_the_reference() -> None:
    reference = _reference_text()
    words = set(re.findall(r"[a-z_]+", reference))
    missing = sorted(k for k in _yaml_keys() if k not in words)
    assert not missing, f"config/README.md '## Reference' does not document: {missing}"


def test_every_model_field_is_a_yaml_key() -> None:
    keys = _yaml_keys()
    classes = (model.GatewaySettings, model.ZenithSettings, model.SessionConfig, model.Schedule,
               model.Credentials, model.Symbology, model.Limits, model.GatewayConfig)
    stray = sorted(f"{c.__name__}.{f.name}" for c in classes for f in dataclasses.fields(c)
                   if f.name not in keys and f.name not in DERIVED)
    assert not stray, f"model fields no YAML key sets (add them to the loader and the README): {stray}"


def test_listen_host_docs_agree_with_the_rendered_settings(tmp_path) -> None:   # type: ignore[no-untyped-def]
    """Loopback listen_host -> AllowedRemoteAddresses=127.0.0.1 (what README.md says); any other
    specific address is not enforced by QuickFIX (what config/README.md must say, not 'not passed')."""
    from config_helpers import SESSION, load_ok

    from gateway.config import render_quickfix_settings
    from gateway.config.dictionaries import DictionaryPaths

    loopback = render_quickfix_settings(load_ok(tmp_path, "sessions:\n" + SESSION),
                                        dictionaries=DictionaryPaths(tmp_path))
    assert "AllowedRemoteAddresses=127.0.0.1" in loopback
    other = render_quickfix_settings(
        load_ok(tmp_path, "gateway: {listen_host: 10.1.2.3}\nsessions:\n" + SESSION),
        dictionaries=DictionaryPaths(tmp_path))
    assert "AllowedRemoteAddresses" not in other
    config_readme = (CONFIG_DIR / "README.md").read_text(encoding="utf-8")
    readme = (CONFIG_DIR.parent / "README.md").read_text(encoding="utf-8")
    for text in (config_readme, readme):
        assert "AllowedRemoteAddresses" in text
    assert "is not passed to QuickFIX" not in config_readme
    assert "firewall" in config_readme   # other addresses: enforce outside QuickFIX
