"""Every write to user accounts: creating a user and setting a password. One transaction each, audited."""

from __future__ import annotations

import re
import uuid as uuid_lib

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import transaction

from countycare.core import audit
from countycare.core.codes import Role
from countycare.core.errors import Conflict, InvalidInput, NotFound
from countycare.registry.models import Organization, Practitioner, Resident

from .models import User

DIVISION_CODE = re.compile(r"^(\d{6}|\d{9}|\d{12})$")


def resolve_organization(reference: str) -> Organization:
    """An organisation by division code (6, 9 or 12 digits), numeric id or UUID.

    Several organisations can share a division code (the county's hospitals all carry the county code):
    then the error lists them with their ids so the caller can pick one."""
    ref = (reference or "").strip()
    if not ref:
        raise InvalidInput("请指定机构 (organisation is required)", field="organization")
    try:
        found = Organization.objects.filter(uuid=uuid_lib.UUID(ref)).first()
    except ValueError:
        found = None
    else:
        if found is None:
            raise NotFound(f"未找到机构 {ref} (no organisation with this UUID)", field="organization")
        return found
    if DIVISION_CODE.match(ref):
        matches = list(Organization.objects.filter(division_code=ref).order_by("id"))
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            listing = "; ".join(f"id {o.pk} {o.name}" for o in matches)
            raise InvalidInput(
                f"区划代码 {ref} 对应多个机构，请改用机构id "
                f"(division code {ref} matches several organisations; use the id): {listing}",
                field="organization",
                detail={"matches": [o.pk for o in matches]},
            )
    if ref.isdigit():
        found = Organization.objects.filter(pk=int(ref)).first()
        if found is not None:
            return found
    raise NotFound(
        f"未找到机构 {ref} (no organisation with this division code, id or UUID)", field="organization"
    )


def _check_password(password: str, user: User) -> None:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput(
            "密码不符合要求 (password rejected): " + " ".join(exc.messages), field="password"
        ) from None


def create_user(
    *,
    username: str,
    role: str,
    organization: Organization | None,
    password: str,
    practitioner: Practitioner | None = None,
    resident: Resident | None = None,
    first_name: str = "",
    superuser: bool = False,
    check_password: bool = True,
    actor: audit.Actor | None = None,
) -> User:
    """Create a user of one community. The community is the organisation's (or the resident's).

    `check_password=False` is for the demo, whose password an operator chose through the environment."""
    username = (username or "").strip()
    if not username:
        raise InvalidInput("请填写用户名 (username is required)", field="username")
    if role not in Role.values:
        raise InvalidInput(f"未知角色 {role} (unknown role; one of {', '.join(Role.values)})", field="role")
    if role == Role.RESIDENT and resident is None:
        raise InvalidInput("居民账号须关联居民档案 (a resident user needs --resident)", field="resident")
    community_id = (
        organization.community_id if organization else (resident.community_id if resident else None)
    )
    if community_id is None:
        raise InvalidInput("请指定机构 (organisation is required)", field="organization")
    if practitioner is not None and practitioner.community_id != community_id:
        raise InvalidInput(
            "医务人员不属于该机构所在医共体 (practitioner is in another community)", field="practitioner"
        )
    if resident is not None and resident.community_id != community_id:
        raise InvalidInput("居民不属于该机构所在医共体 (resident is in another community)", field="resident")
    user = User(
        username=username,
        role=role,
        community_id=community_id,
        organization=organization,
        practitioner=practitioner,
        resident=resident,
        first_name=first_name,
        is_staff=superuser,
        is_superuser=superuser,
    )
    if check_password:
        _check_password(password, user)
    user.set_password(password)
    with transaction.atomic():
        if User.objects.filter(username=username).exists():
            raise Conflict(f"用户名 {username} 已存在 (username already exists)", field="username")
        user.save()
        audit.record(
            actor or audit.Actor.system("cli"),
            "create",
            "User",
            user.pk,
            detail={
                "username": username,
                "role": role,
                "organization": organization.pk if organization else None,
                "practitioner": practitioner.pk if practitioner else None,
                "resident": str(resident.uuid) if resident else None,
                "superuser": superuser,
            },
        )
    return user


def set_password(
    *, user: User, password: str, check_password: bool = True, actor: audit.Actor | None = None
) -> User:
    if check_password:
        _check_password(password, user)
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        audit.record(
            actor or audit.Actor.system("cli"),
            "set_password",
            "User",
            user.pk,
            detail={"username": user.username},
        )
    return user
