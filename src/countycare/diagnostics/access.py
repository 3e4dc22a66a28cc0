"""Which roles get which diagnostics page (scope over residents and centres is still decided by the queries).

Who requests exams: the doctors who see patients. Who reads them: the centres' readers (a county specialist may
read for a centre too; `queries.centres_for` decides which). Who follows a centre's turnaround: the readers and
the community office."""

from __future__ import annotations

from countycare.core.codes import Role
from countycare.workstation.access import DOCTOR_ROLES

REQUESTER_ROLES = DOCTOR_ROLES
READER_ROLES = frozenset({Role.CENTRE_READER, Role.COUNTY_SPECIALIST})
CENTRE_ROLES = frozenset(READER_ROLES | {Role.COMMUNITY_ADMIN})
EXAM_ROLES = frozenset(REQUESTER_ROLES | CENTRE_ROLES)
# The navigation offers the centres to readers by role and to the office; a county specialist who also reads
# for a centre opens it from the exam pages (most specialists read for none).
CENTRE_NAV_ROLES = frozenset({Role.CENTRE_READER, Role.COMMUNITY_ADMIN})
