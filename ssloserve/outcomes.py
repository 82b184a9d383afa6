"""What becomes of a request: served, late or dropped, and why it was dropped.

Chapter: 00_tour. The codes every runtime writes into ``Result.requests`` (``status`` and
``reason``) and the queues' drop rules return; at the package top, below the queues and
the runtimes, so both can use them.

Examples
--------
>>> STATUSES[LATE], REASONS.index("cannot_finish")
('late', 2)
"""

__all__ = ["STATUSES", "SERVED", "LATE", "DROPPED", "PENDING", "REASONS"]

#: Status codes stored in ``requests["status"]``; every request ends in exactly one.
STATUSES = ("served", "late", "dropped")
SERVED, LATE, DROPPED = 0, 1, 2
PENDING = -1  # only while a run is in progress; never in a returned Result

#: Reason codes stored in ``requests["reason"]`` (0 for served / late requests).
REASONS = (
    "",  # served or late: no reason needed
    "deadline_passed",  # dropped: its deadline passed while it waited
    "cannot_finish",  # dropped: its deadline is nearer than the service time of its batch
    "k_slo",  # dropped: it waited longer than k x SLO
    "replica_crash",  # its replica died and it was not retried
    "queue_full",  # no room in the queue
    "interrupted",  # the run was stopped (Ctrl-C) before it finished
    "no_replica",  # its stage had zero replicas at the end of the run
)
