"""12-lead ECG files, simulation, the computed pre-read and the tracing (docs/ecg-preread.md).

- `read_wfdb` / `read_csv` / `read_upload` turn what a clinic sends into a `Recording` (samples × leads in mV,
  the 12 standard leads in the standard order) or refuse it with `InvalidInput` (422, Chinese then English).
- `write_wfdb` writes a recording as a WFDB pair (format 16, 1 µV per unit).
- `simulate` makes a 12-lead recording of a known rate and rhythm (neurokit2's ECGSYN model).
- `analyse` computes the pre-read (heart rate, RR variation, PR/QRS/QT/QTc, signal quality, flags, an urgency
  score) with neurokit2 on one lead: assistance for the reader, never the report.
- `render_svg` draws the tracing on ECG paper (4×3 leads and a lead II rhythm strip).

neurokit2 and wfdb are imported inside the functions: Django's start-up must not pay their ~2 s import.
"""

from __future__ import annotations

import csv
import functools
import io
import math
import os
import re
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from countycare.core.errors import InvalidInput

if TYPE_CHECKING:  # pragma: no cover
    from .services import UploadedFile

ALGORITHM_VERSION = 1

LEADS: tuple[str, ...] = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
# The eight independent leads: the other four limb leads follow from I and II (Einthoven, Goldberger).
INDEPENDENT_LEADS: tuple[str, ...] = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
_LEAD_BY_KEY = {name.lower(): name for name in LEADS}

MIN_RATE, MAX_RATE = 100, 2000  # Hz
MIN_SECONDS, MAX_SECONDS = 2.0, 60.0
MAX_ABS_MV = 30.0  # beyond this a surface ECG value is not a voltage in mV

RHYTHMS = ("sinus", "af", "brady", "tachy", "wide_qrs", "noisy")

# Pre-read thresholds (docs/ecg-preread.md explains each).
BRADY_BPM, TACHY_BPM = 50.0, 100.0
SEVERE_BRADY_BPM, SEVERE_TACHY_BPM = 40.0, 150.0
AF_RAPID_BPM = 120.0
WIDE_QRS_TACHY_BPM = 120.0
WIDE_QRS_MS = 120
LONG_QTC_MS = 500
IRREGULAR_CV = 0.10  # RR coefficient of variation
IRREGULAR_CV_WITH_P = 0.15  # … or this much when the median beat still shows a P wave (ectopy, not AF)
IRREGULAR_SUCCESSIVE = 0.50  # share of successive RR differences larger than 10 % of the mean RR
POOR_QUALITY = 0.50  # mean of neurokit2's averageQRS quality (0..1)

FLAGS: dict[str, str] = {
    "bradycardia": "心动过缓（心率 < 50 次/分） / Bradycardia (heart rate < 50/min)",
    "severe_bradycardia": "严重心动过缓（心率 < 40 次/分） / Severe bradycardia (heart rate < 40/min)",
    "tachycardia": "心动过速（心率 > 100 次/分） / Tachycardia (heart rate > 100/min)",
    "severe_tachycardia": "严重心动过速（心率 > 150 次/分） / Severe tachycardia (heart rate > 150/min)",
    "irregular": "节律不齐，提示心房颤动可能 / Irregular rhythm, atrial fibrillation suspected",
    "af_rapid": "节律不齐伴快心室率（> 120 次/分） / Irregular rhythm with rapid ventricular rate (> 120/min)",
    "wide_qrs": "QRS 增宽（≥ 120 ms） / Wide QRS (≥ 120 ms)",
    "wide_qrs_tachycardia": "宽 QRS 波心动过速（> 120 次/分），需排除室速 / Wide-QRS tachycardia (> 120/min), "
                            "ventricular tachycardia until shown otherwise",
    "long_qt": "QTc 延长（> 500 ms） / Long QTc (> 500 ms)",
    "poor_signal": "信号质量差，结果不可靠 / Poor signal quality, measurements unreliable",
}
# Flags that may be critical (危急值): they raise the request to stat; the reader confirms or not.
CRITICAL_FLAGS: frozenset[str] = frozenset({"severe_bradycardia", "severe_tachycardia", "af_rapid",
                                            "wide_qrs_tachycardia", "long_qt"})

# Weight of each flag in the urgency score (0..999) that orders the worklist within a priority.
_FLAG_WEIGHTS = {
    "severe_bradycardia": 400, "severe_tachycardia": 400, "af_rapid": 400, "wide_qrs_tachycardia": 400,
    "long_qt": 400,
    "irregular": 150, "wide_qrs": 150, "bradycardia": 100, "tachycardia": 60, "poor_signal": 30,
}


# --- the recording -----------------------------------------------------------------------------------------

@dataclass
class Recording:
    """A 12-lead ECG: `signals` is samples × leads in mV, columns in the order of `lead_names`."""

    sample_rate: int
    lead_names: list[str]
    signals: np.ndarray = field(repr=False)

    @property
    def duration(self) -> float:
        return self.signals.shape[0] / self.sample_rate

    def lead(self, name: str) -> np.ndarray:
        return self.signals[:, self.lead_names.index(name)]


def _invalid(zh: str, en: str, **detail) -> InvalidInput:
    return InvalidInput(f"{zh} / {en}", field="files", detail=detail)


def _lead_name(raw: str) -> str | None:
    """The standard name of a lead header ('avr', 'AVR', 'aVR', 'v1', 'Lead II', 'MLII' → II)."""
    key = raw.strip().lower().replace(" ", "").replace("_", "").replace("-", "")
    key = key.removeprefix("lead")
    if key == "mlii":
        key = "ii"
    return _LEAD_BY_KEY.get(key)


def _standardise(sample_rate: float, names: Sequence[str], signals: np.ndarray, *, source: str) -> Recording:
    """Check a parsed recording and put its leads in the standard order (deriving III, aVR, aVL, aVF from
    I and II when only the eight independent leads were sent). Raises InvalidInput."""
    if not (isinstance(sample_rate, int | float) and math.isfinite(sample_rate)):
        raise _invalid(f"{source} 采样率无效", f"{source}: the sample rate is not a number")
    rate = int(round(sample_rate))
    if abs(rate - sample_rate) > 0.01 * sample_rate:
        raise _invalid(f"{source} 采样率 {sample_rate:g} Hz 不是整数", f"{source}: sample rate {sample_rate:g} Hz "
                       "is not a whole number of hertz")
    if not MIN_RATE <= rate <= MAX_RATE:
        raise _invalid(f"{source} 采样率 {rate} Hz 超出 {MIN_RATE}–{MAX_RATE} Hz 范围",
                       f"{source}: sample rate {rate} Hz is outside {MIN_RATE}–{MAX_RATE} Hz")
    signals = np.asarray(signals, dtype=float)
    if signals.ndim != 2 or signals.shape[1] != len(names):
        raise _invalid(f"{source} 导联数与数据列数不符", f"{source}: the number of leads does not match the data")
    standard: dict[str, int] = {}
    for i, raw in enumerate(names):
        name = _lead_name(raw)
        if name is None:
            raise _invalid(f"{source} 含未知导联“{raw}”（应为 {'、'.join(LEADS)}）",
                           f"{source}: unknown lead '{raw}' (expected {', '.join(LEADS)})")
        if name in standard:
            raise _invalid(f"{source} 导联 {name} 重复", f"{source}: lead {name} appears twice")
        standard[name] = i
    missing = [n for n in LEADS if n not in standard]
    derivable = {"III", "aVR", "aVL", "aVF"}
    if missing and not set(missing) <= derivable or missing and not {"I", "II"} <= set(standard):
        hard = [n for n in missing if n not in derivable] or missing
        raise _invalid(f"{source} 缺少导联 {'、'.join(hard)}（需要十二导联，或 I、II、V1–V6 八个独立导联）",
                       f"{source}: lead(s) {', '.join(hard)} missing (12 leads are needed, or the eight "
                       "independent leads I, II, V1–V6)", missing=hard)
    seconds = signals.shape[0] / rate
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise _invalid(f"{source} 时长 {seconds:.1f} 秒，应为 {MIN_SECONDS:g}–{MAX_SECONDS:g} 秒",
                       f"{source}: {seconds:.1f} s long; a recording must last {MIN_SECONDS:g}–{MAX_SECONDS:g} s")
    if not np.isfinite(signals).all():
        raise _invalid(f"{source} 含空值或非数字（NaN）", f"{source}: the signal contains empty or NaN values")
    if np.abs(signals).max(initial=0.0) > MAX_ABS_MV:
        raise _invalid(f"{source} 电压超出 ±{MAX_ABS_MV:g} mV，单位可能有误",
                       f"{source}: values beyond ±{MAX_ABS_MV:g} mV; are the units right?")
    if np.ptp(signals, axis=0).max(initial=0.0) == 0.0:
        raise _invalid(f"{source} 所有导联均为直线", f"{source}: every lead is a flat line")
    out = np.empty((signals.shape[0], len(LEADS)))
    for j, name in enumerate(LEADS):
        if name in standard:
            out[:, j] = signals[:, standard[name]]
    lead_i, lead_ii = out[:, 0], out[:, 1]
    derived = {"III": lead_ii - lead_i, "aVR": -(lead_i + lead_ii) / 2, "aVL": lead_i - lead_ii / 2,
               "aVF": lead_ii - lead_i / 2}
    for name in missing:
        out[:, LEADS.index(name)] = derived[name]
    return Recording(sample_rate=rate, lead_names=list(LEADS), signals=out)


# --- WFDB --------------------------------------------------------------------------------------------------

_RECORD_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_FILE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")
_UNIT_FACTORS = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3, "nu": 1.0, "": 1.0}


def read_wfdb(header: bytes, data: bytes) -> Recording:
    """A WFDB record from its header (.hea) and its one signal file (.dat). Raises InvalidInput."""
    try:
        text = header.decode("ascii")
    except UnicodeDecodeError:
        raise _invalid("WFDB 头文件（.hea）不是 ASCII 文本", "the WFDB header (.hea) is not ASCII text") from None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise _invalid("WFDB 头文件为空", "the WFDB header is empty")
    first = lines[0].split()
    record = first[0]
    if "/" in record:
        raise _invalid("不支持多段 WFDB 记录", "multi-segment WFDB records are not supported")
    if not _RECORD_NAME.match(record) or len(first) < 2 or not first[1].isdigit():
        raise _invalid("WFDB 头文件第一行格式错误", "the first line of the WFDB header is malformed")
    n_sig = int(first[1])
    files = {ln.split()[0] for ln in lines[1:1 + n_sig] if ln.split()}
    if len(lines) < 1 + n_sig or len(files) != 1 or not all(_FILE_NAME.match(f) for f in files):
        raise _invalid("WFDB 头文件应列出各导联且全部引用同一个数据文件（.dat）",
                       "the WFDB header must list each signal, all in one data file (.dat)")
    if not data:
        raise _invalid("WFDB 数据文件（.dat）为空", "the WFDB data file (.dat) is empty")
    import wfdb

    with tempfile.TemporaryDirectory(prefix="ecg-") as tmp:
        with open(os.path.join(tmp, record + ".hea"), "wb") as fh:
            fh.write(header)
        with open(os.path.join(tmp, files.pop()), "wb") as fh:
            fh.write(data)
        try:
            rec = wfdb.rdrecord(os.path.join(tmp, record), physical=True)
        except Exception as exc:  # wfdb raises many kinds on a bad file
            raise _invalid("无法读取 WFDB 记录（头文件与数据不符或格式不支持）",
                           f"the WFDB record cannot be read ({type(exc).__name__}: {str(exc)[:120]})") from None
    if rec.p_signal is None or rec.sig_name is None:
        raise _invalid("WFDB 记录没有信号", "the WFDB record has no signals")
    expected = int(rec.sig_len or 0)
    if expected and rec.p_signal.shape[0] < expected:
        raise _invalid("WFDB 数据文件比头文件声明的短", "the WFDB data file is shorter than its header says")
    signals = np.array(rec.p_signal, dtype=float)
    for j, unit in enumerate(rec.units or []):
        factor = _UNIT_FACTORS.get((unit or "").strip().lower())
        if factor is None:
            raise _invalid(f"WFDB 导联 {rec.sig_name[j]} 的单位“{unit}”不是电压",
                           f"WFDB lead {rec.sig_name[j]}: unit '{unit}' is not a voltage")
        signals[:, j] *= factor
    return _standardise(float(rec.fs), list(rec.sig_name), signals, source="WFDB")


def write_wfdb(recording: Recording, record_name: str) -> tuple[bytes, bytes]:
    """The recording as a WFDB pair (header, data): format 16, gain 1000 units per mV (1 µV resolution,
    ±32.767 mV), baseline 0. The header names the data file `<record_name>.dat`."""
    if not _RECORD_NAME.match(record_name):
        raise ValueError(f"bad WFDB record name {record_name!r}")
    import wfdb

    n = len(recording.lead_names)
    signal = np.clip(np.asarray(recording.signals, dtype=float), -32.767, 32.767)
    with tempfile.TemporaryDirectory(prefix="ecg-") as tmp:
        wfdb.wrsamp(record_name, fs=recording.sample_rate, units=["mV"] * n, sig_name=list(recording.lead_names),
                    p_signal=signal, fmt=["16"] * n, adc_gain=[1000.0] * n, baseline=[0] * n, write_dir=tmp)
        with open(os.path.join(tmp, record_name + ".hea"), "rb") as fh:
            header = fh.read()
        with open(os.path.join(tmp, record_name + ".dat"), "rb") as fh:
            data = fh.read()
    return header, data


# --- CSV ---------------------------------------------------------------------------------------------------

_TIME_COLUMN = re.compile(r"^(time|t|timestamp|seconds|sec|s|ms|millis|milliseconds)\s*([\[(]\s*(s|ms)\s*[\])])?$"
                          r"|^time_(s|ms)$", re.I)
_UNIT_SUFFIX = re.compile(r"^(.*?)\s*(?:[\[(]\s*([µμu]v|mv)\s*[\])]|_([µμu]v|mv))$", re.I)
_RATE_COMMENT = re.compile(r"(?:sample[_ ]?rate|sampling[_ ]?rate|fs)\s*[:=]\s*([0-9.]+)", re.I)


def _time_unit(name: str) -> str | None:
    """'s', 'ms' or None (unknown: decided from the spacing) for a time column header."""
    m = _TIME_COLUMN.match(name.strip())
    if not m:
        raise ValueError
    unit = (m.group(3) or m.group(4) or "").lower()
    if unit:
        return unit
    base = m.group(1).lower() if m.group(1) else ""
    if base in ("ms", "millis", "milliseconds"):
        return "ms"
    if base in ("seconds", "sec", "s"):
        return "s"
    return None


def read_csv(content: bytes, sample_rate: int | None = None) -> Recording:
    """A CSV of leads: a header row of lead names (I, II, III, aVR, aVL, aVF, V1..V6 in any case, optionally
    with a unit suffix such as `II (uV)`), optionally a time column (`time`, `time_ms`, `t (s)`, …; seconds
    or milliseconds, told by its name or its spacing) and one row per sample. The sampling rate comes from
    the time column, the `sample_rate` argument or a leading comment line `# sample_rate=500`; they must
    agree. Separators: comma, semicolon or tab. Units: a suffix says mV or µV; without one, mV unless the
    values can only be µV (`_guess_microvolts`).
    Raises InvalidInput."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _invalid("CSV 文件不是 UTF-8 文本", "the CSV file is not UTF-8 text") from None
    lines = text.splitlines()
    comment_rate: float | None = None
    while lines and (not lines[0].strip() or lines[0].lstrip().startswith("#")):
        m = _RATE_COMMENT.search(lines[0])
        if m:
            try:
                comment_rate = float(m.group(1))
            except ValueError:
                raise _invalid("CSV 注释中的采样率无效", "the sample rate in the CSV comment is not a number") from None
        lines.pop(0)
    if len(lines) < 2:
        raise _invalid("CSV 文件没有数据行", "the CSV file has no data rows")
    delimiter = max((",", ";", "\t"), key=lines[0].count)
    rows = csv.reader(lines, delimiter=delimiter)
    header = [h.strip() for h in next(rows)]
    time_col: int | None = None
    time_unit: str | None = None
    lead_cols: list[int] = []
    names: list[str] = []
    scales: list[float] = []
    for i, raw in enumerate(header):
        try:
            unit = _time_unit(raw)
        except ValueError:
            pass
        else:
            if time_col is not None:
                raise _invalid("CSV 有多个时间列", "the CSV has more than one time column")
            time_col, time_unit = i, unit
            continue
        m = _UNIT_SUFFIX.match(raw)
        name, scale = raw, 1.0
        if m:
            name = m.group(1)
            scale = 1.0 if (m.group(2) or m.group(3)).lower() == "mv" else 1e-3
        if _lead_name(name) is None:
            raise _invalid(f"CSV 表头含未知列“{raw}”（应为导联名 {'、'.join(LEADS)} 或时间列）",
                           f"CSV header: unknown column '{raw}' (expected lead names {', '.join(LEADS)} or a "
                           "time column)")
        lead_cols.append(i)
        names.append(name)
        scales.append(scale)
    if not lead_cols:
        raise _invalid("CSV 表头没有导联名", "the CSV header names no leads")
    width = len(header)
    values = []
    for line_no, row in enumerate(rows, start=2 + (len(text.splitlines()) - len(lines))):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != width:
            raise _invalid(f"CSV 第 {line_no} 行有 {len(row)} 列，表头有 {width} 列",
                           f"CSV line {line_no} has {len(row)} columns, the header {width}", line=line_no)
        try:
            values.append([float(c) for c in row])
        except ValueError:
            bad = next(c for c in row if not _is_number(c))
            raise _invalid(f"CSV 第 {line_no} 行含非数字“{bad[:20]}”",
                           f"CSV line {line_no}: '{bad[:20]}' is not a number", line=line_no) from None
    if len(values) < 2:
        raise _invalid("CSV 文件数据行太少", "the CSV file has too few data rows")
    table = np.array(values, dtype=float)
    rates = {}
    if time_col is not None:
        rates["time column"] = _rate_from_time(table[:, time_col], time_unit)
    if sample_rate is not None:
        rates["argument"] = float(sample_rate)
    if comment_rate is not None:
        rates["comment"] = comment_rate
    if not rates:
        raise _invalid("CSV 无法确定采样率：请加时间列，或首行注释 # sample_rate=500",
                       "the CSV's sample rate is unknown: add a time column or a first line '# sample_rate=500'")
    found = list(rates.values())
    if max(found) - min(found) > 0.01 * max(found):
        raise _invalid("CSV 的采样率前后不一致：" + "，".join(f"{k} {v:g} Hz" for k, v in rates.items()),
                       "the CSV's sample rates disagree: " + ", ".join(f"{k} {v:g} Hz" for k, v in rates.items()))
    signals = table[:, lead_cols] * np.array(scales)
    if not any(_UNIT_SUFFIX.match(header[i]) for i in lead_cols):
        signals = _guess_microvolts(signals)
    return _standardise(found[0], names, signals, source="CSV")


def _guess_microvolts(signals: np.ndarray) -> np.ndarray:
    """Values without a unit are mV, unless they can only be µV. A surface ECG stays within a few mV (a QRS
    rarely exceeds 4–5 mV): if the largest deflections (99.5th percentile of the distance from each lead's
    median) exceed 50 they are µV (0.05 mV in µV is already a tiny trace); between 15 and 50 it cannot be
    told, and the file is refused rather than guessed."""
    if signals.size == 0 or not np.isfinite(signals).all():
        return signals
    deflection = float(np.percentile(np.abs(signals - np.median(signals, axis=0)), 99.5))
    if deflection > 50:
        return signals / 1000.0
    if deflection > 15:
        raise _invalid("CSV 电压单位无法判断（数值既不像 mV 也不像 µV）：请在表头写明，如 II (mV) 或 II (uV)",
                       "the CSV's voltage unit cannot be told (neither like mV nor like µV): say it in the "
                       "header, e.g. II (mV) or II (uV)")
    return signals


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _rate_from_time(times: np.ndarray, unit: str | None) -> float:
    steps = np.diff(times)
    if not np.isfinite(times).all() or len(steps) == 0 or (steps <= 0).any():
        raise _invalid("CSV 时间列不是递增的", "the CSV's time column does not increase")
    step = float(np.median(steps))
    if np.abs(steps - step).max() > 0.05 * step + 1e-9:
        raise _invalid("CSV 时间列间隔不均匀（采样不等间隔）", "the CSV's time column is not evenly spaced")
    if unit is None:  # 100–2000 Hz is a 0.5–10 ms step: in seconds 0.0005–0.01, in ms 0.5–10 (no overlap)
        unit = "ms" if step >= 0.25 else "s"
    return 1.0 / (step / 1000.0 if unit == "ms" else step)


# --- uploads -----------------------------------------------------------------------------------------------

def read_upload(files: Sequence[UploadedFile]) -> tuple[Recording, str]:
    """What a clinic uploaded: a WFDB pair (.hea + .dat) or one CSV of leads. Returns the recording and the
    AcquisitionKind value. Raises InvalidInput otherwise."""
    from .models import AcquisitionKind

    def ext(f) -> str:
        return os.path.splitext((f.filename or "").lower())[1]

    headers = [f for f in files if ext(f) == ".hea"]
    datas = [f for f in files if ext(f) == ".dat"]
    csvs = [f for f in files if ext(f) in (".csv", ".txt") or (f.media_type or "").split(";")[0] == "text/csv"]
    if len(files) == 2 and len(headers) == 1 and len(datas) == 1:
        return read_wfdb(headers[0].content, datas[0].content), AcquisitionKind.ECG_WFDB.value
    if len(files) == 1 and len(csvs) == 1:
        return read_csv(csvs[0].content), AcquisitionKind.ECG_CSV.value
    raise _invalid("请上传一对 WFDB 文件（.hea 与 .dat）或一个导联 CSV 文件",
                   "upload either a WFDB pair (.hea and .dat) or one CSV of leads",
                   files=[f.filename for f in files])


# --- simulation --------------------------------------------------------------------------------------------

# Amplitudes (mV) of the P, Q, R, S and T waves in the eight independent leads of a normal adult ECG; the
# other four limb leads are derived (III = II − I, aVR = −(I + II)/2, aVL = I − II/2, aVF = II − I/2).
_WAVE_AMPLITUDES = {
    "I": (0.08, -0.05, 0.65, -0.10, 0.20),
    "II": (0.15, -0.08, 1.10, -0.20, 0.30),
    "V1": (0.07, 0.00, 0.20, -0.90, 0.08),
    "V2": (0.08, 0.00, 0.40, -1.20, 0.50),
    "V3": (0.08, 0.00, 0.80, -0.80, 0.45),
    "V4": (0.08, -0.05, 1.30, -0.45, 0.40),
    "V5": (0.08, -0.08, 1.20, -0.25, 0.30),
    "V6": (0.08, -0.08, 0.90, -0.10, 0.25),
}
# Wave timing in seconds from the R peak (centre, standard deviation) of the P, Q, R, S waves; the T wave is
# placed so that QT follows Bazett with QTc ≈ 410 ms. PR ≈ 165 ms, QRS ≈ 95 ms (wide: ≈ 150 ms).
_P_WAVE = (-0.16, 0.025)
_QRS_NARROW = ((-0.025, 0.010), (0.0, 0.011), (0.028, 0.011))
_QRS_WIDE = ((-0.040, 0.016), (0.0, 0.018), (0.045, 0.018))
_QTC_S = 0.41


def _wave_templates(heart_rate: float, sample_rate: int, wide: bool) -> tuple[np.ndarray, int]:
    """One cycle of each of the five waves (P, Q, R, S, T) at this rate, each of unit height on a zero
    baseline, from 0.45 RR before the R peak to 0.55 RR after it: (5 × samples, index of the R peak).

    This is ECGSYN's wave model (McSharry et al. 2003, neurokit2's `ecg_simulate(method="ecgsyn")`) in its
    closed form: ECGSYN integrates the derivative of a sum of Gaussians in the cycle's phase, i.e. each wave
    is a Gaussian. Sampling the Gaussians directly keeps narrow QRS waves exact (neurokit2's adaptive ODE
    solver steps over a Q, R or S narrower than its default 0.1 rad and leaves a step in the trace), and
    lets each interval be set in seconds at any rate. The T wave rises more slowly than it falls."""
    rr = 60.0 / heart_rate
    n = int(round(rr * sample_rate))
    before = int(round(0.45 * n))
    t = (np.arange(n) - before) / sample_rate
    qrs = _QRS_WIDE if wide else _QRS_NARROW
    qrs_onset = qrs[0][0] - 2 * qrs[0][1]
    t_sigma = 0.05 * math.sqrt(rr)
    t_peak = qrs_onset + _QTC_S * math.sqrt(rr) - 1.8 * t_sigma
    rows = [np.exp(-0.5 * ((t - c) / s) ** 2) for c, s in (_P_WAVE, *qrs)]
    sigma = np.where(t < t_peak, 1.3 * t_sigma, 0.9 * t_sigma)
    rows.append(np.exp(-0.5 * ((t - t_peak) / sigma) ** 2))
    return np.vstack(rows), before


def simulated_intervals(heart_rate: float, *, wide: bool = False, visible_mv: float = 0.025) -> dict[str, float]:
    """The PR, QRS and QT (ms) that `simulate` builds at this rate (noise-free), read as a reader would: a
    wave starts or ends where it departs from the baseline by `visible_mv` (0.25 mm on paper). QRS from the
    earliest onset to the latest offset over the eight independent leads, P in lead II, QT to the latest T
    end in II and V2–V5. Used to measure the pre-read's interval agreement."""
    rate = 2000
    waves, r_index = _wave_templates(heart_rate, rate, wide)
    t = (np.arange(waves.shape[1]) - r_index) / rate * 1000

    def extent(trace: np.ndarray) -> tuple[float, float] | None:
        visible = np.flatnonzero(np.abs(trace) >= visible_mv)
        return (t[visible[0]], t[visible[-1]]) if len(visible) else None

    def lead_amplitudes(name: str) -> np.ndarray:
        a = np.array(_WAVE_AMPLITUDES[name], dtype=float)
        if wide:
            a[4] = (-1.0 if a[2] + a[3] >= 0 else 1.0) * abs(a[4])
        return a

    qrs = [extent(lead_amplitudes(n)[1:4] @ waves[1:4]) for n in INDEPENDENT_LEADS]
    qrs_on = min(e[0] for e in qrs if e)
    qrs_off = max(e[1] for e in qrs if e)
    p_on = extent(lead_amplitudes("II")[0] * waves[0])[0]
    t_end = max(e[1] for e in (extent(lead_amplitudes(n)[4] * waves[4]) for n in _T_LEADS) if e)
    return {"pr": qrs_on - p_on, "qrs": qrs_off - qrs_on, "qt": t_end - qrs_on}


def simulate(*, heart_rate: float, rhythm: str = "sinus", duration: float = 10, sample_rate: int = 500,
             seed: int = 0) -> Recording:
    """A 12-lead recording at a known rate and rhythm. Beat shapes come from neurokit2's ECGSYN model (one
    cycle per wave at the mean rate), placed at R times from an RR series and weighted per lead:

    - sinus: RR varies by ~2.5 % (respiratory sinus arrhythmia and jitter);
    - brady / tachy: sinus at a rate below 50 / above 100 (a `heart_rate` that does not fit is moved to
      48 / 110 /min);
    - af: no P waves, fibrillatory f waves (4–8 Hz, ~0.05–0.1 mV), RR independent and irregular (CV ≈ 0.2);
    - wide_qrs: sinus with QRS ≈ 150 ms;
    - noisy: sinus under heavy baseline wander, muscle noise, 50 Hz mains and motion artefacts.

    Every recording carries light noise and wander. Deterministic for a seed."""
    if rhythm not in RHYTHMS:
        raise ValueError(f"unknown rhythm {rhythm!r}; one of {RHYTHMS}")
    if rhythm == "brady" and heart_rate >= BRADY_BPM:
        heart_rate = 48.0
    if rhythm == "tachy" and heart_rate <= TACHY_BPM:
        heart_rate = 110.0
    if not 20 <= heart_rate <= 250:
        raise ValueError("heart_rate must be within 20–250/min")
    rng = np.random.default_rng(seed)
    n = int(round(duration * sample_rate))
    waves, r_index = _wave_templates(heart_rate, sample_rate, rhythm == "wide_qrs")
    rr_mean = 60.0 / heart_rate
    # R times: start somewhere in the first cycle, then RR by rhythm.
    count = int(duration / rr_mean) + 4
    if rhythm == "af":
        rr = rng.gamma(shape=25.0, scale=1.0, size=count)  # CV 0.2, independent beat to beat
        rr = np.clip(rr / rr.mean(), 0.55, 1.8) * rr_mean
    else:
        k = np.arange(count)
        phase = rng.uniform(0, 2 * np.pi)
        resp = 0.025 * np.sin(2 * np.pi * 0.25 * k * rr_mean + phase)
        rr = rr_mean * (1 + resp + rng.normal(0, 0.008, count))
    first = rng.uniform(0.1, 0.9) * rr_mean
    r_times = first + np.concatenate([[0.0], np.cumsum(rr[:-1])])
    # When RR is irregular the mean RR of the beats inside the recording must still be the asked one.
    if rhythm == "af":
        for _ in range(5):
            inside = r_times[r_times < duration - 0.05]
            if len(inside) < 3:
                break
            r_times = first + (r_times - first) * (rr_mean / np.diff(inside).mean())
    width = waves.shape[1]
    offset = width  # pad so beats overhanging either end are cut cleanly
    canvas = np.zeros((5, n + 2 * width))
    for rt in r_times:
        start = int(round(rt * sample_rate)) - r_index + offset
        if start >= n + offset or start + width <= 0:
            continue
        canvas[:, start:start + width] += waves
    per_wave = canvas[:, offset:offset + n]
    t = np.arange(n) / sample_rate
    out = np.zeros((n, len(LEADS)))
    for name, amps in _WAVE_AMPLITUDES.items():
        a = np.array(amps, dtype=float)
        if rhythm == "af":
            a[0] = 0.0
        if rhythm == "wide_qrs":  # secondary repolarisation change: T opposite to the main QRS deflection
            a[4] = (-1.0 if a[2] + a[3] >= 0 else 1.0) * abs(a[4])
        out[:, LEADS.index(name)] = a @ per_wave
    if rhythm == "af":  # f waves: a few drifting 4–8 Hz components, largest in V1 and the inferior leads
        f = np.zeros(n)
        for _ in range(3):
            freq = rng.uniform(4.0, 8.0)
            f += np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi)) * rng.uniform(0.5, 1.0)
        f *= 0.05 / np.abs(f).max()
        for name, gain in (("V1", 1.6), ("II", 1.0), ("I", 0.3), ("V2", 1.0), ("V3", 0.6), ("V4", 0.4),
                           ("V5", 0.3), ("V6", 0.3)):
            out[:, LEADS.index(name)] += gain * f
    # Noise and wander on each electrode-independent lead.
    heavy = rhythm == "noisy"
    for name in INDEPENDENT_LEADS:
        j = LEADS.index(name)
        wander_amp = rng.uniform(0.4, 0.8) if heavy else rng.uniform(0.02, 0.08)
        wander_f = rng.uniform(0.15, 0.5)
        out[:, j] += wander_amp * np.sin(2 * np.pi * wander_f * t + rng.uniform(0, 2 * np.pi))
        out[:, j] += rng.normal(0, 0.008, n)
        out[:, j] += (0.15 if heavy else 0.005) * np.sin(2 * np.pi * 50 * t + rng.uniform(0, 2 * np.pi))
        if heavy:
            emg = rng.normal(0, 1, n)
            emg = np.convolve(emg, np.ones(3) / 3, mode="same")  # muscle noise: broad band, bursts
            envelope = 0.15 + 0.35 * (np.sin(2 * np.pi * rng.uniform(0.2, 0.6) * t + rng.uniform(0, 6)) > 0)
            out[:, j] += emg * envelope * 0.6
            for _ in range(int(rng.integers(3, 7))):  # electrode motion: steps that decay
                at = int(rng.integers(0, n))
                step = rng.normal(0, 1.0)
                out[at:, j] += step * np.exp(-np.arange(n - at) / (0.4 * sample_rate))
    lead_i, lead_ii = out[:, 0], out[:, 1]
    out[:, LEADS.index("III")] = lead_ii - lead_i
    out[:, LEADS.index("aVR")] = -(lead_i + lead_ii) / 2
    out[:, LEADS.index("aVL")] = lead_i - lead_ii / 2
    out[:, LEADS.index("aVF")] = lead_ii - lead_i / 2
    return Recording(sample_rate=sample_rate, lead_names=list(LEADS), signals=out)


# --- the pre-read ------------------------------------------------------------------------------------------

@dataclass
class PreRead:
    """What `analyse` computed: assistance for the reader, never the report. None where not measurable."""

    heart_rate: float | None
    rr_cv: float | None
    pr_ms: int | None
    qrs_ms: int | None
    qt_ms: int | None
    qtc_ms: int | None
    signal_quality: float
    flags: list[str]
    critical: bool
    score: int
    elapsed_ms: int
    algorithm: str


ANALYSIS_RATE = 500  # Hz: recordings sampled faster are resampled first (the cost grows with the samples)
_RHYTHM_LEADS = ("II", "V5", "I", "aVF", "V2", "V1")  # R peaks: lead II, or the best of these if II is poor
_T_LEADS = ("II", "V2", "V3", "V4", "V5")  # QT: the longest measurable of these
P_MIN_MV = 0.05  # a P wave on the median beat smaller than this counts as absent
MIN_RR_S = 0.2  # shortest RR the detector accepts (neurokit2 defaults to 0.3 s, missing beats of fast AF)


def _algorithm() -> str:
    import neurokit2 as nk

    return f"neurokit2 {nk.__version__} / countycare {ALGORITHM_VERSION}"


@functools.lru_cache(maxsize=16)
def _butter(order: int, cutoff: float, btype: str, rate: int):
    from scipy.signal import butter

    return butter(order, cutoff, btype=btype, output="sos", fs=rate)


def _clean(signal: np.ndarray, rate: int) -> np.ndarray:
    """neurokit2's `ecg_clean(method="neurokit")` — 0.5 Hz 5th-order Butterworth high-pass (forward-backward)
    then a moving average one mains period wide — on one lead or on columns at once, with the filter designed
    once per rate: designing it is most of neurokit2's cleaning time (tests check it is the same)."""
    from scipy.signal import filtfilt, sosfiltfilt

    clean = sosfiltfilt(_butter(5, 0.5, "highpass", rate), signal, axis=0)
    kernel = np.ones(int(rate / 50) if rate >= 100 else 2)
    return filtfilt(kernel, [len(kernel)], clean, axis=0, method="pad")


def _detect(signal: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(cleaned signal, R peak indices) of one lead: neurokit2's cleaning and R peak detector."""
    import neurokit2 as nk

    cleaned = _clean(signal, rate)
    try:
        info = nk.ecg_findpeaks(cleaned, sampling_rate=rate, method="neurokit", mindelay=MIN_RR_S)
        peaks = np.asarray(info["ECG_R_Peaks"], dtype=int)
    except Exception:  # neurokit2 raises on signals without detectable beats
        peaks = np.array([], dtype=int)
    if len(peaks) >= 3:  # in long pauses the adaptive threshold lets f waves or noise through: drop tiny "beats"
        amplitude = np.abs(cleaned[peaks])
        peaks = peaks[amplitude >= 0.35 * float(np.median(amplitude))]
    return cleaned, peaks


def _beats(x: np.ndarray, peaks: np.ndarray, before: int, after: int) -> np.ndarray:
    inside = [p for p in peaks if p - before >= 0 and p + after <= len(x)]
    if not inside:
        return np.empty((0, before + after))
    return np.vstack([x[p - before:p + after] for p in inside])


def _quality(raw: np.ndarray, cleaned: np.ndarray, peaks: np.ndarray, rate: int) -> float:
    """Signal quality 0..1: the worst of three scores. (1) How alike the beats are: mean correlation of each
    beat (±250 ms around R) with the median beat; (2) high-frequency noise (muscle, mains) above 40 Hz
    relative to the R amplitude; (3) baseline wander: the spread of the level before each QRS relative to the
    R amplitude."""
    from scipy.signal import sosfiltfilt

    if len(peaks) < 3:
        return 0.0
    w = int(0.25 * rate)
    beats = _beats(cleaned, peaks, w, w)
    if len(beats) < 3:
        return 0.0
    template = np.median(beats, axis=0)
    centred = beats - beats.mean(axis=1, keepdims=True)
    tc = template - template.mean()
    denom = np.sqrt((centred ** 2).sum(axis=1) * (tc ** 2).sum())
    corr = float(np.mean((centred @ tc) / np.where(denom > 0, denom, np.inf)))
    q_corr = (corr - 0.5) / 0.45
    r_amp = float(np.median(np.abs(cleaned[peaks]))) or 1e-6
    nyquist = rate / 2
    if nyquist > 45:
        hf = sosfiltfilt(_butter(4, 40.0, "highpass", rate), raw)
        hf_ratio = float(np.sqrt(np.mean(hf ** 2))) / r_amp
    else:
        hf_ratio = 0.0
    q_hf = 1 - (hf_ratio - 0.03) / 0.12
    # the isoelectric level just before each QRS (50–80 ms before R), and how far it wanders (10th–90th
    # percentile) — the heartbeat's own slow waves do not count as wander
    lo, hi = int(0.08 * rate), max(1, int(0.05 * rate))
    levels = [float(np.median(raw[p - lo:p - hi])) for p in peaks if p - lo >= 0]
    wander = float(np.subtract(*np.percentile(levels, [90, 10]))) if len(levels) >= 3 else 0.0
    q_bw = 1 - (wander / r_amp - 0.8) / 1.2
    return float(np.clip(min(q_corr, q_hf, q_bw), 0.0, 1.0))


def _qrs_bounds(medians: list[np.ndarray], r_at: int, rate: int) -> tuple[int, int] | None:
    """QRS onset and offset (indices in the median beat) from the summed absolute slope of the leads'
    median beats: the QRS is where that slope stays above 10 % of its peak around R."""
    from scipy.ndimage import maximum_filter1d, uniform_filter1d

    slope = np.sum([np.abs(np.diff(m, prepend=m[0])) for m in medians], axis=0)
    slope = uniform_filter1d(slope, max(1, int(0.008 * rate)))
    half = max(1, int(0.010 * rate))
    envelope = maximum_filter1d(slope, 2 * half + 1)
    near = slice(max(0, r_at - int(0.06 * rate)), min(len(slope), r_at + int(0.06 * rate)))
    peak = float(envelope[near].max())
    floor = float(np.percentile(slope, 20))
    if peak <= floor:
        return None
    threshold = floor + 0.10 * (peak - floor)
    on = r_at
    while on > 0 and envelope[on - 1] >= threshold:
        on -= 1
    off = r_at
    while off < len(envelope) - 1 and envelope[off + 1] >= threshold:
        off += 1
    on, off = on + half, off - half
    if on <= 0 or off >= len(envelope) - 1 or off <= on:
        return None
    return on, off


def _t_end(beat: np.ndarray, baseline: float, start: int, stop: int, rate: int) -> int | None:
    """T wave end by the tangent method: the steepest point of the T wave's descending limb, its tangent
    extended to the baseline. None if no T wave of at least 0.05 mV."""
    if stop - start < int(0.08 * rate):
        return None
    seg = beat[start:stop] - baseline
    k = int(np.argmax(np.abs(seg)))
    amplitude = seg[k]
    if abs(amplitude) < 0.05 or k == len(seg) - 1:  # none, or still rising at the window's end (next P)
        return None
    sign = 1.0 if amplitude > 0 else -1.0
    peak = start + k
    limb = beat[peak:min(len(beat), peak + int(0.25 * rate))] * sign
    if len(limb) < 3:
        return None
    slope = np.diff(limb) * rate  # mV/s, falling limb is negative
    j = int(np.argmin(slope))
    if slope[j] >= 0:
        return None
    level = (beat[peak + j] - baseline) * sign
    end = peak + j + level / -slope[j] * rate
    if not math.isfinite(end) or end >= len(beat) + 0.1 * rate:
        return None
    return int(round(end))


def _p_onset(beat: np.ndarray, baseline: float, start: int, stop: int) -> int | None:
    """P wave onset on the median beat between `start` and `stop` (before the QRS): the largest deflection
    from the baseline of at least P_MIN_MV, its onset by the tangent at the steepest point of its rising
    limb extended back to the baseline. None if no P wave."""
    if stop - start < 5:
        return None
    seg = beat[start:stop] - baseline
    k = int(np.argmax(np.abs(seg)))
    amplitude = seg[k]
    if abs(amplitude) < P_MIN_MV or k < 3 or k == len(seg) - 1:
        return None
    sign = 1.0 if amplitude > 0 else -1.0
    j = k
    while j > 0 and seg[j - 1] * sign > 0.2 * abs(amplitude):
        j -= 1
    if j == 0:  # the deflection runs into the window's edge: a T wave or wander, not a P wave
        return None
    rising = seg[:k + 1] * sign
    slope = np.diff(rising)  # per sample
    i = int(np.argmax(slope))
    if slope[i] <= 0:
        return None
    onset = i - rising[i] / slope[i]
    return start + int(round(max(0.0, onset)))


def analyse(recording: Recording) -> PreRead:
    """The pre-read of a recording (docs/ecg-preread.md).

    R peaks with neurokit2's cleaning and detector in II, V5 and I (and aVF, V2, V1 unless those three agree
    on a regular rhythm of good quality); the leads of good quality vote on the rate, and the most regular of
    those that agree is kept. Heart rate from the mean RR, RR coefficient of variation and the share of
    successive RR changes over 10 %. The median beat of the eight independent leads gives the QRS (summed
    slope), the P wave (lead II: present or not, PR) and the QT (tangent method, longest of II and V2–V5),
    QTc by Bazett. Signal quality from beat similarity, high-frequency noise and baseline wander. Returns the
    flags, whether any may be critical, an urgency score 0..999 and the time it took (`elapsed_ms`, without
    the one-off import of neurokit2 in a new process). On a poor signal the QRS, PR and QT are not reported
    (noise makes them up) and only the rate and rhythm flags are raised, with `poor_signal`."""
    import neurokit2  # noqa: F401  (the one-off import is not part of the analysis time)
    from scipy.signal import resample_poly

    started = time.perf_counter()

    rate = recording.sample_rate
    names = list(recording.lead_names)
    factor = None
    if rate > ANALYSIS_RATE * 1.2:
        g = math.gcd(ANALYSIS_RATE, rate)
        factor = (ANALYSIS_RATE // g, rate // g)
        rate = ANALYSIS_RATE

    cache: dict[str, np.ndarray] = {}

    def raw(name: str) -> np.ndarray:
        if name not in cache:
            x = np.asarray(recording.signals[:, names.index(name)], dtype=float)
            cache[name] = resample_poly(x, *factor) if factor else x
        return cache[name]

    # R peaks in each candidate lead; the leads of good quality vote: those whose rate is within 10 % of their
    # median rate agree, and of these the one with the most regular RR is kept. A lead whose T waves are
    # taller than its QRS counts them as beats (or loses beats): it is outvoted or less regular. An AF is
    # irregular in every lead.
    candidates = [n for n in _RHYTHM_LEADS if n in names] or names[:1]
    tried = []
    for k, name in enumerate(candidates):
        if k == 3 and all(t[3] >= POOR_QUALITY and t[5] <= IRREGULAR_CV for t in tried) and (
                max(t[4] for t in tried) <= 1.10 * min(t[4] for t in tried)):
            break  # II, V5 and I agree on a regular rhythm of good quality: no need for the other three
        cleaned, peaks = _detect(raw(name), rate)
        quality = _quality(raw(name), cleaned, peaks, rate)
        rr = np.diff(peaks)
        mean_rr = float(rr.mean()) if len(peaks) >= 3 else math.inf
        tried.append((name, cleaned, peaks, quality, mean_rr, float(rr.std() / rr.mean()) if len(peaks) >= 3 else 9))
    good = [t for t in tried if t[3] >= POOR_QUALITY and math.isfinite(t[4])]
    if good:
        middle = float(np.median([t[4] for t in good]))
        agree = [t for t in good if abs(t[4] - middle) <= 0.10 * middle]
        chosen = min(agree, key=lambda t: (round(t[5], 2), -t[3]))
    else:
        chosen = max(tried, key=lambda t: t[3])
    best = chosen[:4]
    rhythm_lead, cleaned, peaks, quality = best
    flags: list[str] = []
    heart_rate = rr_cv = None
    pr = qrs = qt = qtc = None
    if len(peaks) >= 3:
        rr = np.diff(peaks) / rate
        mean_rr = float(rr.mean())
        heart_rate = 60.0 / mean_rr
        rr_cv = float(rr.std() / mean_rr)
        successive = float(np.mean(np.abs(np.diff(rr)) > 0.1 * mean_rr)) if len(rr) >= 3 else 0.0
        typical_rr = float(np.median(rr))
        before = int(min(0.35, 0.6 * typical_rr) * rate)
        after = int(min(0.70, 0.8 * typical_rr) * rate)
        medians: dict[str, np.ndarray] = {}
        measure = [n for n in INDEPENDENT_LEADS if n in names] or [rhythm_lead]
        block = _clean(np.column_stack([raw(n) for n in measure]), rate)
        for j, name in enumerate(measure):
            beats = _beats(block[:, j], peaks, before, after)
            if len(beats) >= 3:
                medians[name] = np.median(beats, axis=0)
        p_present = False
        bounds = _qrs_bounds(list(medians.values()), before, rate) if medians else None
        if bounds is not None:
            on, off = bounds
            qrs_ms = (off - on) / rate * 1000
            qrs = int(round(qrs_ms)) if 40 <= qrs_ms <= 250 else None
            pre = max(0, on - int(0.02 * rate))

            def base(m: np.ndarray) -> float:
                return float(np.mean(m[pre:max(pre + 1, on - int(0.005 * rate))]))

            # the T wave peaks before the next beat's P wave (≈ 0.22 s before its R)
            t_stop = min(before + after, before + int(max(0.6 * typical_rr, typical_rr - 0.22) * rate))
            ends = []
            for name in _T_LEADS:
                if name in medians:
                    m = medians[name]
                    end = _t_end(m, base(m), off + int(0.06 * rate), t_stop, rate)
                    if end is not None:
                        ends.append(end)
            if ends:
                qt_ms = (max(ends) - on) / rate * 1000
                qtc_ms = qt_ms / math.sqrt(mean_rr)
                # a T wave ends before the next QRS; a QTc outside 300–650 ms is a mismeasurement, not a finding
                if 200 <= qt_ms <= 700 and qt_ms < 950 * typical_rr and 300 <= qtc_ms <= 650:
                    qt = int(round(qt_ms))
                    qtc = int(round(qtc_ms))
            p_lead = "II" if "II" in medians else rhythm_lead
            if p_lead in medians:
                m = medians[p_lead]
                # the window before the QRS, after the previous beat's T wave has ended
                prev_t_end = (max(ends) - int(typical_rr * rate)) if ends else 0
                start = max(0, on - int(0.30 * rate), prev_t_end + int(0.02 * rate))
                # the level before the P wave (TP segment): the high-pass filter tilts the baseline near the QRS
                tp_level = float(np.median(m[start:start + max(2, int(0.03 * rate))]))
                p_on = _p_onset(m, tp_level, start, on - int(0.03 * rate))
                p_present = p_on is not None
                if p_on is not None:
                    pr_ms = (on - p_on) / rate * 1000
                    pr = int(round(pr_ms)) if 60 <= pr_ms <= 400 else None
        if quality < POOR_QUALITY:
            pr = qrs = qt = qtc = None
        irregular = (len(rr) >= 4 and rr_cv > IRREGULAR_CV and successive >= IRREGULAR_SUCCESSIVE
                     and (not p_present or rr_cv > IRREGULAR_CV_WITH_P))
        if irregular:
            pr = None  # no PR without a P wave before each QRS
        if heart_rate < BRADY_BPM:
            flags.append("bradycardia")
        if heart_rate < SEVERE_BRADY_BPM:
            flags.append("severe_bradycardia")
        if heart_rate > TACHY_BPM:
            flags.append("tachycardia")
        if heart_rate > SEVERE_TACHY_BPM:
            flags.append("severe_tachycardia")
        if irregular:
            flags.append("irregular")
            if heart_rate > AF_RAPID_BPM:
                flags.append("af_rapid")
        if qrs is not None and qrs >= WIDE_QRS_MS:
            flags.append("wide_qrs")
            if heart_rate > WIDE_QRS_TACHY_BPM:
                flags.append("wide_qrs_tachycardia")
        if qtc is not None and qtc > LONG_QTC_MS and not irregular:  # QT on a median of unequal cycles: no flag
            flags.append("long_qt")
    if quality < POOR_QUALITY or len(peaks) < 3:
        flags.append("poor_signal")
    flags = [f for f in FLAGS if f in flags]  # one stable order
    score = sum(_FLAG_WEIGHTS[f] for f in flags)
    if heart_rate is not None:  # within a flag, the further from normal the more urgent
        score += int(max(0.0, BRADY_BPM - heart_rate) * 4 + max(0.0, heart_rate - TACHY_BPM) * 2)
    if qtc is not None and qtc > 470:
        score += (qtc - 470) // 2
    score = int(min(999, score))
    elapsed = int(math.ceil((time.perf_counter() - started) * 1000))
    return PreRead(
        heart_rate=None if heart_rate is None else round(heart_rate, 1),
        rr_cv=None if rr_cv is None else round(rr_cv, 3),
        pr_ms=pr, qrs_ms=qrs, qt_ms=qt, qtc_ms=qtc,
        signal_quality=round(quality, 3),
        flags=flags, critical=bool(CRITICAL_FLAGS & set(flags)), score=score,
        elapsed_ms=elapsed, algorithm=_algorithm(),
    )


# --- the tracing -------------------------------------------------------------------------------------------

MM_PER_S = 25.0  # paper speed
MM_PER_MV = 10.0  # gain
_LAYOUT = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"))
_ROW_MM = 30.0  # height of one row of the tracing
_LEFT_MM = 10.0  # room for the calibration pulse
_BIN_MM = 0.4  # horizontal resolution: each 0.4 mm keeps its lowest and highest sample (QRS peaks survive)


def _polyline(x: np.ndarray, rate: int, x0: float, y0: float, limit: float) -> str:
    """Points of one trace: min/max per 0.4 mm bin, y clamped to ±limit mm around the baseline y0."""
    per_bin = max(1, int(round(_BIN_MM / MM_PER_S * rate)))
    usable = len(x) - len(x) % per_bin
    points = []
    if usable >= per_bin:
        bins = x[:usable].reshape(-1, per_bin)
        lo_i, hi_i = bins.argmin(axis=1), bins.argmax(axis=1)
        lo, hi = bins.min(axis=1), bins.max(axis=1)
        for k in range(bins.shape[0]):
            first, second = (lo[k], hi[k]) if lo_i[k] <= hi_i[k] else (hi[k], lo[k])
            xs = x0 + k * _BIN_MM
            points.append((xs, first))
            if per_bin > 1:
                points.append((xs + _BIN_MM / 2, second))
    return " ".join(
        f"{px:.1f},{y0 - max(-limit, min(limit, v * MM_PER_MV)):.1f}" for px, v in points)


def render_svg(recording: Recording, *, seconds: float | None = None) -> str:
    """The tracing on ECG paper (1 mm minor / 5 mm major grid, 25 mm/s, 10 mm/mV): three rows of four leads
    (I aVR V1 V4 / II aVL V2 V5 / III aVF V3 V6), each column a quarter of the shown time, and a lead II
    rhythm strip over the whole of it; a 1 mV calibration pulse at the start of each row. `seconds`: how
    much to show from the start (None: the whole recording; the standard page is 10 s)."""
    rate = recording.sample_rate
    shown = min(recording.duration, seconds) if seconds else recording.duration
    n = int(shown * rate)
    width = _LEFT_MM + shown * MM_PER_S + 5
    height = _ROW_MM * 4 + 5
    names = list(recording.lead_names)
    centred = {}
    for name in names:
        x = np.asarray(recording.signals[:n, names.index(name)], dtype=float)
        centred[name] = x - float(np.median(x)) if len(x) else x
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.1f} {height:.1f}" '
        f'width="{width:.0f}mm" height="{height:.0f}mm" class="ecg-tracing" role="img" '
        f'aria-label="十二导联心电图 12-lead ECG, {shown:g} s, 25 mm/s, 10 mm/mV">',
        "<defs>"
        '<pattern id="ecg-minor" width="1" height="1" patternUnits="userSpaceOnUse">'
        '<path d="M1 0H0V1" fill="none" stroke="#f4c2c2" stroke-width="0.05"/></pattern>'
        '<pattern id="ecg-major" width="5" height="5" patternUnits="userSpaceOnUse">'
        '<rect width="5" height="5" fill="url(#ecg-minor)"/>'
        '<path d="M5 0H0V5" fill="none" stroke="#e08a8a" stroke-width="0.15"/></pattern>'
        "</defs>",
        f'<rect width="{width:.1f}" height="{height:.1f}" fill="#fff8f8"/>',
        f'<rect width="{width:.1f}" height="{height:.1f}" fill="url(#ecg-major)"/>',
        '<g fill="none" stroke="#111" stroke-width="0.25" stroke-linejoin="round">',
    ]
    labels = []
    limit = _ROW_MM / 2 + 2
    column_s = shown / 4
    per_col = int(column_s * rate)
    for row, leads in enumerate(_LAYOUT):
        y0 = _ROW_MM * row + _ROW_MM / 2 + 2
        out.append(_calibration(y0))
        for col, name in enumerate(leads):
            if name not in centred:
                continue
            x0 = _LEFT_MM + col * column_s * MM_PER_S
            seg = centred[name][col * per_col:(col + 1) * per_col]
            out.append(f'<polyline data-lead="{name}" points="{_polyline(seg, rate, x0, y0, limit)}"/>')
            labels.append((x0 + 1, y0 - _ROW_MM / 2 + 4, name))
            if col:
                out.append(f'<path d="M{x0:.1f} {y0 - 3:.1f}V{y0 + 3:.1f}" stroke-width="0.3"/>')
    rhythm = "II" if "II" in centred else names[0]
    y0 = _ROW_MM * 3 + _ROW_MM / 2 + 2
    out.append(_calibration(y0))
    out.append(f'<polyline data-lead="{rhythm}" data-strip="rhythm" '
               f'points="{_polyline(centred[rhythm], rate, _LEFT_MM, y0, limit)}"/>')
    labels.append((_LEFT_MM + 1, y0 - _ROW_MM / 2 + 4, rhythm))
    out.append("</g>")
    out.append('<g font-family="sans-serif" font-size="3.5" fill="#111">')
    out.extend(f'<text x="{x:.1f}" y="{y:.1f}">{name}</text>' for x, y, name in labels)
    out.append(f'<text x="{width - 2:.1f}" y="{height - 1.5:.1f}" text-anchor="end" font-size="2.5">'
               "25 mm/s · 10 mm/mV</text>")
    out.append("</g></svg>")
    return "".join(out)


def _calibration(y0: float) -> str:
    """A 1 mV × 200 ms calibration pulse at the start of a row."""
    x = 2.0
    top = y0 - MM_PER_MV
    return (f'<path d="M{x:.1f} {y0:.1f}H{x + 1.5:.1f}V{top:.1f}H{x + 6.5:.1f}V{y0:.1f}H{x + 8:.1f}" '
            'stroke-width="0.3"/>')


def to_csv(recording: Recording) -> bytes:
    """The recording as a CSV of leads in mV with a time column in seconds (what `read_csv` reads)."""
    buf = io.StringIO()
    buf.write("time," + ",".join(recording.lead_names) + "\n")
    t = np.arange(recording.signals.shape[0]) / recording.sample_rate
    for ti, row in zip(t, recording.signals, strict=True):
        buf.write(f"{ti:.4f}," + ",".join(f"{v:.4f}" for v in row) + "\n")
    return buf.getvalue().encode()
