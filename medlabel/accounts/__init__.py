"""Platform accounts: passwords, invites, sessions, and each physician's Label Studio identity."""
