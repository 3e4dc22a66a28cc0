"""countycare orthanc: run the Orthanc DICOM server in the foreground, configured for CountyCare."""

from __future__ import annotations

import os
import signal
import urllib.parse
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from countycare.diagnostics import imaging


class Command(BaseCommand):
    help = "Run the Orthanc DICOM server for imaging (127.0.0.1 only, authentication on) until Ctrl-C"
    requires_system_checks = []  # runs a separate server; needs neither the database nor the URLs

    def add_arguments(self, parser):
        default_port = urllib.parse.urlsplit(settings.ORTHANC_URL).port or 8042
        parser.add_argument("--port", type=int, default=default_port,
                            help=f"HTTP port (default {default_port}, from COUNTYCARE_ORTHANC_URL)")
        parser.add_argument("--data-dir", help="where Orthanc's files live: <data-dir>/orthanc/ (default ./var)")

    def handle(self, *args, port: int, data_dir: str | None, **options):
        if data_dir and Path(data_dir).resolve() != Path(settings.DATA_DIR):
            raise CommandError("--data-dir must be given to the countycare command itself (it is read before "
                               "settings load): countycare orthanc --data-dir DIR")
        url = f"http://127.0.0.1:{port}"
        running = imaging.OrthancClient(url)
        if running.alive():
            try:
                imaging.refuse_open_server(running)
            except imaging.OrthancUnavailable as error:
                raise CommandError(error.message) from error
            self.stdout.write(f"Orthanc is already running at {url} with CountyCare's credentials")
            return
        try:
            handle = imaging.start_server(settings.DATA_DIR, port=port)
        except imaging.OrthancUnavailable as error:
            raise CommandError(error.message) from error
        where = ("COUNTYCARE_ORTHANC_PASSWORD" if os.environ.get("COUNTYCARE_ORTHANC_PASSWORD")
                 else settings.ORTHANC_PASSWORD_FILE)
        self.stdout.write(
            f"Orthanc {handle.client().system().get('Version', '')} is running at {url} "
            f"(started in {handle.started_seconds:.1f} s; 127.0.0.1 only, authentication on)\n"
            f"  user:     {handle.username}\n"
            f"  password: in {where}\n"
            f"  explorer: {url}/app/explorer.html\n"
            f"  DICOMweb: {url}/dicom-web/\n"
            f"  files:    {handle.config_path.parent}  (log: {handle.log_path})")
        if url != settings.ORTHANC_URL:
            self.stdout.write(self.style.WARNING(
                f"CountyCare looks for Orthanc at {settings.ORTHANC_URL}: set COUNTYCARE_ORTHANC_URL={url} "
                "for the platform to use this one"))
        def stop(signum, frame):
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        try:  # from the moment the operator is told Ctrl-C stops it, an interrupt stops it cleanly
            self.stdout.write("Ctrl-C stops it.")
            self.stdout.flush()
            code = handle.process.wait()
        except KeyboardInterrupt:
            self.stdout.write("stopping Orthanc…")
            handle.stop()
            return
        raise CommandError(f"Orthanc stopped by itself (exit code {code}); see {handle.log_path}")
