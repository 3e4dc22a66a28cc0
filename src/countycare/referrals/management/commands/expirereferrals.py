from django.core.management.base import BaseCommand

from countycare.referrals import services


class Command(BaseCommand):
    help = "Expire referrals not arrived by their due time (policy referral_expiry_days); run it daily"

    def handle(self, *args, **options):
        expired = services.expire_overdue()
        self.stdout.write(f"referrals expired: {expired}")
