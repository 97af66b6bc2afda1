"""footfall.toml: defaults, file values, environment overrides, clear errors."""

from __future__ import annotations

import re

import pytest

from pipelines.config import ConfigError, Settings, load_settings
from rtl_parser.fields import DEFAULT_REALTIME_FIELDS


def test_defaults_match_the_contract(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert s == Settings()
    assert s.lake.root == "./lake" and s.engine == "duckdb"
    assert s.rtl.fields == DEFAULT_REALTIME_FIELDS and len(s.rtl.fields) == 46
    assert s.identity.visitor_header == "x-visitor-id"
    assert s.identity.hash_key_env == "FOOTFALL_HASH_KEY"
    assert (s.sessions.timeout_minutes, s.sessions.max_hours) == (30, 24)
    assert (s.presence.window_minutes, s.presence.step_minutes) == (5, 1)
    assert s.page_views.source == "auto" and s.late.lookback_hours == 48
    assert (s.retention.landing, s.retention.quarantine, s.retention.silver) == (7, 7, 400)
    assert s.funnels and s.funnels[0].steps


def test_file_then_environment_then_flag(tmp_path, monkeypatch):
    cfg = tmp_path / "footfall.toml"
    cfg.write_text('engine = "athena"\n[lake]\nroot = "s3://b/p"\n[sessions]\ntimeout_minutes = 20\n'
                   '[rtl]\nfields = ["timestamp", "c-ip", "sc-status"]\n'
                   '[[funnels]]\nname = "buy"\nsteps = [{path = "/cart"}, {event_type = "form_submit", props = {form = "checkout"}}]\n')
    monkeypatch.setenv("FOOTFALL_SESSIONS_TIMEOUT_MINUTES", "45")
    s = load_settings(cfg)
    assert s.engine == "athena" and s.lake.root == "s3://b/p"
    assert s.sessions.timeout_minutes == 45
    assert s.rtl.fields == ("timestamp", "c-ip", "sc-status")
    assert s.funnels[0].name == "buy" and s.funnels[0].steps[1].props == {"form": "checkout"}
    assert load_settings(cfg, lake="/tmp/other").lake.root == "/tmp/other"
    monkeypatch.setenv("FOOTFALL_CONFIG", str(cfg))
    assert load_settings().engine == "athena"


@pytest.mark.parametrize(("text", "message"), [
    ("[sesions]\ntimeout_minutes = 3\n", "unknown section(s) sesions"),
    ("[sessions]\ntimeout = 3\n", "unknown key(s) timeout in [sessions]"),
    ("[sessions]\ntimeout_minutes = 'soon'\n", "sessions.timeout_minutes must be a whole number"),
    ('engine = "spark"\n', "engine must be 'duckdb' or 'athena'"),
    ('[rtl]\nfields = ["timestamp", "c_ip"]\n', "unknown real-time log field(s) c_ip"),
    ("[lake\nroot=1", "is not valid TOML"),
    ("[ingest]\nwave_bytes = 0\n", "ingest.wave_bytes must be at least 1, got 0"),
    ("[build]\nbatch_bytes = 0\n", "build.batch_bytes must be at least 1, got 0"),
    ("[build]\nmemory_limit = 'lots'\n", "build.memory_limit must be a size like 1GB or 512MB, got 'lots'"),
    ("[standard]\nfield_delimiter = ''\n", "standard.field_delimiter must be one to five characters"),
    ("[standard]\nfield_delimiter = '||||||'\n", "standard.field_delimiter must be one to five characters"),
    ('[standard]\nfield_delimiter = "\\n"\n', "none of them a line break, '#', a quote or a backslash, got '\\n'"),
    ('[[funnels]]\nname = "long"\nwindow_minutes = 10080\nsteps = [{path = "/"}]\n',
     "funnel 'long' is malformed: window_minutes must be 1 to 5760 (four days), got 10080"),
])
def test_mistakes_are_one_clear_error(tmp_path, text, message):
    cfg = tmp_path / "footfall.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(cfg)


def test_the_standard_log_delimiter_may_be_written_as_backslash_t(tmp_path, monkeypatch):
    """An environment variable cannot easily hold a tab: `\\t` stands for one; a space
    (v2's other common choice) is kept as it is; the default is a tab."""
    assert load_settings().standard.field_delimiter == "\t"
    monkeypatch.setenv("FOOTFALL_STANDARD_FIELD_DELIMITER", "\\t")
    assert load_settings().standard.field_delimiter == "\t"
    cfg = tmp_path / "footfall.toml"
    cfg.write_text('[standard]\nfield_delimiter = " "\nfields = ["date", "time", "cs-uri-stem"]\n')
    monkeypatch.delenv("FOOTFALL_STANDARD_FIELD_DELIMITER")
    loaded = load_settings(cfg).standard
    assert loaded.field_delimiter == " " and loaded.fields == ("date", "time", "cs-uri-stem")
