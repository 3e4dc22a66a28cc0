"""The doctor's workstation: pages over the shared record and referrals (the top of the app stack)."""
