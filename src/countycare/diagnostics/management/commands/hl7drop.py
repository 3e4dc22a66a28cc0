"""`countycare hl7drop DIR`: lab results dropped as files by an analyser's middleware or a branch LIS.

Every `*.hl7` file in DIR (one or more ORU^R01 messages; MLLP frames, FHS/BHS batch envelopes and \\r, \\n or
\\r\\n separators all fine) is ingested, then moved to DIR/done/ when every message was accepted or to DIR/error/
when any was refused, with `<name>.ack` beside it holding one ACK per message in the file's order (AA, or AE/AR
with the ERR segment saying what is wrong). A refused message stores nothing; the file's other messages are
stored. Dropping a corrected file again is safe: messages accepted before (same sender and control ID) are
acknowledged again and not stored twice.

The messages of a file go in batches (`--batch`, default 200) in one transaction with a savepoint per message
(lab.ingest_many); `--per-message` commits each message on its own. `--watch` polls the directory every
`--interval` seconds; files modified in the last `--settle` seconds are left for the next round (a writer still
writing). `--user` names the account the results are posted as (its rights are checked as for the API);
without it the command posts as the system.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from countycare.accounts.models import User
from countycare.diagnostics import lab


class Command(BaseCommand):
    help = "Ingest lab results (HL7 ORU^R01 *.hl7 files) from a drop directory; ACKs beside them in done/ or error/"

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path, help="the drop directory (done/ and error/ are made in it)")
        parser.add_argument("--watch", action="store_true", help="keep polling the directory")
        parser.add_argument("--interval", type=float, default=5.0, help="seconds between polls with --watch")
        parser.add_argument("--settle", type=float, default=2.0,
                            help="with --watch, skip files modified less than this many seconds ago")
        parser.add_argument("--rounds", type=int, default=0, help="with --watch, stop after this many polls")
        parser.add_argument("--batch", type=int, default=200, help="messages per transaction")
        parser.add_argument("--per-message", action="store_true", help="one transaction per message")
        parser.add_argument("--user", help="post as this user (a centre reader or community administrator)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, directory: Path, watch: bool, interval: float, settle: float, rounds: int, batch: int,
               per_message: bool, user: str | None, no_progress: bool, **options):
        if not directory.is_dir():
            raise CommandError(f"{directory} 不是目录 (not a directory)")
        if batch < 1:
            raise CommandError("--batch must be at least 1")
        actor = None
        if user:
            actor = User.objects.select_related("organization", "practitioner").filter(username=user,
                                                                                       is_active=True).first()
            if actor is None:
                raise CommandError(f"没有用户{user} (no active user {user})")
        for sub in ("done", "error"):
            (directory / sub).mkdir(exist_ok=True)
        polls = 0
        while True:
            polls += 1
            files = self._ready(directory, settle if watch else 0)
            if files:
                self._process(files, directory, actor=actor, batch=batch, per_message=per_message,
                              progress=not no_progress)
            if not watch or (rounds and polls >= rounds):
                return
            time.sleep(interval)

    @staticmethod
    def _ready(directory: Path, settle: float) -> list[Path]:
        cutoff = time.time() - settle
        return sorted(p for p in directory.glob("*.hl7") if p.is_file() and p.stat().st_mtime <= cutoff)

    def _process(self, files: list[Path], directory: Path, *, actor, batch: int, per_message: bool,
                 progress: bool) -> None:
        contents = []
        for path in files:
            try:
                messages = lab.split_messages(path.read_bytes())
                contents.append((path, messages, None))
            except lab.Hl7Error as exc:  # not readable as text at all
                contents.append((path, [], exc))
        total = sum(len(m) for _, m, _ in contents)
        accepted = refused = 0
        started = time.perf_counter()
        columns = (TextColumn("导入检验结果 HL7 {task.fields[name]}"), BarColumn(), MofNCompleteColumn(),
                   TimeRemainingColumn())
        with Progress(*columns, disable=not progress) as bar:
            task = bar.add_task("hl7", total=total, name="")
            for path, messages, error in contents:
                bar.update(task, name=path.name)
                if error is not None or not messages:
                    error = error or lab.Hl7Error(100, "文件中没有HL7消息 (no HL7 message in the file)", reject=True)
                    outcomes = [lab.Outcome(ack=lab.make_ack(None, "AR", error=error), code="AR", control_id="",
                                            error=error)]
                else:
                    outcomes = []
                    for start in range(0, len(messages), batch):
                        chunk = messages[start:start + batch]
                        if per_message:
                            outcomes.extend(lab.receive(m, actor=actor) for m in chunk)
                        else:
                            outcomes.extend(lab.ingest_many(chunk, actor=actor))
                        bar.advance(task, len(chunk))
                ok = sum(o.ok for o in outcomes)
                accepted += ok
                refused += len(outcomes) - ok
                target = directory / ("done" if ok == len(outcomes) else "error")
                destination = _free_name(target / path.name)
                (destination.parent / (destination.stem + ".ack")).write_text(
                    "".join(o.ack for o in outcomes), encoding="utf-8", newline="")
                path.rename(destination)
                if ok != len(outcomes):
                    for number, outcome in enumerate(outcomes, start=1):
                        if outcome.error is not None:
                            self.stderr.write(f"{path.name} #{number} ({outcome.control_id or '?'}): "
                                              f"{outcome.code} {outcome.error}")
        elapsed = time.perf_counter() - started
        rate = f", {total / elapsed:.0f} messages/s" if elapsed > 0 and total else ""
        self.stdout.write(f"{len(files)} files: {accepted} messages accepted, {refused} refused "
                          f"({elapsed:.1f} s{rate})")


def _free_name(path: Path) -> Path:
    """`path`, or with a time stamp if a file of that name (or its .ack) is there already."""
    if not path.exists() and not path.with_suffix(".ack").exists():
        return path
    stamp = dt.datetime.now().strftime("%Y%m%d%H%M%S%f")
    return path.with_name(f"{path.stem}.{stamp}{path.suffix}")
