-- Alert incidents, shared by every host process (host/src/alerts/book.rs): an incident (source,
-- dataset, kind) is opened once — one Slack message — whichever host raises it first and
-- however often hosts restart, and whichever host sees it resolved sends the one resolved
-- message, even one that never raised it.
CREATE TABLE alert_incidents (
    id            bigserial   PRIMARY KEY,
    source        text        NOT NULL,
    dataset       text        NOT NULL,
    kind          text        NOT NULL,
    opened_at     timestamptz NOT NULL DEFAULT now(),
    -- The last message about it (opened or a reminder): repeats within the window are not sent.
    last_sent_at  timestamptz NOT NULL DEFAULT now(),
    -- Raises not sent, over the incident's life.
    suppressed    bigint      NOT NULL DEFAULT 0,
    resolved_at   timestamptz
);

CREATE UNIQUE INDEX alert_incidents_one_open ON alert_incidents (source, dataset, kind) WHERE resolved_at IS NULL;
