"""Reading and writing 12-lead ECG files: WFDB pairs and CSVs of leads, and what an upload is."""

from __future__ import annotations

import os
import tempfile
import warnings

import numpy as np
import pytest

from countycare.core.errors import InvalidInput
from countycare.diagnostics import ecg
from countycare.diagnostics.models import AcquisitionKind
from countycare.diagnostics.services import UploadedFile


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.fixture(scope="module")
def rec():
    return ecg.simulate(heart_rate=72, seed=3)


def _wfdb(rec, name="rec1", **kwargs) -> tuple[bytes, bytes]:
    import wfdb

    with tempfile.TemporaryDirectory() as tmp:
        n = len(rec.lead_names)
        wfdb.wrsamp(name, fs=rec.sample_rate, units=kwargs.pop("units", ["mV"] * n),
                    sig_name=kwargs.pop("sig_name", list(rec.lead_names)),
                    p_signal=kwargs.pop("p_signal", rec.signals), write_dir=tmp, **kwargs)
        with open(os.path.join(tmp, name + ".hea"), "rb") as fh:
            header = fh.read()
        with open(os.path.join(tmp, name + ".dat"), "rb") as fh:
            data = fh.read()
    return header, data


# --- WFDB ----------------------------------------------------------------------------------------------------

def test_wfdb_round_trip(rec):
    header, data = ecg.write_wfdb(rec, "ECG-0001")
    assert header.startswith(b"ECG-0001 12 500 5000")
    assert b"1000.0(0)/mV" in header and b"ECG-0001.dat 16" in header
    assert len(data) == 5000 * 12 * 2
    back = ecg.read_wfdb(header, data)
    assert back.sample_rate == 500 and back.lead_names == list(ecg.LEADS)
    assert np.abs(back.signals - rec.signals).max() <= 0.0006  # 1 µV steps
    assert ecg.analyse(back).heart_rate == pytest.approx(72, abs=5)


def test_wfdb_other_formats_units_and_orders(rec):
    # format 212, µV, leads in another order with other spellings
    order = [6, 7, 8, 9, 10, 11, 0, 1, 2, 3, 4, 5]
    names = ["v1", "v2", "v3", "v4", "v5", "v6", "I", "II", "III", "AVR", "AVL", "AVF"]
    header, data = _wfdb(rec, p_signal=rec.signals[:, order] * 1000, units=["uV"] * 12, sig_name=names,
                         fmt=["212"] * 12)
    back = ecg.read_wfdb(header, data)
    assert back.lead_names == list(ecg.LEADS)
    np.testing.assert_allclose(back.signals, rec.signals, atol=0.01)


def test_wfdb_eight_independent_leads_derive_the_rest(rec):
    keep = [ecg.LEADS.index(n) for n in ecg.INDEPENDENT_LEADS]
    header, data = _wfdb(rec, p_signal=rec.signals[:, keep], sig_name=list(ecg.INDEPENDENT_LEADS), units=["mV"] * 8)
    back = ecg.read_wfdb(header, data)
    np.testing.assert_allclose(back.lead("aVF"), back.lead("II") - back.lead("I") / 2, atol=1e-9)
    np.testing.assert_allclose(back.lead("III"), rec.lead("III"), atol=0.01)


@pytest.mark.parametrize("case", ["garbage", "truncated", "empty-data", "path", "missing-leads", "low-rate",
                                  "too-short", "too-long", "not-ascii", "multi-file", "not-voltage"])
def test_wfdb_refused(rec, case):
    header, data = ecg.write_wfdb(rec, "r1")
    if case == "garbage":
        header = b"this is not a header\n"
    elif case == "truncated":
        data = data[: len(data) // 3]
    elif case == "empty-data":
        data = b""
    elif case == "path":
        header = header.replace(b"r1.dat", b"../../etc/x.dat")
    elif case == "missing-leads":
        header, data = _wfdb(rec, p_signal=rec.signals[:, :3], sig_name=["I", "II", "III"], units=["mV"] * 3)
    elif case == "low-rate":
        header = header.replace(b"r1 12 500 5000", b"r1 12 50 5000")
    elif case == "too-short":
        short = ecg.Recording(500, list(ecg.LEADS), rec.signals[:500])
        header, data = ecg.write_wfdb(short, "r1")
    elif case == "too-long":
        header, data = ecg.write_wfdb(ecg.Recording(100, list(ecg.LEADS), np.tile(rec.signals[:5000:5], (7, 1))), "r1")
    elif case == "not-ascii":
        header = header.replace(b"aVR", "导联".encode())
    elif case == "multi-file":
        header = header.replace(b"r1.dat 16 1000.0(0)/mV 16 0", b"r2.dat 16 1000.0(0)/mV 16 0", 1)
    elif case == "not-voltage":
        header = header.replace(b"/mV", b"/mmHg")
    with pytest.raises(InvalidInput) as err:
        ecg.read_wfdb(header, data)
    zh, en = err.value.message.split(" / ", 1)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh) and en
    assert err.value.status == 422


def test_wfdb_missing_leads_are_named(rec):
    header, data = _wfdb(rec, p_signal=rec.signals[:, :6], sig_name=list(ecg.LEADS[:6]), units=["mV"] * 6)
    with pytest.raises(InvalidInput) as err:
        ecg.read_wfdb(header, data)
    assert "V1" in err.value.message and err.value.detail["missing"] == ["V1", "V2", "V3", "V4", "V5", "V6"]


# --- CSV -----------------------------------------------------------------------------------------------------

def test_csv_round_trip(rec):
    back = ecg.read_csv(ecg.to_csv(rec))
    assert back.sample_rate == 500 and back.lead_names == list(ecg.LEADS)
    np.testing.assert_allclose(back.signals, rec.signals, atol=1e-4)


def _csv(rec, header: list[str], columns: list[np.ndarray], sep=",", comment="") -> bytes:
    lines = [comment] if comment else []
    lines.append(sep.join(header))
    for row in np.column_stack(columns):
        lines.append(sep.join(f"{v:.5f}" for v in row))
    return ("\n".join(lines) + "\n").encode()


def test_csv_variants(rec):
    leads = [rec.lead(n) for n in ecg.LEADS]
    t_ms = np.arange(5000) * 2.0
    lower = [n.lower() for n in ecg.LEADS]
    # time in milliseconds told by its spacing, lower-case names, semicolons
    back = ecg.read_csv(_csv(rec, ["Time", *lower], [t_ms, *leads], sep=";"))
    assert back.sample_rate == 500
    np.testing.assert_allclose(back.signals, rec.signals, atol=1e-4)
    # a named time column in ms, tabs, upper-case aVR
    upper = [n.upper() for n in ecg.LEADS]
    assert ecg.read_csv(_csv(rec, ["time_ms", *upper], [t_ms, *leads], sep="\t")).sample_rate == 500
    # no time column: the argument, or a comment line
    plain = _csv(rec, list(ecg.LEADS), leads)
    assert ecg.read_csv(plain, sample_rate=500).sample_rate == 500
    assert ecg.read_csv(_csv(rec, list(ecg.LEADS), leads, comment="# device X, sample_rate=500 Hz")).sample_rate == 500
    # µV told by the header, and told by the values alone
    micro = [x * 1000 for x in leads]
    back = ecg.read_csv(_csv(rec, [f"{n} (uV)" for n in ecg.LEADS], micro), sample_rate=500)
    np.testing.assert_allclose(back.signals, rec.signals, atol=1e-4)
    back = ecg.read_csv(_csv(rec, list(ecg.LEADS), micro), sample_rate=500)
    np.testing.assert_allclose(back.signals, rec.signals, atol=1e-4)
    # a byte-order mark and CRLF (spreadsheet exports)
    bom = b"\xef\xbb\xbf" + ecg.to_csv(rec).replace(b"\n", b"\r\n")
    assert ecg.read_csv(bom).lead_names == list(ecg.LEADS)


def _bad(rec) -> dict[str, tuple[bytes, int | None]]:
    good = ecg.to_csv(rec).decode()
    lines = good.splitlines()
    leads = [rec.lead(n) for n in ecg.LEADS]
    three = _csv(rec, ["time", "I", "II", "III"], [np.arange(5000) / 500, *leads[:3]])
    text = "\n".join([*lines[:100], lines[100].replace(lines[100].split(",")[3], "abc"), *lines[101:]])
    short = "\n".join(lines[:501])  # 1 s
    ragged = "\n".join([*lines[:50], lines[50] + ",1.0", *lines[51:]])
    uneven = "\n".join([lines[0], *[ln for i, ln in enumerate(lines[1:]) if i % 7]])
    nan = "\n".join([*lines[:10], lines[10].replace(lines[10].split(",")[2], "nan"), *lines[11:]])
    unknown = good.replace("time,I,", "time,Lead-X,", 1)
    duplicate = good.replace(",V6\n", ",V5\n", 1)
    ambiguous = _csv(rec, list(ecg.LEADS), [x * 20 for x in leads])
    return {
        "missing leads": (three, None),
        "text in numbers": (text.encode(), None),
        "too short": (short.encode(), None),
        "ragged row": (ragged.encode(), None),
        "uneven time": (uneven.encode(), None),
        "nan": (nan.encode(), None),
        "unknown column": (unknown.encode(), None),
        "duplicate lead": (duplicate.encode(), None),
        "no sample rate": (_csv(rec, list(ecg.LEADS), leads), None),
        "rates disagree": (good.encode(), 250),
        "ambiguous units": (ambiguous, 500),
        "empty": (b"", None),
        "header only": (("time," + ",".join(ecg.LEADS) + "\n").encode(), None),
        "not utf-8": ("I,II\n".encode("utf-16"), None),
        "binary": (bytes(range(256)) * 10, None),
    }


@pytest.mark.parametrize("case", ["missing leads", "text in numbers", "too short", "ragged row", "uneven time", "nan",
                                  "unknown column", "duplicate lead", "no sample rate", "rates disagree",
                                  "ambiguous units", "empty", "header only", "not utf-8", "binary"])
def test_csv_refused(rec, case):
    content, rate = _bad(rec)[case]
    with pytest.raises(InvalidInput) as err:
        ecg.read_csv(content, sample_rate=rate)
    zh, en = err.value.message.split(" / ", 1)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh) and en


def test_csv_messages_point_at_the_problem(rec):
    bad = _bad(rec)
    with pytest.raises(InvalidInput) as err:
        ecg.read_csv(bad["missing leads"][0])
    assert "V1" in err.value.message and "aVR" not in err.value.detail["missing"]
    with pytest.raises(InvalidInput) as err:
        ecg.read_csv(bad["text in numbers"][0])
    assert "abc" in err.value.message and err.value.detail["line"] == 101


# --- uploads -------------------------------------------------------------------------------------------------

def test_read_upload_chooses(rec):
    header, data = ecg.write_wfdb(rec, "A1")
    pair = [UploadedFile("A1.dat", "application/octet-stream", data), UploadedFile("A1.HEA", "text/plain", header)]
    got, kind = ecg.read_upload(pair)
    assert kind == AcquisitionKind.ECG_WFDB.value and got.sample_rate == 500
    got, kind = ecg.read_upload([UploadedFile("ecg.csv", "text/csv", ecg.to_csv(rec))])
    assert kind == AcquisitionKind.ECG_CSV.value and got.signals.shape == (5000, 12)
    got, kind = ecg.read_upload([UploadedFile("export", "text/csv; charset=utf-8", ecg.to_csv(rec))])
    assert kind == AcquisitionKind.ECG_CSV.value


@pytest.mark.parametrize("names", [[], ["a.hea"], ["a.dat"], ["a.csv", "b.csv"], ["a.hea", "a.dat", "a.csv"],
                                   ["a.png"], ["a.hea", "b.hea"]])
def test_read_upload_refuses_other_sets(rec, names):
    content = {".hea": ecg.write_wfdb(rec, "a")[0], ".dat": ecg.write_wfdb(rec, "a")[1], ".csv": ecg.to_csv(rec),
               ".png": b"\x89PNG"}
    files = [UploadedFile(n, "application/octet-stream", content[os.path.splitext(n)[1]]) for n in names]
    with pytest.raises(InvalidInput) as err:
        ecg.read_upload(files)
    assert "WFDB" in err.value.message and "CSV" in err.value.message


def test_read_upload_passes_on_a_bad_file(rec):
    with pytest.raises(InvalidInput) as err:
        ecg.read_upload([UploadedFile("x.csv", "text/csv", b"I,II\n1,2\n")])
    assert "CSV" in err.value.message
