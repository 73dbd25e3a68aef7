"""Use cases: one function per thing a user does, each its own unit of work (`services.unit.of_work`): one
transaction with its audit entry, `meeting.seq` moved once (`unit.bump`), committed by the use case itself, which
returns a frozen `unit.Change` (or a `unit.Done` carrying one) saying what changed; a refusal raises a `DomainError`
and rolls back. The skins (web/, realtime/) parse, call, hand the change to `realtime.announce`, and reply.

The two measured hot paths commit outside `of_work`, documented where they do: the page turn
(`documents.turn`, on the DBAPI connection, without fsync) and the ballot group commit (realtime/voting.BallotWriter).
"""
