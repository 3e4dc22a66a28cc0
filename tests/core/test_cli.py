"""The `countycare` entry point: help lists every command; a fresh data dir gets a clear instruction."""

import subprocess
import sys


def run(*args, data_dir):
    env = {"PATH": "/usr/bin:/bin", "COUNTYCARE_DATA_DIR": str(data_dir), "HOME": str(data_dir)}
    return subprocess.run([sys.executable, "-m", "countycare.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_help_lists_every_countycare_command_with_its_purpose(tmp_path):
    out = run("--help", data_dir=tmp_path).stdout
    for command in ("demo", "createuser", "generate", "loadcodes", "verifyaudit", "migrate"):
        line = next(line for line in out.splitlines() if line.strip().startswith(command + " "))
        assert len(line.split(maxsplit=1)[1]) > 10  # a one-line purpose follows the name


def test_a_command_on_an_unmigrated_database_says_what_to_run(tmp_path):
    result = run("createuser", "--username", "u", "--role", "township_doctor", "--organization", "1",
                 "--password", "Abc-12345-xyz", data_dir=tmp_path)
    assert result.returncode != 0
    assert "countycare migrate" in result.stderr and "Traceback" not in result.stderr
