"""Where the history, incident history, subscriptions and outbox live (SPEC §11)."""
