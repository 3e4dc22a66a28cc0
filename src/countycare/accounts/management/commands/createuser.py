from __future__ import annotations

import uuid

from django.core.management.base import BaseCommand, CommandError

from countycare.accounts import services
from countycare.core.codes import Role
from countycare.core.errors import DomainError
from countycare.registry.models import Practitioner, Resident


def _by_id_or_uuid(model, reference: str, label: str):
    ref = reference.strip()
    found = None
    try:
        found = model.objects.filter(uuid=uuid.UUID(ref)).first()
    except ValueError:
        if ref.isdigit():
            found = model.objects.filter(pk=int(ref)).first()
        if found is None and model is Resident and len(ref) == 18:
            found = model.objects.filter(national_id=ref.upper()).first()
    if found is None:
        raise CommandError(f"no {label} {ref}")
    return found


class Command(BaseCommand):
    help = "Create a user with a role, linked to an organisation (and a practitioner or resident)"

    def add_arguments(self, parser):
        parser.add_argument("--username", required=True)
        parser.add_argument("--role", required=True, help=f"one of: {', '.join(Role.values)}")
        parser.add_argument("--organization", required=True, help="division code, id or UUID")
        parser.add_argument("--password", required=True)
        parser.add_argument("--practitioner", help="practitioner id or UUID")
        parser.add_argument("--resident", help="resident id, UUID or national ID (for the resident role)")
        parser.add_argument("--superuser", action="store_true", help="also a Django superuser (admin site)")

    def handle(self, *args, **options):
        try:
            organization = services.resolve_organization(options["organization"])
            practitioner = (
                _by_id_or_uuid(Practitioner, options["practitioner"], "practitioner")
                if options["practitioner"]
                else None
            )
            resident = (
                _by_id_or_uuid(Resident, options["resident"], "resident") if options["resident"] else None
            )
            user = services.create_user(
                username=options["username"],
                role=options["role"],
                organization=organization,
                password=options["password"],
                practitioner=practitioner,
                resident=resident,
                superuser=options["superuser"],
            )
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(self.style.SUCCESS(f"created {user.username} ({user.role}) at {organization.name}"))
