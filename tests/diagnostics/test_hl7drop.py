"""`countycare hl7drop DIR`: files of ORU^R01 messages are ingested and moved to done/ or error/ with their
ACKs beside them; dropping a file again stores nothing twice."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from tests.diagnostics.test_hl7_fixtures import good_message, lab_request, set_field

from countycare.diagnostics import lab
from countycare.diagnostics.models import ExamStatus
from countycare.records.models import Observation


def run(directory, *args):
    out, err = StringIO(), StringIO()
    call_command("hl7drop", str(directory), "--no-progress", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def acks(path) -> list[list[str]]:
    """MSA segments of an .ack file."""
    return [s.split("|") for s in path.read_bytes().decode().split("\r") if s.startswith("MSA|")]


@pytest.mark.parametrize("mode", [[], ["--per-message"], ["--batch", "1"]])
def test_files_go_to_done_or_error_with_their_acks(dx, tmp_path, mode):
    requests = [lab_request(dx) for _ in range(3)]
    two = good_message(requests[0], control_id="F1") + good_message(requests[1], control_id="F2")
    (tmp_path / "morning.hl7").write_bytes(two.replace("\r", "\r\n").encode())  # Windows line ends
    bad = set_field(good_message(requests[2], control_id="F3"), "OBX", 6, "mg/dL^^UCUM")
    (tmp_path / "broken.hl7").write_bytes(lab.frame(bad))
    (tmp_path / "notes.txt").write_text("not for us")

    out, err = run(tmp_path, *mode)

    assert "2 messages accepted, 1 refused" in out
    assert (tmp_path / "done" / "morning.hl7").exists() and not (tmp_path / "morning.hl7").exists()
    assert [m[1:3] for m in acks(tmp_path / "done" / "morning.ack")] == [["AA", "F1"], ["AA", "F2"]]
    assert (tmp_path / "error" / "broken.hl7").exists()
    [msa] = acks(tmp_path / "error" / "broken.ack")
    assert msa[1:3] == ["AE", "F3"]
    assert "broken.hl7 #1 (F3): AE 103" in err
    assert (tmp_path / "notes.txt").exists()
    for request, status in zip(requests, [ExamStatus.PUBLISHED, ExamStatus.PUBLISHED, ExamStatus.ACQUIRED],
                               strict=True):
        request.refresh_from_db()
        assert request.status == status
    assert Observation.objects.count() == 8


def test_a_file_dropped_again_stores_nothing_twice(dx, tmp_path):
    request = lab_request(dx)
    message = good_message(request, control_id="AGAIN")
    (tmp_path / "a.hl7").write_text(message, encoding="utf-8")
    run(tmp_path)
    (tmp_path / "a.hl7").write_text(message, encoding="utf-8")
    out, _ = run(tmp_path)
    assert "1 messages accepted, 0 refused" in out
    done = sorted(p.name for p in (tmp_path / "done").iterdir())
    assert len(done) == 4 and "a.hl7" in done and "a.ack" in done  # the second copy under a time-stamped name
    assert Observation.objects.count() == 4


def test_a_partly_bad_file_keeps_its_good_messages(dx, tmp_path):
    good, bad = lab_request(dx), lab_request(dx)
    content = good_message(good, control_id="P1") + set_field(
        good_message(bad, control_id="P2", results=[{"code": "2823-3", "value": Decimal("4")}]), "OBX", 5, "x")
    (tmp_path / "mixed.hl7").write_text(content, encoding="utf-8")
    run(tmp_path)
    assert [m[1] for m in acks(tmp_path / "error" / "mixed.ack")] == ["AA", "AE"]
    good.refresh_from_db()
    bad.refresh_from_db()
    assert (good.status, bad.status) == (ExamStatus.PUBLISHED, ExamStatus.ACQUIRED)


def test_an_empty_file_is_an_error(dx, tmp_path):
    (tmp_path / "empty.hl7").write_text("", encoding="utf-8")
    run(tmp_path)
    [msa] = acks(tmp_path / "error" / "empty.ack")
    assert msa[1] == "AR"


def test_watch_polls_until_the_rounds_are_done(dx, tmp_path):
    (tmp_path / "w.hl7").write_text(good_message(lab_request(dx), control_id="W1"), encoding="utf-8")
    run(tmp_path, "--watch", "--interval", "0", "--settle", "0", "--rounds", "2")
    assert (tmp_path / "done" / "w.hl7").exists()


def test_posting_as_a_user_checks_their_rights(dx, tmp_path):
    (tmp_path / "v.hl7").write_text(good_message(lab_request(dx), control_id="V1"), encoding="utf-8")
    run(tmp_path, "--user", "village_doctor")
    [msa] = acks(tmp_path / "error" / "v.ack")
    assert msa[1] == "AR"
    with pytest.raises(CommandError):
        run(tmp_path, "--user", "nobody")
