import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from countycare.assessment import services
from countycare.assessment.models import PeriodKind
from countycare.core.models import Community


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {text!r}") from None


class Command(BaseCommand):
    help = ("Materialise the community's indicators by month and calendar year (and score them); run nightly. "
            "Default: the last 12 months and this one")

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="start", type=_day, help="first day (default: 12 months ago, 1st)")
        parser.add_argument("--to", dest="end", type=_day, help="last day, inclusive (default: today)")
        parser.add_argument("--period", action="store_true",
                            help="one custom period --from..--to instead of its months and years")
        parser.add_argument("--community", type=int, help="community id (default: every community)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, start=None, end=None, period=False, community=None, no_progress=False, **options):
        today = dt.date.today()
        end = (end or today) + dt.timedelta(days=1)
        start = start or (today.replace(day=1) - dt.timedelta(days=365)).replace(day=1)
        if end <= start:
            raise CommandError("--to must not be before --from")
        communities = Community.objects.all() if community is None else Community.objects.filter(pk=community)
        if not communities.exists():
            raise CommandError("no such community")
        for c in communities:
            services.ensure_default_scheme(community_id=c.pk)
            if period:
                run = services.materialise_period(community_id=c.pk, start=start, end=end, kind=PeriodKind.CUSTOM)
                self.stdout.write(f"{c}: {start}..{end - dt.timedelta(days=1)}: {run.results} results "
                                  f"in {run.seconds:.2f} s")
                continue
            count = len(list(services.months(start, end))) + len({d.year for d, _ in services.months(start, end)})
            runs = self._run(c, start, end, count, no_progress)
            self.stdout.write(f"{c}: {len(runs)} periods, {sum(r.results for r in runs)} results, "
                              f"{sum(r.seconds for r in runs):.2f} s computing")

    def _run(self, community, start, end, count, no_progress):
        if no_progress:
            return services.materialise(community_id=community.pk, start=start, end=end)
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=Console(stderr=True)) as bar:
            task = bar.add_task(f"指标计算 indicators · {community}", total=count)
            return services.materialise(community_id=community.pk, start=start, end=end,
                                        progress=lambda a, b, kind: bar.advance(task))
