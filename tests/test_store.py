"""The review store on real SQLite and real PostgreSQL: one test body, both databases."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from review_helpers import ADMIN, API, JAN, OLA, Clock, put, reject_as_insult, scored

from moderation.errors import (
    ConflictError,
    InvalidReasonError,
    LeaseError,
    LeaseExpiredError,
    NotFoundError,
    StorageUnavailableError,
)
from moderation.policy import Decision
from moderation.review import (
    ArticleIn,
    InvalidRequestError,
    QueueQuery,
    Store,
    Submission,
)
from moderation.review.submissions import Pending


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(database_url: str, clock: Clock) -> Iterator[Store]:
    store = Store(database_url, clock=clock)
    yield store
    store.close()


def actions(store: Store, comment_id: str) -> list[tuple[str, str, str | None, str | None]]:
    return [
        (entry.actor, entry.action, entry.from_status, entry.to_status)
        for entry in store.audit(comment_id)
    ]


# -- submission -------------------------------------------------------------------------------
def test_submit_stores_scores_decision_and_audit(store: Store, clock: Clock) -> None:
    submission = Submission("c-1", "Jesteś idiotą", "author-1", ArticleIn("art-1", "Tytuł"))
    decision = Decision("review", "review:toxicity>=0.62", ("review:toxicity>=0.62",))
    record, created = store.submit(submission, scored(toxicity=0.9, insult=0.8), decision, API)
    assert created
    stored = store.get_comment("c-1")
    assert stored == replace(record, history=stored.history)
    assert (stored.status, stored.article_id, stored.author_id) == ("review", "art-1", "author-1")
    assert stored.scores["toxicity"] == 0.9 and stored.flagged == ("toxicity", "insult")
    assert stored.result == {"spans": scored()["spans"]}
    assert stored.decision == decision.to_dict()
    assert stored.submitted_by == "api_key:cms" and stored.model_version == "test-1"
    assert stored.history is not None and [e.to_dict()["action"] for e in stored.history] == [
        "submit"
    ]
    entry = stored.history[0]
    assert (entry.actor_kind, entry.actor, entry.from_status, entry.to_status) == (
        "system",
        "policy",
        None,
        "review",
    )
    assert entry.details == {**decision.to_dict(), "submitted_by": "api_key:cms"}
    assert store.outbox_due(clock(), 10) == []  # queued, not final: no webhook yet


def test_published_comment_goes_to_the_outbox(store: Store, clock: Clock) -> None:
    put(store, "c-1", "publish", toxicity=0.01)
    (item,) = store.outbox_due(clock(), 10)
    assert item.event == "comment.published" and item.comment_id == "c-1"
    assert item.payload["decided_by"] is None and item.payload["status"] == "published"


def test_submit_is_idempotent_and_conflicts_on_other_text(store: Store) -> None:
    first = put(store, "c-1", toxicity=0.9)
    again, created = store.submit(
        Submission("c-1", first.text, "author-1"),
        scored(toxicity=0.1),  # a retry scored by a newer model changes nothing
        Decision("publish", "below_thresholds", ()),
        API,
    )
    assert not created and again == first
    with pytest.raises(ConflictError):
        store.submit(Submission("c-1", "inny tekst"), scored(), Decision("publish", "x", ()), API)
    assert store.get_comment("c-1", with_history=False) == first
    assert len(store.audit("c-1")) == 1


def test_submit_many_is_all_or_nothing(store: Store) -> None:
    put(store, "old", text="pierwszy")
    publish = Decision("publish", "below_thresholds", ())
    batch = [
        (Submission("n-1", "nowy", "a", ArticleIn("art-5", "T")), scored(), publish),
        (Submission("old", "pierwszy"), scored(toxicity=0.9), publish),  # a retry: unchanged
    ]
    stored = store.submit_many(batch, API)
    assert [(record.id, record.status, created) for record, created in stored] == [
        ("n-1", "published", True),
        ("old", "review", False),
    ]
    conflicting = [
        (Submission("n-2", "drugi"), scored(), publish),
        (Submission("old", "zmieniony"), scored(), publish),
    ]
    with pytest.raises(ConflictError):
        store.submit_many(conflicting, API)
    with pytest.raises(NotFoundError):  # nothing of the failed batch was written
        store.get_comment("n-2")
    assert [e.comment_id for e in store.audit()] == ["old", "n-1"]
    assert store.get_article("art-5") == ArticleIn("art-5", "T")


def test_submit_pending_decides_on_the_rejections_it_counts_in_the_transaction(
    store: Store, clock: Clock
) -> None:
    put(store, "t-0", author="troll")
    put(store, "t-1", author="troll")
    reject_as_insult(store, "t-0")
    clock.advance(10 * 86400)
    store.claim("ola", 5, 300, QueueQuery(order="oldest"))
    store.decide("t-1", OLA, "reject", "spam", None)
    seen: dict[str, int] = {}

    def decider(comment_id: str) -> Callable[[int], Decision]:
        def decide(rejections: int) -> Decision:
            seen[comment_id] = rejections
            if rejections >= 2:
                return Decision("hold", "repeat_offender", ("repeat_offender",))
            return Decision("publish", "below_thresholds", ())

        return decide

    def pending(comment_id: str, author: str | None, days: int | None) -> Pending:
        return Pending(Submission(comment_id, "tekst", author), scored(), decider(comment_id), days)

    stored = store.submit_pending(
        [
            pending("n-1", "troll", 30),  # both rejections in the window
            pending("n-2", "troll", 5),  # only the newer one
            pending("n-3", "troll", None),  # the rule is off: no count
            pending("n-4", None, 30),  # no author: no count
        ],
        API,
    )
    assert seen == {"n-1": 2, "n-2": 1, "n-3": 0, "n-4": 0}
    assert [(r.id, r.status, created, d.rule) for r, created, d in stored] == [
        ("n-1", "held", True, "repeat_offender"),
        ("n-2", "published", True, "below_thresholds"),
        ("n-3", "published", True, "below_thresholds"),
        ("n-4", "published", True, "below_thresholds"),
    ]
    # One audit row per new comment, in the batch's order, each with its decision.
    audit = [e for e in store.audit(limit=100) if e.action == "submit"][-4:]
    assert [(e.comment_id, e.to_status, (e.details or {}).get("rule")) for e in audit] == [
        ("n-1", "held", "repeat_offender"),
        ("n-2", "published", "below_thresholds"),
        ("n-3", "published", "below_thresholds"),
        ("n-4", "published", "below_thresholds"),
    ]
    # Published comments got their outbox rows in the same transaction.
    assert {item.comment_id for item in store.outbox_due(clock(), 50)} >= {"n-2", "n-3", "n-4"}
    # A retry keeps the first decision whatever the count is now.
    again = store.submit_pending([pending("n-2", "troll", 30)], API)
    assert [(r.status, created) for r, created, _ in again] == [("published", False)]


def test_submit_pending_reads_article_and_rejections_together_and_keeps_texts(
    store: Store,
) -> None:
    # With an author and an article, the count and the article's row come from one SELECT:
    # the count must be the author's, the article inserted once, changed texts updated.
    put(store, "t-0", author="troll")  # article art-1, title "Tytuł"
    reject_as_insult(store, "t-0")
    seen: dict[str, int] = {}

    def pending(comment_id: str, author: str, article: ArticleIn) -> Pending:
        def decide(rejections: int) -> Decision:
            seen[comment_id] = rejections
            return Decision("publish", "below_thresholds", ())

        return Pending(Submission(comment_id, "tekst", author, article), scored(), decide, 30)

    fresh = ArticleIn("art-new", "Świeży", "Lead")
    store.submit_pending(
        [
            pending("a-1", "troll", ArticleIn("art-1", "Nowy tytuł")),  # known, retitled
            pending("a-2", "troll", fresh),  # unknown: inserted
            pending("a-3", "troll", fresh),  # the same new article again in the batch
            pending("a-4", "nobody", ArticleIn("art-1")),  # no texts: keeps the stored ones
        ],
        API,
    )
    assert seen == {"a-1": 1, "a-2": 1, "a-3": 1, "a-4": 0}
    assert store.get_article("art-1") == ArticleIn("art-1", "Nowy tytuł")
    assert store.get_article("art-new") == fresh
    assert {store.get_comment(c).article_id for c in ("a-2", "a-3")} == {"art-new"}


def test_one_submission_at_a_time_keeps_articles_counts_and_outbox(
    store: Store, clock: Clock
) -> None:
    # The publishing system's usual call: one comment per request. On PostgreSQL this is the
    # one-statement path (a read, then one autocommit statement of CTEs); same results.
    put(store, "t-0", author="troll")
    reject_as_insult(store, "t-0")
    seen: dict[str, int] = {}

    def one(comment_id: str, article: ArticleIn | None, action: str = "publish") -> Decision:
        def decide(rejections: int) -> Decision:
            seen[comment_id] = rejections
            return Decision(action, f"rule-{action}", ())  # type: ignore[arg-type]

        item = Pending(Submission(comment_id, "tekst", "troll", article), scored(), decide, 30)
        ((record, created, decision),) = store.submit_pending([item], API)
        assert created and record.status == {"publish": "published", "review": "review"}[action]
        return decision

    fresh = ArticleIn("art-new", "Świeży", "Lead")
    one("s-1", fresh)  # unknown article: inserted
    one("s-2", ArticleIn("art-new", "Nowy tytuł"))  # retitled: updated, lead kept
    one("s-3", ArticleIn("art-new"), "review")  # no texts: nothing changes
    one("s-4", None)  # no article
    assert seen == {"s-1": 1, "s-2": 1, "s-3": 1, "s-4": 1}
    assert store.get_article("art-new") == ArticleIn("art-new", "Nowy tytuł", "Lead")
    for comment_id, status, rule in [
        ("s-1", "published", "rule-publish"),
        ("s-3", "review", "rule-review"),
    ]:
        history = store.get_comment(comment_id).history or []
        assert [(e.actor, e.action, e.to_status) for e in history] == [("policy", "submit", status)]
        assert history[0].details and history[0].details["rule"] == rule
    # Only the published ones announce their decision (the review one waits for a human).
    due = {item.comment_id for item in store.outbox_due(clock(), 50)}
    assert {"s-1", "s-2", "s-4"} <= due and "s-3" not in due


def test_a_conflicting_single_submission_writes_nothing(store: Store, clock: Clock) -> None:
    put(store, "c-1", "publish", text="pierwszy")
    audit_before, due_before = len(store.audit()), len(store.outbox_due(clock(), 50))
    other = Submission("c-1", "zmieniony", "author-2", ArticleIn("art-9", "Inny"))
    with pytest.raises(ConflictError):
        store.submit(other, scored(), Decision("publish", "below_thresholds", ()), API)
    again, created = store.submit(
        Submission("c-1", "pierwszy", "author-1", ArticleIn("art-9", "Inny")),
        scored(toxicity=0.9),
        Decision("review", "x", ()),
        API,
    )
    assert not created and again.status == "published"
    with pytest.raises(NotFoundError):  # neither the conflict nor the retry touched art-9
        store.get_article("art-9")
    assert len(store.audit()) == audit_before
    later = clock() + timedelta(days=1)  # past the lease the first look took
    assert len(store.outbox_due(later, 50)) == due_before


def test_postgres_stores_one_submission_in_two_autocommit_statements(
    postgres_url: str, clock: Clock
) -> None:
    # Why the one-statement path exists: a transaction cost BEGIN and COMMIT round trips
    # besides its four statements. Count what reaches the driver and how (at psycopg's
    # cursor: the hot path runs there, not through SQLAlchemy's execution events).
    import psycopg
    from db import empty_postgres

    empty_postgres(postgres_url)
    store = Store(postgres_url, clock=clock)
    try:
        put(store, "warm-up", author="a", article="art-1")  # the article exists now
        sent: list[tuple[str, bool, int]] = []
        execute = psycopg.Cursor.execute

        def record(cursor, query, *args, **kwargs):  # type: ignore[no-untyped-def]
            connection = cursor.connection
            sent.append((str(query).split()[0], connection.autocommit, id(connection)))
            return execute(cursor, query, *args, **kwargs)

        item = Pending(
            Submission("one", "tekst", "a", ArticleIn("art-1", "Nowy")),
            scored(),
            lambda _n: Decision("publish", "below_thresholds", ()),
            30,
        )
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(psycopg.Cursor, "execute", record)
            ((record_, created, _),) = store.submit_pending([item], API)
        assert created and record_.status == "published"
        assert [(word, autocommit) for word, autocommit, _ in sent] == [
            ("SELECT", True),
            ("WITH", True),
        ]
        assert sent[0][2] == sent[1][2]  # one pooled connection for both
        assert store.get_article("art-1").title == "Nowy"
        assert [e.action for e in store.audit("one")] == ["submit"]
    finally:
        store.close()


def test_articles_keep_their_texts(store: Store) -> None:
    with pytest.raises(NotFoundError):
        store.get_article("art-1")
    put(store, "c-1")  # with article art-1, title "Tytuł"
    assert store.get_article("art-1") == ArticleIn("art-1", "Tytuł")
    store.upsert_article(ArticleIn("art-1", lead="Lead", target="Rosja"))
    assert store.get_article("art-1") == ArticleIn("art-1", "Tytuł", "Lead", "Rosja")


def test_unknown_comment(store: Store) -> None:
    with pytest.raises(NotFoundError):
        store.get_comment("nope")


# -- queues, claims, leases, decisions ------------------------------------------------------
def test_list_queue_filters_and_orders(store: Store) -> None:
    put(store, "low", toxicity=0.6)
    put(store, "high", toxicity=0.95, threat=0.1)
    put(store, "held", "hold", toxicity=0.7, threat=0.9)
    put(store, "en", language="en", article="art-2", toxicity=0.8)
    put(store, "pub", "publish", toxicity=0.1)

    def ids(**query: object) -> list[str]:
        return [c.id for c in store.list_queue(QueueQuery(**query))]  # type: ignore[arg-type]

    assert ids() == ["high", "en", "held", "low"]
    assert ids(order="oldest") == ["low", "high", "held", "en"]
    assert ids(status=("held",)) == ["held"]
    assert ids(language="en") == ["en"]
    assert ids(article_id="art-2") == ["en"]
    assert ids(attribute="threat") == ["held", "high", "low", "en"]
    assert ids(attribute="threat", min_score=0.05) == ["held", "high"]
    assert ids(min_score=0.7, max_score=0.9) == ["en", "held"]
    assert ids(limit=2, offset=1) == ["en", "held"]
    with pytest.raises(InvalidRequestError):
        ids(attribute="rudeness")
    with pytest.raises(InvalidRequestError):
        ids(status=("deleted",))


def test_claim_lease_decide(store: Store, clock: Clock) -> None:
    for n, score in enumerate([0.7, 0.9, 0.8]):
        put(store, f"c-{n}", toxicity=score)
    mine = store.claim("ola", 2, 300, QueueQuery())
    assert [c.id for c in mine] == ["c-1", "c-2"]  # highest score first
    assert all(c.claimed_by == "ola" and c.lease_expires_at for c in mine)
    theirs = store.claim("jan", 5, 300, QueueQuery())
    assert [c.id for c in theirs] == ["c-0"]  # never someone else's live lease
    assert store.claim("jan", 5, 300, QueueQuery()) == []
    assert [c.id for c in store.list_queue(QueueQuery(include_claimed=False))] == []

    with pytest.raises(LeaseError) as not_holder:
        store.decide("c-1", JAN, "approve", None, None)
    assert not_holder.value.code == "not_lease_holder"
    with pytest.raises(InvalidReasonError):
        store.decide("c-1", OLA, "reject", None, None)
    with pytest.raises(InvalidReasonError):
        store.decide("c-1", OLA, "reject", "ugly", None)
    with pytest.raises(InvalidRequestError):
        store.decide("c-1", OLA, "delete", None, None)
    with pytest.raises(NotFoundError):
        store.decide("nope", OLA, "approve", None, None)

    rejected = store.decide("c-1", OLA, "reject", "insult", "wyzwiska")
    assert (rejected.status, rejected.reason, rejected.note) == ("rejected", "insult", "wyzwiska")
    assert (rejected.decided_by, rejected.claimed_by) == ("ola", None)
    assert store.get_comment("c-1", with_history=False) == rejected
    assert actions(store, "c-1") == [
        ("policy", "submit", None, "review"),
        ("ola", "claim", "review", "review"),
        ("ola", "reject", "review", "rejected"),
    ]
    with pytest.raises(ConflictError):  # already decided
        store.decide("c-1", OLA, "approve", None, None)
    (outbox,) = store.outbox_due(clock(), 10)
    assert outbox.payload["status"] == "rejected" and outbox.payload["reason"] == "insult"
    assert "wyzwiska" not in str(outbox.payload)  # the note is for colleagues only


def test_expired_lease(store: Store, clock: Clock) -> None:
    put(store, "c-1", toxicity=0.9)
    put(store, "c-2", toxicity=0.8)
    store.claim("ola", 2, 30, QueueQuery())
    clock.advance(31)
    with pytest.raises(LeaseExpiredError) as expired:
        store.decide("c-1", OLA, "approve", None, None)
    assert expired.value.code == "lease_expired"
    # The lapsed items are back in the queue: another moderator takes them.
    assert [c.id for c in store.claim("jan", 1, 30, QueueQuery())] == ["c-1"]
    with pytest.raises(LeaseError) as taken:
        store.decide("c-1", OLA, "approve", None, None)
    assert taken.value.code == "not_lease_holder"
    assert store.decide("c-1", JAN, "approve", None, None).status == "approved"
    assert store.get_comment("c-2", with_history=False).status == "review"


def test_release_and_escalate(store: Store) -> None:
    put(store, "c-1", "hold", toxicity=0.9, threat=0.9)
    store.claim("ola", 1, 300, QueueQuery())
    with pytest.raises(LeaseError):
        store.release("c-1", "jan")
    released = store.release("c-1", "ola")
    assert released.claimed_by is None and released.status == "held"
    store.claim("ola", 1, 300, QueueQuery())
    escalated = store.decide("c-1", OLA, "escalate", None, "groźba?")
    assert (escalated.status, escalated.claimed_by, escalated.decided_by) == (
        "escalated",
        None,
        None,
    )
    assert store.claim("jan", 5, 300, QueueQuery()) == []  # moderators' queues exclude it
    (claimed,) = store.claim("szefowa", 5, 300, QueueQuery(status=("escalated",)))
    assert store.decide(claimed.id, ADMIN, "reject", "threat", None).status == "rejected"
    assert [a for _, a, _, _ in actions(store, "c-1")] == [
        "submit",
        "claim",
        "release",
        "claim",
        "escalate",
        "claim",
        "reject",
    ]


def test_bulk_decide_reports_each_item(store: Store) -> None:
    for n in range(3):
        put(store, f"c-{n}", toxicity=0.9)
    store.claim("ola", 2, 300, QueueQuery(order="oldest"))
    outcomes = store.decide_many(["c-0", "c-1", "c-2", "nope"], OLA, "approve", None, None)
    assert [getattr(o, "status", None) or o.code for o in outcomes] == [
        "approved",
        "approved",
        "not_lease_holder",
        "not_found",
    ]


@pytest.mark.parametrize("moderators", [6])
def test_concurrent_claims_never_double_claim_or_lose(store: Store, moderators: int) -> None:
    total = 60
    for n in range(total):
        put(store, f"c-{n:02d}", toxicity=0.5 + n / 200)
    claimed: dict[str, list[str]] = {f"m{i}": [] for i in range(moderators)}
    errors: list[BaseException] = []
    start = threading.Barrier(moderators)

    def work(name: str) -> None:
        try:
            start.wait()
            moderator = replace(OLA, name=name)
            while batch := store.claim(name, 3, 300, QueueQuery()):
                for item in batch:
                    claimed[name].append(item.id)
                    store.decide(item.id, moderator, "approve", None, None)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(name,)) for name in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    every = [cid for ids in claimed.values() for cid in ids]
    assert Counter(every).most_common(1)[0][1] == 1  # nothing claimed twice
    assert sorted(every) == [f"c-{n:02d}" for n in range(total)]  # nothing lost
    assert sum(1 for ids in claimed.values() if ids) > 1  # they really worked side by side
    audit = Counter(entry.action for entry in store.audit(limit=1000))
    assert audit == {"submit": total, "claim": total, "approve": total}
    assert store.queue_stats().depth["review"] == 0


# -- authors, audit, policies, stats, outbox, export ----------------------------------------
def test_author_history_and_recent_rejections(store: Store, clock: Clock) -> None:
    for n in range(3):
        put(store, f"c-{n}", toxicity=0.9, author="troll")
    put(store, "other", toxicity=0.9, author="someone")
    reject_as_insult(store, "c-0")
    clock.advance(40 * 86400)
    store.claim("ola", 5, 300, QueueQuery(order="oldest"))
    store.decide("c-1", OLA, "reject", "spam", None)
    store.decide("c-2", OLA, "approve", None, None)
    assert store.recent_rejections("troll", 30) == 1
    assert store.recent_rejections("troll", 60) == 2
    history = store.author_history("troll")
    assert history.counts == {"rejected": 2, "approved": 1}
    assert history.recent_rejections == 1
    assert [c.id for c in history.comments] == ["c-2", "c-1", "c-0"]
    assert history.to_dict()["comments"][0]["status"] == "approved"


def test_audit_paging(store: Store) -> None:
    for n in range(5):
        put(store, f"c-{n}")
    first = store.audit(limit=2)
    rest = store.audit(after_id=first[-1].id)
    assert [e.comment_id for e in first + rest] == [f"c-{n}" for n in range(5)]


def test_article_and_site_policies_are_stored_and_audited(store: Store) -> None:
    assert store.get_policy_override("art-9") is None and store.site_policy() is None
    store.upsert_article(ArticleIn("art-9", "Tytuł", "Lead", "Rosja"))
    store.set_article_policy("art-9", {"premoderate": True}, ADMIN)
    assert store.get_policy_override("art-9") == {"premoderate": True}
    store.set_site_policy({"hold": {"threat": 0.7}}, ADMIN)
    store.set_site_policy({"hold": {"threat": 0.75}}, ADMIN)
    assert store.site_policy() == {"hold": {"threat": 0.75}}
    store.set_article_policy("art-9", None, ADMIN)
    assert store.get_policy_override("art-9") is None
    assert [(e.actor, e.action) for e in store.audit()] == [
        ("szefowa", "set_article_policy"),
        ("szefowa", "set_site_policy"),
        ("szefowa", "set_site_policy"),
        ("szefowa", "set_article_policy"),
    ]


def test_queue_stats(store: Store, clock: Clock) -> None:
    put(store, "r-1")
    put(store, "h-1", "hold", threat=0.9)
    put(store, "p-1", "publish")
    clock.advance(60)
    store.claim("ola", 1, 300, QueueQuery(status=("held",)))
    stats = store.queue_stats()
    assert stats.depth == {"review": 1, "held": 1, "escalated": 0}
    assert 60 <= stats.oldest_age_seconds["review"] < 61 and stats.claimed == 1


def test_outbox_lease_delivery_and_retry(store: Store, clock: Clock) -> None:
    put(store, "a", "publish")
    put(store, "b", "publish")
    now = clock()
    due = store.outbox_due(now, 10, lease_seconds=60)
    assert [i.comment_id for i in due] == ["a", "b"]
    assert store.outbox_due(now, 10) == []  # leased to this worker
    store.outbox_delivered(due[0].id)
    store.outbox_failed(due[1].id, "HTTP 503", now + timedelta(seconds=5))
    (retry,) = store.outbox_due(now + timedelta(seconds=5), 10)
    assert (retry.comment_id, retry.attempts) == ("b", 1)
    assert store.outbox_due(now + timedelta(hours=1), 10)[0].comment_id == "b"
    with pytest.raises(NotFoundError):
        store.outbox_delivered(999)


def test_prune_deletes_only_old_delivered_outbox_rows(store: Store, clock: Clock) -> None:
    from sqlalchemy import select

    from moderation.review.schema import outbox

    for comment_id in ("old-1", "old-2", "old-3", "recent", "undelivered"):
        put(store, comment_id, "publish")
    due = {item.comment_id: item.id for item in store.outbox_due(clock(), 10)}
    for comment_id in ("old-1", "old-2", "old-3"):
        store.outbox_delivered(due[comment_id])  # delivered now
    clock.advance(8 * 86400)
    store.outbox_delivered(due["recent"])  # delivered eight days later
    cutoff = clock() - timedelta(days=7)
    assert store.prune_delivered(cutoff, chunk=2) == 3  # in chunks of 2: 2, then 1
    assert store.prune_delivered(cutoff) == 0
    with store.db.read() as conn:
        left = set(conn.execute(select(outbox.c.comment_id)).scalars())
    assert left == {"recent", "undelivered"}  # never an event still to be sent
    assert [e.action for e in store.audit("old-1")] == ["submit"]  # the audit log keeps it


def test_reopen_announces_the_new_status_and_uncounts_the_rejection(
    store: Store, clock: Clock
) -> None:
    put(store, "r-1", author="troll")
    reject_as_insult(store, "r-1")
    assert store.recent_rejections("troll", 30) == 1
    later = clock() + timedelta(days=1)  # past the leases of earlier looks at the outbox
    before = {item.comment_id: item.event for item in store.outbox_due(later, 50)}
    assert before == {"r-1": "comment.rejected"}
    reopened = store.reopen("r-1", ADMIN, "held", "zgłoszenie")
    assert (reopened.status, reopened.decided_by, reopened.reason) == ("held", None, None)
    assert store.recent_rejections("troll", 30) == 0  # no longer a rejection
    events = [i.event for i in store.outbox_due(later + timedelta(days=1), 50)]
    assert "comment.held" in events
    with pytest.raises(ConflictError):
        store.reopen("r-1", ADMIN)
    with pytest.raises(InvalidRequestError):
        store.reopen("r-1", ADMIN, "published")
    with pytest.raises(NotFoundError):
        store.reopen("nope", ADMIN)


def test_export_decisions_as_training_data(store: Store) -> None:
    for n in range(4):
        put(store, f"c-{n}", toxicity=0.9, text=f"tekst {n}")
    store.claim("ola", 4, 300, QueueQuery(order="oldest"))
    store.decide("c-0", OLA, "approve", None, None)
    store.decide("c-1", OLA, "reject", "hate", None)
    store.decide("c-2", OLA, "reject", "spam", None)  # says nothing about toxicity
    lines = list(store.export_decisions())
    zeros = dict.fromkeys(
        ("toxicity", "severe_toxicity", "insult", "threat", "obscene", "identity_attack"), 0
    )
    assert lines == [
        {
            "id": "moderator-c-0",
            "text": "tekst 0",
            "lang": "pl",
            "labels": zeros,
            "source": "moderator",
            "tags": ["moderator", "approved"],
        },
        {
            "id": "moderator-c-1",
            "text": "tekst 1",
            "lang": "pl",
            "labels": {**zeros, "toxicity": 1, "identity_attack": 1},
            "source": "moderator",
            "tags": ["moderator", "rejected", "reason:hate"],
        },
    ]


# -- failures ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres@127.0.0.1:1/nowhere",
        "sqlite:////nonexistent-dir/review.db",
    ],
)
def test_unreachable_database_is_a_library_error(url: str) -> None:
    store = Store(url)
    try:
        with pytest.raises(StorageUnavailableError):
            store.ping()
    finally:
        store.close()


def test_unsupported_url() -> None:
    with pytest.raises(StorageUnavailableError):
        Store("mysql://localhost/x")


def test_postgres_hot_statements_reach_the_driver_as_through_sqlalchemy(
    postgres_url: str, clock: Clock
) -> None:
    # The hot path runs its statements on psycopg's cursor (``driver``): the SQL text and
    # every bound value (UTC times made naive, JSONB wrapped) must be what SQLAlchemy sends.
    from db import empty_postgres
    from sqlalchemy import event

    from moderation.review import one_statement, rows
    from moderation.review.articles import _ARTICLE_AND_REJECTIONS, _ARTICLE_TEXTS
    from moderation.review.driver import DriverStatement
    from moderation.review.history import REJECTIONS
    from moderation.review.submissions import _audit_row, _comment_values

    empty_postgres(postgres_url)
    store = Store(postgres_url, clock=clock)
    now = clock()
    submission = Submission("c-1", "tekst", "a", ArticleIn("art-1", "Tytuł", None, "Rosja"))
    values = _comment_values(
        submission, scored(), Decision("publish", "below_thresholds", ()), API, now
    )
    article = {"id": "art-1", "title": "Tytuł", "lead": None, "target": "Rosja", "updated_at": now}
    full = one_statement.parameters(
        values, _audit_row(values, now), rows.outbox_values(values, now), article
    )
    reads = {"article_id": "art-1", "author_id": "a", "since": now - timedelta(days=30)}
    cases = [(_ARTICLE_AND_REJECTIONS, reads), (_ARTICLE_TEXTS, {"article_id": "art-1"})]
    cases.append((REJECTIONS, {"author_id": "a", "since": reads["since"]}))
    for outbox_on in (False, True):
        for change in (None, "insert", "update"):
            statement = one_statement.submission_statement(outbox_on, change)  # type: ignore[arg-type]
            params = one_statement.parameters(
                values,
                _audit_row(values, now),
                rows.outbox_values(values, now) if outbox_on else None,
                article if change else None,
            )
            assert set(params) <= set(full)
            cases.append((statement, params))

    def plain(params: dict) -> dict:  # type: ignore[type-arg]
        return {
            key: (type(value).__name__, value.obj) if hasattr(value, "obj") else value
            for key, value in params.items()
        }

    sent: list[tuple[str, dict]] = []  # type: ignore[type-arg]

    def record(_conn, _cursor, statement, parameters, *_args):  # type: ignore[no-untyped-def]
        sent.append((statement, parameters))

    try:
        with store.db.engine.connect() as conn:
            event.listen(store.db.engine, "before_cursor_execute", record)
            for statement, params in cases:
                sent.clear()
                with conn.begin() as transaction:
                    conn.execute(statement, params)
                    transaction.rollback()
                prepared = DriverStatement(statement, conn.dialect)
                assert prepared.sql == sent[0][0]
                assert plain(prepared.parameters(params)) == plain(sent[0][1])
            event.remove(store.db.engine, "before_cursor_execute", record)
    finally:
        store.close()
