"""The problem list: chronic diagnoses become active problems once, whoever diagnoses them; resolving takes one
off, and a later diagnosis puts it back."""

import pytest
from django.utils import timezone
from tests.records.record_helpers import chronic_visit

from countycare.core.errors import Conflict, NotFound, PermissionDenied
from countycare.core.models import AuditEvent
from countycare.records import queries, services
from countycare.records.models import Problem, ProblemStatus


def test_a_chronic_diagnosis_goes_on_the_problem_list(county):
    encounter = chronic_visit(county, "village_doctor", "zhang_san", "I10", "J06.9")
    problem = Problem.objects.get()
    assert (problem.code, problem.display, problem.status) == ("I10", "特发性（原发性）高血压", ProblemStatus.ACTIVE)
    assert problem.organization == county.orgs["east_v1"]
    assert problem.source_diagnosis == encounter.diagnoses.get(code="I10")
    assert problem.onset_date == timezone.localtime(encounter.started_at).date()
    event = AuditEvent.objects.get(object_type="Problem")
    assert (event.action, event.object_id) == ("create", str(problem.uuid))


def test_the_same_condition_is_not_added_twice_by_different_organisations(county):
    chronic_visit(county, "village_doctor", "zhang_san", "I10", days=30)
    chronic_visit(county, "township_doctor", "zhang_san", "I10", "E11.9", days=2)
    assert sorted(Problem.objects.values_list("code", flat=True)) == ["E11.9", "I10"]


def test_active_problems_lists_them_in_the_order_recorded_and_audits_the_read(county):
    chronic_visit(county, "village_doctor", "zhang_san", "E11.9", days=30)
    chronic_visit(county, "village_doctor", "zhang_san", "I10", days=2)
    problems = queries.active_problems(county.users["township_doctor"], county.residents["zhang_san"])
    assert [p.code for p in problems] == ["E11.9", "I10"]
    assert AuditEvent.objects.filter(action="read", object_type="ProblemList",
                                     resident_id=str(county.residents["zhang_san"].uuid)).exists()


def test_active_problems_outside_scope_are_not_found_and_the_bureau_is_refused(county):
    with pytest.raises(NotFound):
        queries.active_problems(county.users["west_doctor"], county.residents["zhang_san"])
    with pytest.raises(PermissionDenied):
        queries.active_problems(county.users["bureau_viewer"], county.residents["zhang_san"])


def test_resolving_takes_a_problem_off_and_a_new_diagnosis_puts_it_back(county):
    chronic_visit(county, "village_doctor", "zhang_san", "J45", days=60)
    problem = Problem.objects.get()
    resolved = services.resolve_problem(user=county.users["township_doctor"], problem=problem, channel="web")
    assert resolved.status == ProblemStatus.RESOLVED and resolved.resolved_at and resolved.version == 2
    assert queries.active_problems(county.users["township_doctor"], county.residents["zhang_san"]) == []
    assert AuditEvent.objects.filter(action="update", object_type="Problem", object_id=str(problem.uuid)).exists()
    chronic_visit(county, "village_doctor", "zhang_san", "J45", days=1)
    assert Problem.objects.filter(status=ProblemStatus.ACTIVE, code="J45").count() == 1
    assert Problem.objects.count() == 2


def test_resolving_a_problem_someone_already_resolved_is_a_conflict(county):
    chronic_visit(county, "village_doctor", "zhang_san", "I10")
    seen = Problem.objects.get()
    services.resolve_problem(user=county.users["village_doctor"], problem=Problem.objects.get(), channel="web")
    with pytest.raises(Conflict):
        services.resolve_problem(user=county.users["township_doctor"], problem=seen, channel="web")
    assert Problem.objects.get().version == 2


def test_resolving_needs_a_doctor_with_the_resident_in_scope(county):
    chronic_visit(county, "village_doctor", "zhang_san", "I10")
    problem = Problem.objects.get()
    with pytest.raises(NotFound):
        services.resolve_problem(user=county.users["west_doctor"], problem=problem, channel="web")
    with pytest.raises(PermissionDenied):
        services.resolve_problem(user=county.users["pharmacist"], problem=problem, channel="web")
    assert Problem.objects.get().status == ProblemStatus.ACTIVE
