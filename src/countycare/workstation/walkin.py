"""First contact (首诊接诊): a doctor admits a walk-in patient from outside their area by the ID card, which opens
the record to their organisation for the visit and its follow-up (referrals.services.admit_walk_in)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from countycare.core.errors import DomainError
from countycare.referrals import services as referral_services
from countycare.web.access import domain_errors, roles_required

from .access import DOCTOR_ROLES
from .forms import WalkInForm


@require_POST
@roles_required(DOCTOR_ROLES)
@domain_errors
def walk_in(request: HttpRequest) -> HttpResponse:
    """首诊接诊: open the record of a patient from outside the area by their ID card, then record the visit."""
    form = WalkInForm(request.POST, user=request.user)
    if form.is_valid():
        data = form.cleaned_data
        try:
            resident = referral_services.admit_walk_in(
                user=request.user, national_id=data["national_id"], name=data["name"],
                organization=data["organization"], channel="web")
        except DomainError as exc:
            form.add_domain_error(exc)
        else:
            messages.success(request, _("%(name)s's record is open to your organisation for this visit and its "
                                        "follow-up.") % {"name": resident.name})
            return redirect("workstation:encounter_new", resident_uuid=resident.uuid)
    errors = [str(e) for errs in form.errors.values() for e in errs]
    messages.error(request, "；".join(errors))
    return redirect("workstation:today")
