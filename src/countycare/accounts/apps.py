from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "countycare.accounts"
    label = "accounts"
    verbose_name = "账户 Accounts"
