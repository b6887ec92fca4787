-- Request pacing per source dataset (host/src/budget.rs). Every host process reserves its send
-- times in this one row per dataset, so the sources' per-second limits hold for all of them
-- together. The daily counts live in quota_usage (0001).
CREATE TABLE rate_slots (
    source        text        NOT NULL,
    dataset       text        NOT NULL,
    -- The earliest instant the next request may be sent (virtual scheduling: each reservation
    -- takes GREATEST(next_free, now) and moves this one interval on). In the past when idle.
    next_free     timestamptz NOT NULL DEFAULT now(),
    -- The source said "retry after": nothing is sent before this instant. Never cleared; a
    -- past value is simply no longer in the way.
    paused_until  timestamptz,
    PRIMARY KEY (source, dataset)
);
