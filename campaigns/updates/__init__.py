"""Updates to a campaign's signers: drafts, the test send, the fan-out through the outbox (rate-limited, resumed
after a crash, never twice), the per-recipient message with its one-click unsubscribe, and the public timeline."""

__all__ = ["fanout", "message", "unsubscribe", "updates"]
