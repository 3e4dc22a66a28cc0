"""审计: the community's audit trail for the community administrator, filtered and paged."""

from countycare.core import audit
from countycare.core.models import AuditEvent


def test_the_audit_page_lists_reads_newest_first(county, as_role):
    as_role("village_doctor").get("/residents/", {"q": "zs"})
    as_role("village_doctor").get(f"/residents/{county.residents['zhang_san'].uuid}/")
    body = as_role("community_admin").get("/audit/").content.decode()
    assert body.index("查看") < body.index("搜索") and "village_doctor" in body and "“zs”" in body


def test_the_audit_page_filters_by_action_and_user(county, as_role):
    as_role("village_doctor").get("/residents/", {"q": "zs"})
    as_role("township_doctor").get(f"/residents/{county.residents['li_si'].uuid}/")
    client = as_role("community_admin")
    reads = client.get("/audit/", {"action": "read"}).content.decode()
    assert "township_doctor" in reads and "village_doctor" not in reads
    by_user = client.get("/audit/", {"username": "village"}).content.decode()
    assert "village_doctor" in by_user and "township_doctor" not in by_user
    by_resident = client.get("/audit/", {"resident": str(county.residents["li_si"].uuid)}).content.decode()
    assert "township_doctor" in by_resident and "village_doctor" not in by_resident


def test_the_audit_page_shows_only_the_own_community(county, as_role):
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                at="2026-01-01T00:00:00Z",
                community_id=county.community.pk + 1,
                username="stranger",
                action="read",
                object_type="Resident",
                prev_hash="0" * 64,
                hash="f" * 64,
            )
        ]
    )
    assert "stranger" not in as_role("community_admin").get("/audit/").content.decode()


def test_the_audit_page_is_paged(county, as_role):
    uuid = str(county.residents["zhang_san"].uuid)
    audit.record_many(
        audit.Actor.of(county.users["village_doctor"]),
        [audit.Entry("read", "Resident", uuid, resident_id=uuid) for _ in range(60)],
    )
    body = as_role("community_admin").get("/audit/").content.decode()
    assert "第 1 / 2 页" in body and "下一页" in body


def test_an_entry_whose_resident_is_not_a_uuid_still_renders(county, as_role):
    audit.record(audit.Actor.of(county.users["cdc_officer"], "cli"), "export", "Report", "r-1", resident_id="legacy-42")
    body = as_role("community_admin").get("/audit/").content.decode()
    assert "legacy-42" in body and "导出" in body and "命令行" in body
