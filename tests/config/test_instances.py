"""``instances:`` / ``instance:`` and ``gateway.store: postgresql://...`` (issue 14)."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest
from config_helpers import CONFIG_DIR, assert_error, load_err, load_ok, write

from gateway.cli import main
from gateway.config.instances import DEFAULT_INSTANCE, INSTANCE_KEYS

STORE = "gateway:\n  store: postgresql://plxtra:${PGPASSWORD}@127.0.0.1:5432/gw\n"
ENV = {"PGPASSWORD": "secret"}


def _sessions(*names: str, extra: dict[str, str] | None = None) -> str:
    out = ["sessions:"]
    for i, name in enumerate(names):
        out += [f"  - name: {name}", "    begin_string: FIX.4.4", "    sender_comp_id: PLXTRA",
                f"    target_comp_id: C{i}", f'    accounts: ["000{i + 1}"]']
        if extra and name in extra:
            out.append(f"    instance: {extra[name]}")
    return "\n".join(out) + "\n"


def test_without_instances_every_session_is_in_the_one_default_set(tmp_path: Path) -> None:
    cfg = load_ok(tmp_path, _sessions("c1", "c2"))
    assert not cfg.instances.declared and cfg.instances.instances == ()
    assert cfg.instances.instance_of("c1") == DEFAULT_INSTANCE
    assert cfg.gateway.store is None   # SQLite at store_path stays the default


def test_instances_as_lists_mappings_and_per_session_keys_agree(tmp_path: Path) -> None:
    text = STORE + "instances:\n  a: [c3, c1]\n  b: {lease_ttl: 4.5}\n  c: {sessions: [c4]}\n" \
        + _sessions("c1", "c2", "c3", "c4", extra={"c2": "b", "c3": "a"})
    cfg = load_ok(tmp_path, text, env=ENV)
    inst = cfg.instances
    assert inst.declared and inst.names == ("a", "b", "c")
    assert inst.get("a").sessions == ("c1", "c3")              # configuration order  # type: ignore[union-attr]
    assert inst.get("a").lease_ttl == 10.0                      # type: ignore[union-attr]
    assert inst.get("b").sessions == ("c2",) and inst.get("b").lease_ttl == 4.5  # type: ignore[union-attr]
    assert [inst.instance_of(s) for s in ("c1", "c2", "c3", "c4")] == ["a", "b", "a", "c"]


def test_per_session_instance_keys_alone_declare_the_instances(tmp_path: Path) -> None:
    cfg = load_ok(tmp_path, STORE + _sessions("c1", "c2", extra={"c1": "x", "c2": "y"}), env=ENV)
    assert cfg.instances.names == ("x", "y")


def test_membership_errors_name_file_line_and_key(tmp_path: Path) -> None:
    text = STORE + "instances:\n  a: [c1, c11]\n  b: [c1]\n  d: []\n" \
        + _sessions("c1", "c2", "c3", extra={"c3": "e"})
    err = load_err(tmp_path, text, env=ENV)
    assert_error(err, "instances.a[1]", 4, "unknown session 'c11'", "did you mean 'c1'")
    assert_error(err, "instances.b[0]", 5, "already in instance 'a'", "exactly one instance")
    assert_error(err, "instances.d", 6, "owns no session")
    assert_error(err, "sessions[2].instance", 23, "unknown instance 'e'", "declared: a, b, d")
    assert_error(err, "sessions[1]", 13, "'c2' is in no instance")


def test_a_session_listed_in_one_instance_cannot_name_another(tmp_path: Path) -> None:
    err = load_err(tmp_path, STORE + "instances:\n  a: [c1]\n  b: {lease_ttl: 5}\n"
                   + _sessions("c1", "c2", extra={"c1": "b", "c2": "b"}), env=ENV)
    assert_error(err, "sessions[0].instance", 12, "says instance 'b' but is listed in instances.a")
    assert len(err.errors) == 1


def test_bad_names_and_lease_ttls_are_refused(tmp_path: Path) -> None:
    text = STORE + "instances:\n  'bad name': [c1]\n  ok: {sessions: [c2], lease_ttl: 0.5, standby: yes}\n" \
        + _sessions("c1", "c2")
    err = load_err(tmp_path, text, env=ENV)
    assert_error(err, "instances.bad name", 4, "letters, digits")
    assert_error(err, "instances.ok.lease_ttl", 5, "between 1 and 3600")
    assert_error(err, "instances.ok.standby", 5, "unknown key")


def test_instances_need_a_postgresql_store(tmp_path: Path) -> None:
    err = load_err(tmp_path, "instances:\n  a: [c1]\n" + _sessions("c1"))
    assert_error(err, "instances", 2, "need gateway.store: postgresql://")


@pytest.mark.parametrize(("value", "fragment"), [
    ("sqlite:///var/x.sqlite", "is not a postgresql://"),
    ("var/gateway.sqlite", "is not a postgresql://"),
    ("postgresql://plxtra@127.0.0.1:5432/", "needs a database name"),
    ("postgresql://:pw@127.0.0.1/gw", "needs a user"),
    ("postgresql://plxtra@127.0.0.1:99999/gw", "invalid port"),
    ("postgresql://plxtra:${NOT_SET}@127.0.0.1/gw", "NOT_SET is not set"),
])
def test_store_urls_are_checked(tmp_path: Path, value: str, fragment: str) -> None:
    err = load_err(tmp_path, f"gateway:\n  store: {value}\n" + _sessions("c1"))
    assert_error(err, "gateway.store", 2, fragment)


def test_a_password_from_the_environment_is_encoded_and_logs_on_to_a_real_server(
        tmp_path: Path, pg_server) -> None:   # type: ignore[no-untyped-def]
    password = "p@ss:w/rd%?#"
    with pg_server.connect(autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS cfg_user")
        conn.execute(f"CREATE ROLE cfg_user LOGIN PASSWORD '{password}'")
    text = (f"gateway:\n  store: postgresql://cfg_user:${{PGPASSWORD}}@127.0.0.1:{pg_server.port}/"
            f"{pg_server.database}?connect_timeout=5\n" + _sessions("c1"))
    store = load_ok(tmp_path, text, env={"PGPASSWORD": password}).gateway.store
    assert store is not None and (store.user, store.port, store.database) == (
        "cfg_user", pg_server.port, pg_server.database)
    assert password not in repr(store) and password not in store.redacted
    with psycopg.connect(store.url) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("cfg_user",)


def test_check_config_shows_the_instances_and_hides_the_password(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", "do-not-print-me")
    path = write(tmp_path, STORE + "instances:\n  a: [c1, c2]\n  b: {sessions: [c3], lease_ttl: 6}\n"
                 + _sessions("c1", "c2", "c3"))
    assert main(["check-config", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "do-not-print-me" not in out + err
    assert "store         PostgreSQL postgresql://plxtra:***@127.0.0.1:5432/gw" in out
    assert "  a: c1, c2 (lease ttl 10s, renewed every 3.33s)" in out
    assert "  b: c3 (lease ttl 6s, renewed every 2s)" in out


def test_the_new_keys_are_documented_in_the_reference() -> None:
    text = (CONFIG_DIR / "README.md").read_text(encoding="utf-8")
    reference = text[text.index("## Reference"):text.index("\n## ", text.index("## Reference") + 1)]
    words = set(re.findall(r"[a-z_]+", reference))
    missing = [k for k in ("store", "instances", "instance", *INSTANCE_KEYS) if k not in words]
    assert not missing, missing


def test_an_instance_from_a_yaml_merge_counts_like_one_written_in_the_session(tmp_path: Path) -> None:
    text = STORE + "x-side-a: &side-a\n  instance: a\n  begin_string: FIX.4.4\n" + """\
sessions:
  - {<<: *side-a, name: c1, sender_comp_id: PLXTRA, target_comp_id: C1, accounts: ["0001"]}
  - {<<: *side-a, name: c2, sender_comp_id: PLXTRA, target_comp_id: C2, accounts: ["0002"], instance: b}
"""
    cfg = load_ok(tmp_path, text, env=ENV)
    assert [(i.name, i.sessions) for i in cfg.instances.instances] == [("a", ("c1",)), ("b", ("c2",))]
