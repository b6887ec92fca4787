-- The RaceLab schema. Append-only: a released migration is never edited, a change is a new file.
--
-- Every table keys on natural keys, the same ones the plugin contract uses (a race is
-- track + race_date + race_number, as in the WIT `race-key`), so re-running a job upserts onto
-- the rows it wrote before instead of duplicating them.

-- The five tracks are fixed by the plugin contract; seeding them here lets foreign keys refuse
-- a record for a track the host does not know even if validation were bypassed.
CREATE TABLE tracks (
    code        text PRIMARY KEY,
    name_ko     text NOT NULL,
    source      text NOT NULL CHECK (source IN ('kra', 'kspo')),
    discipline  text NOT NULL CHECK (discipline IN ('horse', 'cycle', 'boat'))
);

INSERT INTO tracks (code, name_ko, source, discipline) VALUES
    ('seoul',       '서울',     'kra',  'horse'),
    ('busan',       '부산경남', 'kra',  'horse'),
    ('jeju',        '제주',     'kra',  'horse'),
    ('gwangmyeong', '광명',     'kspo', 'cycle'),
    ('misari',      '미사리',   'kspo', 'boat');

-- Pools are stored by their KRA codes, as the CLI and the API print them.
CREATE DOMAIN pool_code AS text
    CHECK (VALUE IN ('WIN', 'PLC', 'QNL', 'EXA', 'QPL', 'TLA', 'TRI', 'XLA'));

-- A race row may start as a bare key (an entry, odds or result seen before the card) and be
-- filled in by later records; hence every descriptive column is nullable.
CREATE TABLE races (
    track          text     NOT NULL REFERENCES tracks (code),
    race_date      date     NOT NULL,
    race_number    smallint NOT NULL CHECK (race_number BETWEEN 1 AND 40),
    -- The plugin's opaque tag (KSPO: round and day), handed back to it on later calls.
    meeting        text,
    name           text,
    distance_m     integer,
    -- The source gives a KST wall-clock time; stored as an instant so scheduling needs no
    -- time-zone arithmetic.
    post_time      timestamptz,
    grade          text,
    field_size     smallint,
    -- Odds bookkeeping, kept here so the per-quote path needs no extra lookups (see
    -- host/src/store/odds.rs). The newest capture stored for this race: a later capture cannot
    -- collide with a stored row, so it is inserted without the cost of ON CONFLICT.
    odds_captured_at        timestamptz,
    -- The newest capture stored while the unchanged-skip was off, which leaves odds_latest
    -- alone: a latest row older than this may be stale and is not trusted for skipping.
    odds_latest_valid_from  timestamptz,
    first_seen_at  timestamptz NOT NULL DEFAULT now(),
    -- Moves only when a value changes, so it tells when the card last changed.
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (track, race_date, race_number)
);

-- Day-level reads (the planner's "what runs today") filter by date across tracks.
CREATE INDEX races_by_date ON races (race_date);

CREATE TABLE entries (
    track           text     NOT NULL,
    race_date       date     NOT NULL,
    race_number     smallint NOT NULL,
    number          smallint NOT NULL CHECK (number BETWEEN 1 AND 30),
    runner_id       text,
    -- Nullable: a scratch can arrive before (or without) the entry it withdraws.
    runner_name     text,
    jockey          text,
    trainer         text,
    weight_kg       double precision,
    rating          double precision,
    scratched       boolean NOT NULL DEFAULT false,
    scratch_reason  text,
    -- When the host first saw the scratch, not when the source decided it (sources do not say).
    scratched_at    timestamptz,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (track, race_date, race_number, number),
    FOREIGN KEY (track, race_date, race_number) REFERENCES races ON DELETE CASCADE
);

-- Odds are the bulk of the data (~50k rows a race day). Monthly range partitions on the capture
-- time keep each month's rows and indexes together, so old months can be detached, archived or
-- dropped whole instead of deleted row by row. Partitions are created ahead by the host
-- (racelab_ensure_odds_partitions); the default partition catches anything outside them so an
-- insert never fails for want of a partition.
--
-- No foreign key to races: it would cost a lookup per row on the hottest write path, and the
-- store creates the race row in the same transaction as its odds anyway.
CREATE TABLE odds_snapshots (
    track        text             NOT NULL,
    race_date    date             NOT NULL,
    race_number  smallint         NOT NULL,
    pool         pool_code        NOT NULL,
    -- Runner numbers: in order for ordered pools (EXA, TRI, XLA's first leg), ascending for
    -- the others, as the plugin reports them.
    selection    smallint[]       NOT NULL CHECK (cardinality(selection) BETWEEN 1 AND 3),
    captured_at  timestamptz      NOT NULL,
    -- NULL exactly when the source shows its display cap (KRA 9999.9): the true price is
    -- unknown and must never be averaged as a number.
    price        double precision CHECK (price >= 1.0),
    capped       boolean          NOT NULL,
    CHECK ((price IS NULL) = capped),
    -- The key leads with the race, so it also serves the two common reads: all odds of one
    -- race (track, race_date, race_number) and all odds of one track-day (track, race_date).
    -- A second index would only slow the bulk insert down.
    PRIMARY KEY (track, race_date, race_number, pool, selection, captured_at)
) PARTITION BY RANGE (captured_at);

CREATE TABLE odds_snapshots_default PARTITION OF odds_snapshots DEFAULT;

-- The newest stored snapshot of every selection, while the unchanged-skip is on: the store
-- compares each new quote with it and skips equal ones (most of a pre-race poll). With the
-- skip off it is not maintained (races.odds_latest_valid_from says since when).
CREATE TABLE odds_latest (
    track        text             NOT NULL,
    race_date    date             NOT NULL,
    race_number  smallint         NOT NULL,
    pool         pool_code        NOT NULL,
    selection    smallint[]       NOT NULL,
    price        double precision,
    capped       boolean          NOT NULL,
    captured_at  timestamptz      NOT NULL,
    PRIMARY KEY (track, race_date, race_number, pool, selection)
)
-- A poll rewrites the price of many rows; free space on the page lets the new version stay
-- there without a new index entry (a HOT update), which halves the cost of the update.
WITH (fillfactor = 50);

-- One row per runner. A runner is keyed by its number when the source gives one, else by the
-- source's id (`id:…`) or name (`name:…`): KSPO's rank services name racers by id only.
CREATE TABLE results (
    track        text     NOT NULL,
    race_date    date     NOT NULL,
    race_number  smallint NOT NULL,
    runner_key   text     NOT NULL,
    number       smallint,
    runner_id    text,
    runner_name  text,
    position     smallint CHECK (position BETWEEN 1 AND 30),
    -- snake_case finish status (`finished`, `disqualified`, …) or `other:<source text>`.
    status       text     NOT NULL,
    time_s       double precision,
    margin       text,
    win_odds     double precision,
    place_odds   double precision,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (track, race_date, race_number, runner_key),
    FOREIGN KEY (track, race_date, race_number) REFERENCES races ON DELETE CASCADE
);

CREATE TABLE dividends (
    track        text             NOT NULL,
    race_date    date             NOT NULL,
    race_number  smallint         NOT NULL,
    pool         pool_code        NOT NULL,
    selection    smallint[]       NOT NULL CHECK (cardinality(selection) BETWEEN 1 AND 3),
    payout       double precision NOT NULL CHECK (payout > 0),
    updated_at   timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (track, race_date, race_number, pool, selection),
    FOREIGN KEY (track, race_date, race_number) REFERENCES races ON DELETE CASCADE
);

-- Responses as received, so any parse can be replayed and a malformed answer inspected. The
-- caller redacts credentials from the URL before it gets here.
CREATE TABLE raw_responses (
    id          bigserial   PRIMARY KEY,
    fetched_at  timestamptz NOT NULL DEFAULT now(),
    source      text        NOT NULL,
    dataset     text        NOT NULL,
    url         text        NOT NULL,
    status      integer     NOT NULL,
    -- gzip; the uncompressed size is kept for statistics without decompressing.
    body_gz     bytea       NOT NULL,
    body_bytes  integer     NOT NULL
);

-- Already gzip-compressed: TOAST compressing it again would spend CPU for nothing.
ALTER TABLE raw_responses ALTER COLUMN body_gz SET STORAGE EXTERNAL;

-- Retention deletes by age.
CREATE INDEX raw_responses_fetched_at ON raw_responses (fetched_at);

CREATE TABLE ingestion_failures (
    id               bigserial   PRIMARY KEY,
    occurred_at      timestamptz NOT NULL DEFAULT now(),
    source           text        NOT NULL,
    dataset          text,
    operation        text        NOT NULL,
    -- No foreign keys to tracks or races: recording a failure must never fail, whatever the
    -- failed job was about.
    track            text,
    race_date        date,
    race_number      smallint,
    error_kind       text        NOT NULL,
    message          text        NOT NULL,
    attempts         integer     NOT NULL DEFAULT 1,
    -- Pruning keeps responses of unresolved failures; a resolved one may lose its body.
    raw_response_id  bigint REFERENCES raw_responses (id) ON DELETE SET NULL,
    -- The job as queued, so an operator can retry it exactly.
    job              jsonb,
    resolved_at      timestamptz
);

-- The status page and alerts list what is still open.
CREATE INDEX ingestion_failures_open ON ingestion_failures (occurred_at) WHERE resolved_at IS NULL;
-- Deleting a raw response checks this foreign key; without the index that is a full scan.
CREATE INDEX ingestion_failures_raw ON ingestion_failures (raw_response_id) WHERE raw_response_id IS NOT NULL;

-- data.go.kr quotas are per dataset per key per KST day; counted in the database so every host
-- process sharing it sees the same count.
CREATE TABLE quota_usage (
    source   text    NOT NULL,
    dataset  text    NOT NULL,
    kst_day  date    NOT NULL,
    used     integer NOT NULL DEFAULT 0 CHECK (used >= 0),
    PRIMARY KEY (source, dataset, kst_day)
);
