"""Without COUNTYCARE_SECRET_KEY the key is generated once into the data directory, readable by its owner only,
and never replaced by a second process starting at the same time."""

import os
import stat

from countycare import settings as countycare_settings


def test_the_generated_key_file_is_owner_only_whatever_the_umask(tmp_path, monkeypatch):
    monkeypatch.delenv("COUNTYCARE_SECRET_KEY", raising=False)
    monkeypatch.setattr(countycare_settings, "DATA_DIR", tmp_path)
    previous = os.umask(0)
    try:
        key = countycare_settings._secret_key()
    finally:
        os.umask(previous)
    key_file = tmp_path / "secret_key"
    assert len(key) > 40 and key_file.read_text().strip() == key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]  # no scratch file left behind


def test_an_existing_key_is_kept(tmp_path, monkeypatch):
    monkeypatch.delenv("COUNTYCARE_SECRET_KEY", raising=False)
    monkeypatch.setattr(countycare_settings, "DATA_DIR", tmp_path)
    (tmp_path / "secret_key").write_text("kept-key\n")
    assert countycare_settings._secret_key() == "kept-key"


def test_a_key_written_by_another_process_meanwhile_wins(tmp_path, monkeypatch):
    """The other process links its file in after our existence check: ours is dropped, theirs is read."""
    monkeypatch.delenv("COUNTYCARE_SECRET_KEY", raising=False)
    monkeypatch.setattr(countycare_settings, "DATA_DIR", tmp_path)
    real_link = countycare_settings.os.link

    def racing_link(source, target):
        (tmp_path / "secret_key").write_text("their-key")
        real_link(source, target)

    monkeypatch.setattr(countycare_settings.os, "link", racing_link)
    assert countycare_settings._secret_key() == "their-key"
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]
