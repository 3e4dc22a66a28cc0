"""Code systems whose codes drive behaviour. The codes are fixed here; their displays are synced into the
CodeSystem/CodeConcept tables (`countycare loadcodes`) where admins can read them and FHIR can publish them.

Every system has one canonical URI under CODESYSTEM_BASE, documented in docs/codesystems.md.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

CODESYSTEM_BASE = "https://countycare.example.cn/fhir/CodeSystem/"


class OrganizationType(models.TextChoices):
    LEAD_HOSPITAL = "lead_hospital", _("Lead hospital")
    TOWNSHIP_CENTRE = "township_centre", _("Township health centre")
    COMMUNITY_CENTRE = "community_centre", _("Community health service centre")
    VILLAGE_CLINIC = "village_clinic", _("Village clinic")
    CDC = "cdc", _("Centre for disease control")
    MCH = "mch", _("Maternal and child health hospital")
    TCM_HOSPITAL = "tcm_hospital", _("TCM hospital")
    PRIVATE_CLINIC = "private_clinic", _("Private clinic")
    PARTNER_HOSPITAL = "partner_hospital", _("Out-of-county partner hospital")


BRANCH_TYPES = (OrganizationType.TOWNSHIP_CENTRE, OrganizationType.COMMUNITY_CENTRE)
GRASSROOTS_TYPES = (*BRANCH_TYPES, OrganizationType.VILLAGE_CLINIC)


class Level(models.TextChoices):
    COUNTY = "county", _("County")
    TOWNSHIP = "township", _("Township")
    VILLAGE = "village", _("Village")
    OUTSIDE = "outside", _("Out of county")


class Role(models.TextChoices):
    VILLAGE_DOCTOR = "village_doctor", _("Village doctor")
    TOWNSHIP_DOCTOR = "township_doctor", _("Township doctor")
    COUNTY_SPECIALIST = "county_specialist", _("County specialist")
    CENTRE_READER = "centre_reader", _("Diagnostic centre reader")
    PHARMACIST = "pharmacist", _("Pharmacist")
    INSURANCE_OFFICER = "insurance_officer", _("Insurance officer")
    COMMUNITY_ADMIN = "community_admin", _("Community administrator")
    BUREAU_VIEWER = "bureau_viewer", _("Health bureau viewer")
    CDC_OFFICER = "cdc_officer", _("CDC officer")
    RESIDENT = "resident", _("Resident")


CLINICAL_ROLES = frozenset(
    {Role.VILLAGE_DOCTOR, Role.TOWNSHIP_DOCTOR, Role.COUNTY_SPECIALIST, Role.CENTRE_READER, Role.PHARMACIST}
)
# Managers whose duties need individual records across the whole community.
COMMUNITY_WIDE_ROLES = frozenset({Role.COMMUNITY_ADMIN, Role.CDC_OFFICER, Role.INSURANCE_OFFICER})
# The bureau supervises with aggregates; it gets no individual patient records.
AGGREGATE_ONLY_ROLES = frozenset({Role.BUREAU_VIEWER})
# Who may register and edit residents (within their scope).
REGISTERING_ROLES = frozenset({Role.VILLAGE_DOCTOR, Role.TOWNSHIP_DOCTOR, Role.COUNTY_SPECIALIST, Role.COMMUNITY_ADMIN})


class Title(models.TextChoices):
    CHIEF_PHYSICIAN = "chief_physician", _("Chief physician")  # 主任医师
    ASSOCIATE_CHIEF_PHYSICIAN = "associate_chief_physician", _("Associate chief physician")  # 副主任医师
    ATTENDING_PHYSICIAN = "attending_physician", _("Attending physician")  # 主治医师
    RESIDENT_PHYSICIAN = "resident_physician", _("Resident physician")  # 住院医师
    ASSISTANT_PHYSICIAN = "assistant_physician", _("Assistant physician")  # 执业助理医师
    VILLAGE_DOCTOR = "village_doctor", _("Village doctor")  # 乡村医生
    CHIEF_NURSE = "chief_nurse", _("Chief nurse")  # 主任护师
    ASSOCIATE_CHIEF_NURSE = "associate_chief_nurse", _("Associate chief nurse")  # 副主任护师
    SUPERVISOR_NURSE = "supervisor_nurse", _("Supervisor nurse")  # 主管护师
    NURSE_PRACTITIONER = "nurse_practitioner", _("Senior nurse")  # 护师
    NURSE = "nurse", _("Nurse")  # 护士
    CHIEF_PHARMACIST = "chief_pharmacist", _("Chief pharmacist")  # 主任药师
    SUPERVISOR_PHARMACIST = "supervisor_pharmacist", _("Supervisor pharmacist")  # 主管药师
    PHARMACIST = "pharmacist", _("Pharmacist")  # 药师
    TECHNICIAN = "technician", _("Technician")  # 技师
    OFFICER = "officer", _("Administrative officer")  # 管理人员


# Attending rank or above: the rank the posting target counts (DOMAIN.md: every township centre has at
# least one lead-hospital doctor of attending rank or above all year).
ATTENDING_OR_ABOVE = frozenset(
    {Title.CHIEF_PHYSICIAN, Title.ASSOCIATE_CHIEF_PHYSICIAN, Title.ATTENDING_PHYSICIAN}
)


class PostingKind(models.TextChoices):
    HOME = "home", _("Home institution")
    COUNTY_TO_TOWNSHIP = "county_to_township", _("Posted down (county managed, township used)")  # 县管乡用
    # 乡聘村用
    TOWNSHIP_TO_VILLAGE = "township_to_village", _("Hired by branch for village (township hired, village used)")
    MULTI_SITE = "multi_site", _("Multi-site practice")  # 多点执业


class Sex(models.TextChoices):
    MALE = "male", _("Male")
    FEMALE = "female", _("Female")
    UNKNOWN = "unknown", _("Unknown")


class InsuranceScheme(models.TextChoices):
    RESIDENT = "resident", _("Urban and rural resident basic medical insurance")  # 城乡居民基本医疗保险
    EMPLOYEE = "employee", _("Urban employee basic medical insurance")  # 城镇职工基本医疗保险
    NONE = "none", _("Not enrolled")


class KeyPopulation(models.TextChoices):
    ELDERLY = "elderly_65", _("Aged 65 and over")
    HYPERTENSION = "hypertension", _("Hypertension")
    DIABETES = "diabetes", _("Type 2 diabetes")
    PREGNANT = "pregnant", _("Pregnant woman")
    CHILD_0_6 = "child_0_6", _("Child aged 0-6")
    SEVERE_MENTAL = "severe_mental", _("Severe mental disorder")
    TUBERCULOSIS = "tuberculosis", _("Tuberculosis")
    REGISTERED_POOR = "registered_poor", _("Registered poor household")  # 建档立卡
    DISABLED = "disabled", _("Disabled")


class IdentifierType(models.TextChoices):
    PASSPORT = "passport", _("Passport")
    BIRTH_CERTIFICATE = "birth_certificate", _("Birth medical certificate")  # 出生医学证明
    NEWBORN = "newborn", _("Newborn without ID yet")
    HK_MACAO_PERMIT = "hk_macao_permit", _("Mainland travel permit for HK/Macao residents")
    TAIWAN_PERMIT = "taiwan_permit", _("Mainland travel permit for Taiwan residents")
    FOREIGN_PERMANENT = "foreign_permanent", _("Foreign permanent resident ID")
    HEALTH_RECORD = "health_record", _("Health record number")


# Code systems published from the enums above: (enum, name, title, description)
CODE_SYSTEMS = [
    (OrganizationType, "organization-type", "机构类型 Organization type",
     "Member and partner types of a county medical community; also FHIR Organization.type."),
    (Level, "organization-level", "机构层级 Organization level", "County / township / village level."),
    (Role, "user-role", "用户角色 User role", "Roles of CountyCare users; also PractitionerRole.code."),
    (Title, "professional-title", "专业技术职称 Professional title",
     "Titles of health professionals (卫生专业技术资格)."),
    (PostingKind, "posting-kind", "派驻类型 Posting kind", "How a practitioner serves an organisation."),
    (KeyPopulation, "key-population", "重点人群 Key population",
     "Key-population tags of the national basic public health service."),
    (InsuranceScheme, "insurance-scheme", "医保类型 Insurance scheme", "Basic medical insurance schemes."),
    (IdentifierType, "identifier-type", "证件类型 Identifier type", "Identifiers other than the national ID."),
]


def system_url(name: str) -> str:
    return CODESYSTEM_BASE + name
