"""Which roles get which workstation page (scope over residents is still decided by `core.scope`)."""

from __future__ import annotations

from countycare.core.codes import Role
from countycare.web.access import PATIENT_ROLES

# Doctors who see patients, record encounters and refer: the workstation, the inbox, the referral forms.
DOCTOR_ROLES = frozenset({Role.VILLAGE_DOCTOR, Role.TOWNSHIP_DOCTOR, Role.COUNTY_SPECIALIST})
# Who follows referrals on the tracking board and prints letters: the doctors and the community office.
TRACKING_ROLES = frozenset(DOCTOR_ROLES | {Role.COMMUNITY_ADMIN})
# Who reads a patient's timeline: every role that opens individual records, and the resident their own.
TIMELINE_ROLES = frozenset(PATIENT_ROLES | {Role.RESIDENT})
