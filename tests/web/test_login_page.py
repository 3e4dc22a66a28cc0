"""The styled login page, sign-in, and the lock-out page after repeated failures (django-axes)."""

from tests.conftest import PASSWORD


def test_the_login_page_is_styled_and_in_chinese(db, client):
    body = client.get("/login/").content.decode()
    assert "县域医共体信息平台" in body and "登录" in body and "web/countycare.css" in body
    assert 'name="csrfmiddlewaretoken"' in body


def test_signing_in_leads_home(county, client):
    response = client.post("/login/", {"username": "township_doctor", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    assert "您好，医生township_doctor" in client.get("/").content.decode()


def test_signing_in_follows_next(county, client):
    response = client.post(
        "/login/?next=/residents/",
        {"username": "township_doctor", "password": PASSWORD, "next": "/residents/"},
    )
    assert response["Location"] == "/residents/"


def test_a_wrong_password_is_refused_on_the_page(county, client):
    response = client.post("/login/", {"username": "township_doctor", "password": "nope"})
    assert response.status_code == 200
    assert "请输入一个正确的用户名和密码" in response.content.decode()


def test_repeated_failures_show_the_lock_out_page(county, client, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/login/", {"username": "township_doctor", "password": "nope"})
    response = client.post("/login/", {"username": "township_doctor", "password": PASSWORD})
    body = response.content.decode()
    assert response.status_code == 429
    assert "账号已锁定" in body and "锁定 15 分钟" in body
