"""Published capacity (号源与床位): the receiving side publishes clinic sessions, beds and exam places, and
sees how many of each are booked and how many are still held for family-doctor referrals."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from countycare.core import policy
from countycare.core.codes import Role
from countycare.core.errors import DomainError
from countycare.referrals import services as referral_services
from countycare.referrals.models import Slot
from countycare.web.access import domain_errors, roles_required

from .access import DOCTOR_ROLES
from .forms import SlotForm

PUBLISHING_ROLES = DOCTOR_ROLES | {Role.COMMUNITY_ADMIN}
LIST_LIMIT = 60


@roles_required(PUBLISHING_ROLES)
@domain_errors
def slots(request: HttpRequest) -> HttpResponse:
    """Upcoming capacity of the organisations the user may publish for, and the form to publish more."""
    user = request.user
    form = SlotForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            slot = referral_services.publish_slots(
                user=user, organization=data["organization"], department=data["department"], kind=data["kind"],
                starts_at=data["starts_at"], ends_at=data["ends_at"], capacity=data["capacity"],
                label=data["label"], channel="web")
        except DomainError as exc:
            form.add_domain_error(exc)
        else:
            messages.success(request, _("Published %(n)d places, %(r)d held for family-doctor referrals.")
                             % {"n": slot.capacity, "r": slot.reserved})
            return redirect("workstation:slots")
    orgs = form.fields["organization"].queryset
    rows = list(Slot.objects.filter(organization__in=orgs, ends_at__gt=timezone.now())
                .select_related("organization", "department").order_by("starts_at", "id")[:LIST_LIMIT])
    community = user.community_id
    hours = int(policy.get("reserved_slot_release_hours", community))
    now = timezone.now()
    for slot in rows:
        slot.released = referral_services.reserve_released(slot, now, hours)
        slot.free = slot.capacity - slot.booked
    return TemplateResponse(request, "workstation/slots.html", {
        "form": form, "rows": rows, "limit": LIST_LIMIT, "release_hours": hours,
        "share": policy.get("reserved_slot_share", community) * 100,
    })



