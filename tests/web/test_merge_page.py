"""合并: a community admin folds a duplicate into a record (reason and confirmation required) and can undo it
from the record's audit trail."""

from tests.helpers import duplicate_of_zhang_san

from countycare.core.models import AuditEvent
from countycare.registry.models import Resident


def submit_merge(client, survivor, duplicate, reason: str):
    """Submit the merge form for `duplicate` into `survivor`, the confirmation ticked."""
    return client.post(
        f"/residents/{survivor.uuid}/merge/", {"duplicate": str(duplicate.uuid), "reason": reason, "confirm": "on"}
    )


def test_the_merge_page_lists_the_likely_duplicate(county, as_role):
    dup = duplicate_of_zhang_san(county)
    body = as_role("community_admin").get(f"/residents/{county.residents['zhang_san'].uuid}/merge/").content.decode()
    assert f'value="{dup.uuid}"' in body
    assert "同名 same name" in body
    assert AuditEvent.objects.filter(action="duplicate-check", resident_id=str(dup.uuid)).exists()
    assert "我已核对两份档案，确认是同一人" in body


def test_the_merge_page_finds_other_records_by_search(county, as_role):
    body = (
        as_role("community_admin")
        .get(f"/residents/{county.residents['zhang_san'].uuid}/merge/", {"q": "ls"})
        .content.decode()
    )
    assert f'value="{county.residents["li_si"].uuid}"' in body


def test_a_merge_needs_a_reason_and_a_confirmation(county, as_role):
    dup = duplicate_of_zhang_san(county)
    url = f"/residents/{county.residents['zhang_san'].uuid}/merge/"
    body = as_role("community_admin").post(url, {"duplicate": str(dup.uuid), "reason": ""}).content.decode()
    assert "这个字段是必填项" in body and "请勾选确认" in body
    assert Resident.objects.get(pk=dup.pk).merged_into_id is None


def test_a_merge_folds_the_duplicate_in_and_can_be_undone(county, as_role):
    zhang = county.residents["zhang_san"]
    dup = duplicate_of_zhang_san(county)
    client = as_role("community_admin")
    response = submit_merge(client, zhang, dup, "同一人重复建档")
    assert response.status_code == 302 and response["Location"] == f"/residents/{zhang.uuid}/"
    assert Resident.objects.get(pk=dup.pk).merged_into_id == zhang.pk

    profile = client.get(f"/residents/{zhang.uuid}/").content.decode()
    merge = AuditEvent.objects.get(action="merge")
    assert "同一人重复建档" in profile and f'name="event" value="{merge.pk}"' in profile
    merged = client.get(f"/residents/{dup.uuid}/").content.decode()
    assert "此档案已合并到另一份档案" in merged and f"/residents/{dup.uuid}/edit/" not in merged

    undone = client.post(f"/residents/{zhang.uuid}/unmerge/", {"event": merge.pk, "reason": "合并有误"})
    assert undone.status_code == 302 and undone["Location"] == f"/residents/{dup.uuid}/"
    assert Resident.objects.get(pk=dup.pk).merged_into_id is None
    assert AuditEvent.objects.get(action="unmerge").reason == "合并有误"
    after = client.get(f"/residents/{zhang.uuid}/").content.decode()
    assert f'name="event" value="{merge.pk}"' not in after and "已撤销" in after


def test_undoing_needs_a_reason(county, as_role):
    zhang = county.residents["zhang_san"]
    dup = duplicate_of_zhang_san(county)
    client = as_role("community_admin")
    submit_merge(client, zhang, dup, "重复")
    merge = AuditEvent.objects.get(action="merge")
    response = client.post(f"/residents/{zhang.uuid}/unmerge/", {"event": merge.pk, "reason": ""}, follow=True)
    assert "请填写撤销合并的原因" in response.content.decode()
    assert Resident.objects.get(pk=dup.pk).merged_into_id == zhang.pk


def test_two_records_with_different_national_ids_are_not_merged(county, as_role):
    zhang = county.residents["zhang_san"]
    body = submit_merge(as_role("community_admin"), zhang, county.residents["li_si"], "误操作").content.decode()
    assert "两份档案身份证号不同，不是同一人" in body
    assert Resident.objects.get(pk=county.residents["li_si"].pk).merged_into_id is None


def test_a_record_cannot_be_merged_into_itself(county, as_role):
    zhang = county.residents["zhang_san"]
    body = submit_merge(as_role("community_admin"), zhang, zhang, "x").content.decode()
    assert "不能与自身合并" in body


def test_only_the_admin_may_undo_a_merge(county, as_role):
    zhang = county.residents["zhang_san"]
    assert (
        as_role("township_doctor").post(f"/residents/{zhang.uuid}/unmerge/", {"event": 1, "reason": "x"}).status_code
        == 403
    )


def test_undo_is_a_post(county, as_role):
    zhang = county.residents["zhang_san"]
    assert as_role("community_admin").get(f"/residents/{zhang.uuid}/unmerge/").status_code == 405
