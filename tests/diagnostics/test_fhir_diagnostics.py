"""FHIR: exam requests as ServiceRequest (one endpoint with referrals), DiagnosticReport with its versions,
ECG measurements as Observation, ImagingStudy, Media and Binary — read, search, scope, audit."""

import base64

import pytest
from tests.diagnostics.api_fhir_helpers import (
    Api,
    acquired_ecg,
    client,
    ecg_files,
    fresh,
    imaging_study,
    lab_results,
    reported_ecg,
    request_exam,
    uploaded,
)
from tests.fhir.conftest import outcome, valid
from tests.fhir.records_helpers import refer

from countycare.core.models import AuditEvent
from countycare.diagnostics import fhir as dx_fhir
from countycare.diagnostics import services


def ids(bundle) -> list[str]:
    return [entry["resource"]["id"] for entry in bundle.get("entry", [])]


def types(bundle) -> list[str]:
    return [entry["resource"]["resourceType"] for entry in bundle.get("entry", [])]


# --- ServiceRequest ----------------------------------------------------------------------------------------


def test_an_exam_request_reads_as_a_service_request_with_its_category_code_and_accession(dx):
    exam = request_exam(dx, "ECG12", priority="urgent")
    response = client(dx, "village_doctor").get(f"/fhir/ServiceRequest/{exam.uuid}")
    assert response.status_code == 200, response.content.decode()
    body = response.json()
    valid(body)
    assert response["ETag"] == f'W/"{exam.version}"'
    assert body["status"] == "active" and body["intent"] == "order" and body["priority"] == "urgent"
    ecg = {"system": dx_fhir.EXAM_CATEGORY_SYSTEM, "code": "ecg", "display": "心电 ECG"}
    assert ecg in body["category"][0]["coding"]
    codes = {(c["system"], c["code"]) for c in body["code"]["coding"]}
    assert (dx_fhir.EXAM_TYPE_SYSTEM, "ECG12") in codes and ("http://loinc.org", "11524-6") in codes
    assert body["identifier"][0]["value"] == exam.accession_number
    assert body["subject"]["reference"] == f"Patient/{dx.residents['zhang_san'].uuid}"
    assert body["performer"][0]["reference"] == f"Organization/{dx.orgs['lead'].uuid}"
    assert body["requester"]["reference"] == f"Organization/{dx.orgs['east_v1'].uuid}"
    step = next(e for e in body["extension"] if e["url"] == dx_fhir.EXT_EXAM_STATUS)
    assert step["valueCoding"]["code"] == "requested"
    assert body["reasonCode"][0]["text"].startswith("胸闷")
    assert AuditEvent.objects.filter(object_type="ExamRequest", object_id=str(exam.uuid), channel="fhir",
                                     action="read").exists()


def test_one_service_request_search_returns_referrals_and_exams_and_category_tells_them_apart(dx):
    referral = refer(dx)
    exam = request_exam(dx, "ECG12")
    lab = request_exam(dx, "BMP")
    api = client(dx, "village_doctor")
    patient = f"Patient/{dx.residents['zhang_san'].uuid}"
    everything = api.get("/fhir/ServiceRequest", {"patient": patient}).json()
    valid(everything)
    assert set(ids(everything)) == {str(referral.uuid), str(exam.uuid), str(lab.uuid)}
    assert everything["total"] == 3
    only_referrals = api.get("/fhir/ServiceRequest", {"patient": patient, "category": "3457005"}).json()
    assert ids(only_referrals) == [str(referral.uuid)]
    ecg = api.get("/fhir/ServiceRequest", {"patient": patient, "category": f"{dx_fhir.EXAM_CATEGORY_SYSTEM}|ecg"})
    assert ids(ecg.json()) == [str(exam.uuid)]
    labs = api.get("/fhir/ServiceRequest", {"category": "http://snomed.info/sct|108252007"}).json()
    assert ids(labs) == [str(lab.uuid)]
    both = api.get("/fhir/ServiceRequest", {"category": "3457005,ecg"}).json()
    assert set(ids(both)) == {str(referral.uuid), str(exam.uuid)}
    assert ids(api.get("/fhir/ServiceRequest", {"code": "ECG12"}).json()) == [str(exam.uuid)]
    assert ids(api.get("/fhir/ServiceRequest", {"identifier": lab.accession_number}).json()) == [str(lab.uuid)]
    # paging runs over both tables, newest first
    first = api.get("/fhir/ServiceRequest", {"patient": patient, "_count": 2}).json()
    second = api.get("/fhir/ServiceRequest", {"patient": patient, "_count": 2, "page": 2}).json()
    assert len(ids(first)) == 2 and len(ids(second)) == 1
    assert set(ids(first) + ids(second)) == {str(referral.uuid), str(exam.uuid), str(lab.uuid)}
    assert ids(first)[0] == str(lab.uuid)  # the newest
    audited = set(AuditEvent.objects.filter(channel="fhir", action="search").values_list("object_type", flat=True))
    assert {"Referral", "ExamRequest"} <= audited


def test_search_by_status_priority_performer_requester_and_authored(dx):
    routine = request_exam(dx, "ECG12")
    stat = request_exam(dx, "TNI", priority="stat")
    services.cancel_request(user=dx.users["village_doctor"], request=fresh(routine), reason="患者拒绝 refused",
                            expected_version=fresh(routine).version)
    api = client(dx, "village_doctor")
    assert ids(api.get("/fhir/ServiceRequest", {"status": "revoked", "category": "ecg"}).json()) == [str(routine.uuid)]
    assert ids(api.get("/fhir/ServiceRequest", {"priority": "stat"}).json()) == [str(stat.uuid)]
    lead = f"Organization/{dx.orgs['lead'].uuid}"
    assert set(ids(api.get("/fhir/ServiceRequest", {"performer": lead}).json())) == {str(routine.uuid), str(stat.uuid)}
    doctor = f"Practitioner/{dx.practitioners['village_doctor'].uuid}"
    assert len(ids(api.get("/fhir/ServiceRequest", {"requester": doctor}).json())) == 2
    today = fresh(stat).requested_at.astimezone().date().isoformat()
    assert len(ids(api.get("/fhir/ServiceRequest", {"authored": f"ge{today}", "category": "lab"}).json())) == 1
    cancelled = api.get(f"/fhir/ServiceRequest/{routine.uuid}").json()
    assert cancelled["status"] == "revoked" and "患者拒绝" in cancelled["note"][0]["text"]


def test_someone_outside_scope_neither_reads_nor_finds_the_exam(dx):
    exam = request_exam(dx, "ECG12")
    stranger = client(dx, "west_doctor")
    outcome(stranger.get(f"/fhir/ServiceRequest/{exam.uuid}"), 404)
    assert ids(stranger.get("/fhir/ServiceRequest", {"category": "ecg"}).json()) == []
    outcome(client(dx, "bureau_viewer").get("/fhir/ServiceRequest", {"category": "ecg"}), 403)
    outcome(client(dx, "village_doctor").get("/fhir/ServiceRequest/not-a-uuid"), 404)
    # the centre's reader sees what was sent to the centre
    assert ids(client(dx, "centre_reader").get("/fhir/ServiceRequest", {"category": "ecg"}).json()) == [str(exam.uuid)]


@pytest.mark.parametrize(
    "params",
    [{"status": "nonsense"}, {"authored": "yesterday"}, {"priority": "soonish"}, {"performer": "Patient/1"},
     {"category:text": "ecg"}, {"_sort": "authored"}],
)
def test_a_bad_search_is_a_400_operation_outcome(dx, params):
    outcome(client(dx, "village_doctor").get("/fhir/ServiceRequest", params), 400)


# --- DiagnosticReport --------------------------------------------------------------------------------------


def test_a_published_report_reads_with_its_results_media_and_version(dx):
    exam = reported_ecg(dx)
    api = client(dx, "village_doctor")
    response = api.get(f"/fhir/DiagnosticReport/{exam.uuid}")
    assert response.status_code == 200, response.content.decode()
    body = response.json()
    valid(body)
    assert response["ETag"] == 'W/"1"' and body["meta"]["versionId"] == "1"
    assert body["status"] == "final"
    assert body["basedOn"][0]["reference"] == f"ServiceRequest/{exam.uuid}"
    assert body["category"][0]["coding"][0] == {"system": dx_fhir.DIAGNOSTIC_SECTION_SYSTEM, "code": "EC",
                                                "display": "Electrocardiac"}
    assert body["conclusion"].startswith("窦性心律")
    text = base64.b64decode(body["presentedForm"][0]["data"]).decode()
    assert "PR 160 ms" in text and "窦性心律" in text
    results = [r["reference"] for r in body["result"]]
    assert f"Observation/{exam.uuid}-hr" in results
    assert any(not r.endswith(("-hr", "-pr", "-qrs", "-qt", "-qtc")) for r in results)  # the record's entry
    assert len(body["media"]) == 2
    assert body["resultsInterpreter"][0]["reference"] == f"Practitioner/{dx.practitioners['centre_reader'].uuid}"
    assert AuditEvent.objects.filter(object_type="Report", channel="fhir", action="read").exists()


def test_a_revision_is_a_new_version_and_every_version_stays_readable(dx):
    exam = reported_ecg(dx)
    reader = dx.users["centre_reader"]
    services.revise_report(user=reader, request=fresh(exam), findings="心率72次/分，PR 220 ms。",
                           conclusion="一度房室传导阻滞 first-degree AV block", reason="PR 间期复核 PR re-measured",
                           expected_version=fresh(exam).version)
    api = client(dx, "village_doctor")
    current = api.get(f"/fhir/DiagnosticReport/{exam.uuid}")
    assert current["ETag"] == 'W/"2"'
    body = current.json()
    assert body["status"] == "amended" and body["conclusion"].startswith("一度")
    assert any(e["url"] == dx_fhir.EXT_REVISION_REASON for e in body["extension"])
    first = api.get(f"/fhir/DiagnosticReport/{exam.uuid}/_history/1")
    assert first.status_code == 200, first.content.decode()
    assert first.json()["status"] == "final" and first.json()["conclusion"].startswith("窦性心律")
    assert first["ETag"] == 'W/"1"'
    history = api.get(f"/fhir/DiagnosticReport/{exam.uuid}/_history").json()
    valid(history)
    assert history["type"] == "history" and history["total"] == 2
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == ["2", "1"]
    assert [e["request"]["method"] for e in history["entry"]] == ["PUT", "POST"]
    outcome(api.get(f"/fhir/DiagnosticReport/{exam.uuid}/_history/9"), 404)
    outcome(api.get(f"/fhir/DiagnosticReport/{exam.uuid}/_history/x"), 404)
    outcome(client(dx, "west_doctor").get(f"/fhir/DiagnosticReport/{exam.uuid}/_history"), 404)
    outcome(api.get(f"/fhir/Patient/{dx.residents['zhang_san'].uuid}/_history"), 404)
    outcome(api.post(f"/fhir/DiagnosticReport/{exam.uuid}/_history", {}), 405)


def test_a_preliminary_report_is_for_the_centre_until_the_second_reading_publishes_it(dx):
    exam = acquired_ecg(dx)
    reader = dx.users["centre_reader"]
    services.claim(user=reader, request=fresh(exam))
    services.write_report(user=reader, request=fresh(exam), findings="待审核", conclusion="疑似房颤 possible AF",
                          expected_version=fresh(exam).version, second_reading=True)
    outcome(client(dx, "village_doctor").get(f"/fhir/DiagnosticReport/{exam.uuid}"), 404)
    seen = client(dx, "centre_reader").get(f"/fhir/DiagnosticReport/{exam.uuid}")
    assert seen.status_code == 200 and seen.json()["status"] == "preliminary"
    assert ids(client(dx, "village_doctor").get("/fhir/DiagnosticReport", {"status": "preliminary"}).json()) == []


def test_search_reports_by_patient_status_category_date_performer_and_request(dx):
    ecg = reported_ecg(dx)
    services.publish_lab_results(request=fresh(request_exam(dx, "BMP")), results=lab_results(),
                                 verifier=dx.practitioners["centre_reader"], channel="web",
                                 actor=dx.users["centre_reader"])
    api = client(dx, "village_doctor")
    patient = f"Patient/{dx.residents['zhang_san'].uuid}"
    every = api.get("/fhir/DiagnosticReport", {"patient": patient}).json()
    valid(every)
    assert every["total"] == 2
    assert ids(api.get("/fhir/DiagnosticReport", {"category": "EC"}).json()) == [str(ecg.uuid)]
    assert len(ids(api.get("/fhir/DiagnosticReport", {"category": f"{dx_fhir.EXAM_CATEGORY_SYSTEM}|lab"}).json())) == 1
    assert api.get("/fhir/DiagnosticReport", {"status": "final"}).json()["total"] == 2
    assert api.get("/fhir/DiagnosticReport", {"status": "amended"}).json()["total"] == 0
    reader = f"Practitioner/{dx.practitioners['centre_reader'].uuid}"
    assert api.get("/fhir/DiagnosticReport", {"performer": reader}).json()["total"] == 2
    assert api.get("/fhir/DiagnosticReport", {"performer": f"Organization/{dx.orgs['lead'].uuid}"}).json()["total"] == 2
    assert ids(api.get("/fhir/DiagnosticReport", {"based-on": f"ServiceRequest/{ecg.uuid}"}).json()) == [str(ecg.uuid)]
    assert api.get("/fhir/DiagnosticReport", {"date": "ge2020-01-01", "issued": "ge2020"}).json()["total"] == 2
    assert api.get("/fhir/DiagnosticReport", {"date": "lt2020-01-01"}).json()["total"] == 0
    assert api.get("/fhir/DiagnosticReport", {"code": "ECG12"}).json()["total"] == 1
    assert client(dx, "west_doctor").get("/fhir/DiagnosticReport", {"patient": patient}).json()["total"] == 0
    outcome(api.get("/fhir/DiagnosticReport", {"status": "done"}), 400)


# --- Observation: ECG measurements -------------------------------------------------------------------------


def test_ecg_measurements_are_preliminary_loinc_observations_of_the_pre_read(dx):
    exam = acquired_ecg(dx, heart_rate=72)
    api = client(dx, "village_doctor")
    response = api.get(f"/fhir/Observation/{exam.uuid}-hr")
    assert response.status_code == 200, response.content.decode()
    body = response.json()
    valid(body)
    assert body["status"] == "preliminary"
    assert body["code"]["coding"][0] == {"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}
    assert body["valueQuantity"]["code"] == "/min" and abs(body["valueQuantity"]["value"] - 72) <= 5
    assert body["basedOn"][0]["reference"] == f"ServiceRequest/{exam.uuid}"
    assert {d["reference"].split("/")[0] for d in body["derivedFrom"]} == {"Media"}
    assert "pre-read" in body["method"]["text"]
    patient = f"Patient/{dx.residents['zhang_san'].uuid}"
    rates = api.get("/fhir/Observation", {"patient": patient, "code": "http://loinc.org|8867-4"}).json()
    assert ids(rates) == [f"{exam.uuid}-hr"]
    measured = api.get("/fhir/Observation", {"patient": patient, "category": "procedure"}).json()
    assert {i.rsplit("-", 1)[1] for i in ids(measured)} <= {"hr", "pr", "qrs", "qt", "qtc"}
    assert "hr" in {i.rsplit("-", 1)[1] for i in ids(measured)}
    assert ids(api.get("/fhir/Observation", {"_id": f"{exam.uuid}-hr"}).json()) == [f"{exam.uuid}-hr"]
    outcome(client(dx, "west_doctor").get(f"/fhir/Observation/{exam.uuid}-hr"), 404)
    outcome(api.get(f"/fhir/Observation/{exam.uuid}-xx"), 404)
    assert AuditEvent.objects.filter(object_type="EcgMeasurement", channel="fhir").exists()


def test_an_observation_search_runs_over_the_record_and_the_ecg_measurements(dx):
    exam = reported_ecg(dx)
    api = client(dx, "village_doctor")
    patient = f"Patient/{dx.residents['zhang_san'].uuid}"
    found = api.get("/fhir/Observation", {"patient": patient, "_count": 100}).json()
    valid(found)
    assert f"{exam.uuid}-hr" in ids(found)
    assert any("-" in i and not i.endswith(("-hr", "-pr", "-qrs", "-qt", "-qtc")) for i in ids(found))
    assert found["total"] == len(ids(found))
    final = api.get("/fhir/Observation", {"patient": patient, "status": "final"}).json()
    assert not any(i.startswith(str(exam.uuid)) for i in ids(final))


# --- ImagingStudy ------------------------------------------------------------------------------------------


def test_an_imaging_study_points_at_orthanc_over_dicomweb(dx, settings):
    settings.ORTHANC_PUBLIC_URL = "https://pacs.example.cn"
    study = imaging_study(dx)
    api = client(dx, "village_doctor")
    response = api.get(f"/fhir/ImagingStudy/{study.uuid}")
    assert response.status_code == 200, response.content.decode()
    body = response.json()
    valid(body)
    assert body["status"] == "available"
    assert body["identifier"][0] == {"system": "urn:dicom:uid", "value": f"urn:oid:{study.study_instance_uid}"}
    endpoint = body["contained"][0]
    assert endpoint["resourceType"] == "Endpoint" and endpoint["address"] == "https://pacs.example.cn/dicom-web"
    assert endpoint["connectionType"]["code"] == "dicom-wado-rs"
    assert body["series"][0]["uid"] == study.study_instance_uid + ".1"
    assert body["series"][0]["modality"]["code"] == "DX" and body["numberOfInstances"] == 2
    assert body["basedOn"][0]["reference"] == f"ServiceRequest/{study.request.uuid}"
    patient = f"Patient/{dx.residents['zhang_san'].uuid}"
    for params in ({"patient": patient}, {"identifier": f"urn:dicom:uid|urn:oid:{study.study_instance_uid}"},
                   {"identifier": study.request.accession_number}, {"modality": "DX"}, {"status": "available"},
                   {"basedon": f"ServiceRequest/{study.request.uuid}"}, {"started": "ge2020"},
                   {"performer": f"Practitioner/{dx.practitioners['village_doctor'].uuid}"}):
        assert ids(api.get("/fhir/ImagingStudy", params).json()) == [str(study.uuid)], params
    assert ids(api.get("/fhir/ImagingStudy", {"modality": "CT"}).json()) == []
    assert ids(client(dx, "west_doctor").get("/fhir/ImagingStudy").json()) == []
    outcome(client(dx, "west_doctor").get(f"/fhir/ImagingStudy/{study.uuid}"), 404)
    outcome(api.fhir_post("/fhir/ImagingStudy", {"resourceType": "ImagingStudy", "status": "available",
                                                 "subject": {"reference": patient}}), 405)


def test_a_study_sent_back_by_quality_control_is_cancelled(dx):
    study = imaging_study(dx)
    services.return_acquisition(user=dx.users["centre_reader"], request=fresh(study.request),
                                reason="体位不正 wrong position", expected_version=fresh(study.request).version)
    body = client(dx, "village_doctor").get(f"/fhir/ImagingStudy/{study.uuid}").json()
    assert body["status"] == "cancelled" and "体位不正" in body["note"][0]["text"]


# --- Media, Binary -----------------------------------------------------------------------------------------


def test_tracing_files_are_media_with_their_bytes_in_binary(dx):
    exam = acquired_ecg(dx)
    api = client(dx, "village_doctor")
    found = api.get("/fhir/Media", {"based-on": f"ServiceRequest/{exam.uuid}"}).json()
    valid(found)
    assert found["total"] == 2
    header = next(e["resource"] for e in found["entry"] if e["resource"]["content"]["title"].endswith(".hea"))
    assert header["modality"]["coding"][0]["code"] == "ECG"
    assert header["content"]["url"] == f"Binary/{header['id']}"
    binary = api.get(f"/fhir/{header['content']['url']}")
    assert binary.status_code == 200, binary.content.decode()
    valid(binary.json())
    assert base64.b64decode(binary.json()["data"]) == ecg_files()[0][1]
    assert binary.json()["securityContext"]["reference"] == f"ServiceRequest/{exam.uuid}"
    assert header["content"]["size"] == len(ecg_files()[0][1])
    assert ids(api.get("/fhir/Media", {"modality": "ECG", "status": "completed"}).json())
    assert ids(api.get("/fhir/Media", {"type": "image"}).json()) == []
    outcome(client(dx, "west_doctor").get(f"/fhir/Binary/{header['id']}"), 404)
    outcome(client(dx, "west_doctor").get(f"/fhir/Media/{header['id']}"), 404)
    outcome(api.get("/fhir/Binary"), 405)
    outcome(api.fhir_post("/fhir/Binary", {"resourceType": "Binary", "contentType": "text/plain"}), 405)
    assert AuditEvent.objects.filter(object_type="Attachment", channel="fhir", object_id=header["id"]).count() == 3


def test_pathology_slides_are_images(dx):
    exam = request_exam(dx, "BIOPSY")
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    services.attach_specimen(user=dx.users["village_doctor"], request=fresh(exam), specimen_type="胃窦活检",
                             site="胃窦 gastric antrum", slides=uploaded([("slide1.png", png, "image/png")]),
                             expected_version=fresh(exam).version)
    body = client(dx, "village_doctor").get("/fhir/Media", {"type": "image"}).json()
    assert body["total"] == 1
    media = body["entry"][0]["resource"]
    assert media["modality"]["coding"][0]["code"] == "SM" and media["bodySite"]["text"].startswith("胃窦")


# --- CapabilityStatement -----------------------------------------------------------------------------------


def test_the_capability_statement_says_what_each_new_type_answers(db):
    rest = Api(None).get("/fhir/metadata").json()["rest"][0]
    resources = {r["type"]: r for r in rest["resource"]}
    interactions = {kind: {i["code"] for i in r["interaction"]} for kind, r in resources.items()}
    assert interactions["DiagnosticReport"] == {"read", "vread", "history-instance", "search-type", "create"}
    assert resources["DiagnosticReport"]["readHistory"] is True
    assert interactions["ImagingStudy"] == interactions["Media"] == {"read", "vread", "search-type"}
    assert interactions["Binary"] == {"read", "vread"}
    assert interactions["ServiceRequest"] == {"read", "vread", "search-type", "create"}
    params = {kind: {p["name"] for p in r["searchParam"]} for kind, r in resources.items()}
    assert params["ServiceRequest"] >= {"patient", "status", "category", "code", "performer", "authored",
                                        "requester", "priority", "identifier"}
    assert params["DiagnosticReport"] >= {"patient", "status", "category", "date", "performer", "based-on", "issued"}
    assert params["ImagingStudy"] >= {"patient", "status", "started", "basedon", "identifier", "modality"}
    assert params["Media"] >= {"patient", "status", "created", "based-on", "modality", "operator"}
    assert "Exam requests" in resources["ServiceRequest"]["documentation"]
    assert "Referrals" in resources["ServiceRequest"]["documentation"]


NASTY = ["", "eq2026-13-45", "ne2026", "a|b|c", "Organization/x/y", "2026-03-02T09:00", "9" * 40, "张三", "ecg,",
         "\\,", "http://snomed.info/sct|", "Practitioner/1"]


@pytest.mark.parametrize("resource", ["ServiceRequest", "DiagnosticReport", "Observation", "ImagingStudy", "Media"])
def test_no_search_value_is_a_server_error(dx, resource):
    reported_ecg(dx)
    api = client(dx, "centre_reader")
    names = [p["name"] for p in next(r for r in Api(None).get("/fhir/metadata").json()["rest"][0]["resource"]
                                     if r["type"] == resource)["searchParam"]]
    for name in names:
        for value in NASTY:
            response = api.get(f"/fhir/{resource}", {name: value})
            assert response.status_code in (200, 400), (name, value, response.content.decode()[:300])
            valid(response.json())
