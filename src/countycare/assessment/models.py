"""Community assessment: the targets in force (policy over the code-reviewed definitions), materialised results per
period and unit, assessment schemes with their immutable versions, and the scores a version produced.

Results and scores are aggregates: no patient data lives here. Drill-downs read the records behind a number through
the scoped, audited queries of the apps that own them.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from countycare.core.models import Community
from countycare.diagnostics.models import Centre
from countycare.registry.models import Organization


def indicator_choices() -> list[tuple[str, str]]:
    from .engine import all_indicators

    return [(i.code, f"{i.name} {i.name_en}") for i in all_indicators()]


class IndicatorTarget(models.Model):
    """A community's own target for an indicator, overriding the definition's default."""

    community = models.ForeignKey(Community, on_delete=models.CASCADE)
    code = models.CharField(_("indicator"), max_length=60, choices=indicator_choices)
    target = models.DecimalField(_("target"), max_digits=14, decimal_places=4,
                                 help_text=_("In the indicator's unit; a percentage as a ratio (90% → 0.90)"))
    source = models.CharField(_("source"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("indicator target")
        verbose_name_plural = _("indicator targets")
        constraints = [models.UniqueConstraint(fields=["community", "code"], name="indicator_target_unique")]

    def __str__(self) -> str:
        return f"{self.code} = {self.target}"


class PeriodKind(models.TextChoices):
    MONTH = "month", _("Month")
    YEAR = "year", _("Year")
    CUSTOM = "custom", _("Custom period")


class ComputationRun(models.Model):
    """One materialisation of every indicator for a period: when, how long, how many results."""

    community = models.ForeignKey(Community, on_delete=models.CASCADE)
    period_kind = models.CharField(max_length=10, choices=PeriodKind.choices)
    period_start = models.DateField(_("from"))
    period_end = models.DateField(_("until (exclusive)"))
    computed_at = models.DateTimeField(_("computed"))
    seconds = models.FloatField(_("seconds"))
    results = models.PositiveIntegerField(_("results"))

    class Meta:
        verbose_name = _("computation run")
        verbose_name_plural = _("computation runs")
        ordering = ["-computed_at"]
        indexes = [models.Index(fields=["community", "period_kind", "period_start"], name="assess_run_period")]


class IndicatorResult(models.Model):
    community = models.ForeignKey(Community, on_delete=models.CASCADE)
    run = models.ForeignKey(ComputationRun, on_delete=models.CASCADE, related_name="rows")
    code = models.CharField(_("indicator"), max_length=60)
    period_kind = models.CharField(max_length=10, choices=PeriodKind.choices)
    period_start = models.DateField()
    period_end = models.DateField()
    level = models.CharField(max_length=10)
    unit_key = models.CharField(max_length=30)  # "county", "member:12", "village:40", "centre:3"
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    centre = models.ForeignKey(Centre, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    numerator = models.DecimalField(max_digits=18, decimal_places=4, null=True)
    denominator = models.DecimalField(max_digits=18, decimal_places=4, null=True)
    value = models.DecimalField(max_digits=18, decimal_places=4, null=True)
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("indicator result")
        verbose_name_plural = _("indicator results")
        indexes = [models.Index(fields=["community", "period_kind", "period_start", "code"], name="assess_result")]
        constraints = [models.UniqueConstraint(fields=["community", "period_start", "period_end", "code", "unit_key"],
                                               name="assess_result_unique")]


class ScoringRule(models.TextChoices):
    LINEAR = "linear", _("Full marks at target, linear to zero at the floor")
    THRESHOLD = "threshold", _("Full marks at target, none below")


class AssessmentScheme(models.Model):
    """What the community is assessed on: indicators, weights, targets and scoring rules. Edited in admin; each
    saved change becomes a new immutable `SchemeVersion`, and scores record the version that produced them."""

    community = models.ForeignKey(Community, on_delete=models.CASCADE)
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    active = models.BooleanField(_("in use"), default=True)

    class Meta:
        verbose_name = _("assessment scheme")
        verbose_name_plural = _("assessment schemes")
        constraints = [models.UniqueConstraint(fields=["community", "name"], name="assessment_scheme_unique")]

    def __str__(self) -> str:
        return self.name


class SchemeItem(models.Model):
    scheme = models.ForeignKey(AssessmentScheme, on_delete=models.CASCADE, related_name="items")
    code = models.CharField(_("indicator"), max_length=60, choices=indicator_choices)
    weight = models.DecimalField(_("weight (points)"), max_digits=6, decimal_places=2,
                                 validators=[MinValueValidator(0)])
    target = models.DecimalField(_("target"), max_digits=14, decimal_places=4, null=True, blank=True,
                                 help_text=_("Blank: the indicator's target in force"))
    floor = models.DecimalField(_("floor (no marks)"), max_digits=14, decimal_places=4, null=True, blank=True,
                                help_text=_("Linear rule: the value that scores zero"))
    rule = models.CharField(_("scoring rule"), max_length=10, choices=ScoringRule.choices,
                            default=ScoringRule.LINEAR)

    class Meta:
        verbose_name = _("scheme item")
        verbose_name_plural = _("scheme items")
        constraints = [models.UniqueConstraint(fields=["scheme", "code"], name="scheme_item_unique")]

    def __str__(self) -> str:
        return f"{self.code} × {self.weight}"

    def clean(self) -> None:
        """A floor lies on the bad side of the target (below it when higher is better), or it would give full
        marks to a value that misses the target."""
        from django.core.exceptions import ValidationError

        from .definitions import HIGHER, LOWER, get
        from .services import targets

        indicator = get(self.code)
        if indicator is None or self.floor is None or self.scheme_id is None:
            return
        target = self.target if self.target is not None else targets(self.scheme.community_id)[self.code][0]
        if target is None:
            raise ValidationError({"target": _("This indicator has no target in force: give one to score it.")})
        if (indicator.direction == HIGHER and self.floor >= target) or (
                indicator.direction == LOWER and self.floor <= target):
            raise ValidationError({"floor": _("The floor must lie on the worse side of the target.")})


class SchemeVersion(models.Model):
    scheme = models.ForeignKey(AssessmentScheme, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    # [{"code", "weight", "target", "floor", "rule", "direction"}] as in force when the version was made
    items = models.JSONField()
    created_at = models.DateTimeField(_("created"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)

    class Meta:
        verbose_name = _("scheme version")
        verbose_name_plural = _("scheme versions")
        ordering = ["scheme", "-number"]
        constraints = [models.UniqueConstraint(fields=["scheme", "number"], name="scheme_version_unique")]

    def __str__(self) -> str:
        return f"{self.scheme.name} v{self.number}"


class Score(models.Model):
    community = models.ForeignKey(Community, on_delete=models.CASCADE)
    scheme_version = models.ForeignKey(SchemeVersion, on_delete=models.PROTECT, related_name="scores")
    period_start = models.DateField()
    period_end = models.DateField()
    level = models.CharField(max_length=10)
    unit_key = models.CharField(max_length=30)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    total = models.DecimalField(max_digits=8, decimal_places=2)
    possible = models.DecimalField(max_digits=8, decimal_places=2)  # the weights of the items that could be scored
    rank = models.PositiveIntegerField(null=True)
    details = models.JSONField()  # [{"code", "value", "target", "floor", "weight", "points"}]
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("score")
        verbose_name_plural = _("scores")
        ordering = ["rank", "unit_key"]
        constraints = [
            models.UniqueConstraint(fields=["scheme_version", "period_start", "period_end", "unit_key"],
                                    name="score_unique"),
            models.CheckConstraint(condition=Q(total__lte=F("possible")), name="score_within_possible"),
        ]
