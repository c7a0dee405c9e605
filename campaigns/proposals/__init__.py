"""Campaigns members propose: the proposal and the proposer's own link (``drafting``), co-sponsors confirming
by email and the credits on the campaign (``sponsoring``), the organizers' queue and decisions (``review``),
their emails (``mails``) and the expiry of proposals that never found their co-sponsors (``expiry``)."""

__all__ = ["drafting", "expiry", "mails", "review", "sponsoring"]
