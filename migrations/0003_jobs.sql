-- The planner's ledger. The queue itself is apalis-postgres' (schema `apalis`, migrated by the
-- host beside this one); this table says what each queued task is for and makes a job unique
-- per (source, operation, key, time slot): the planner inserts here with ON CONFLICT DO NOTHING
-- and pushes a task only for a row it created, in the same transaction. Several hosts planning
-- the same slot therefore queue it once, and a planner that runs twice plans nothing new.
--
-- A job's progress is this row: the worker marks it done in the transaction that writes the
-- job's data, so a crash leaves either both or neither.
CREATE TABLE planned_jobs (
    id           bigserial   PRIMARY KEY,
    source       text        NOT NULL,
    op           text        NOT NULL CHECK (op IN ('schedule', 'entries', 'odds', 'odds_final', 'results')),
    track        text        NOT NULL REFERENCES tracks (code),
    race_date    date        NOT NULL,
    -- 0 for a whole-day operation (the schedule).
    race_number  smallint    NOT NULL CHECK (race_number BETWEEN 0 AND 40),
    -- When the job is due, on the host's clock.
    slot         timestamptz NOT NULL,
    lane         text        NOT NULL DEFAULT 'live' CHECK (lane IN ('live', 'backfill')),
    -- The race's post time when the job was planned; a race whose post time has since moved is
    -- re-planned and this job is superseded instead of run.
    post_time    timestamptz,
    -- Odds pools asked for (KRA codes); empty for other operations.
    pools        text[]      NOT NULL DEFAULT '{}',
    state        text        NOT NULL DEFAULT 'queued'
                 CHECK (state IN ('queued', 'done', 'failed', 'superseded')),
    -- Not to run before this (host clock): set while the dataset's daily quota is used up.
    not_before   timestamptz,
    -- Attempts made so far (a quota pause is not an attempt).
    attempts     integer     NOT NULL DEFAULT 0,
    -- The apalis task currently carrying the job.
    task_id      text,
    planned_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    -- Records the plugin returned on the successful run, and requests it took.
    records      integer,
    requests     integer,
    UNIQUE (source, op, track, race_date, race_number, slot)
);

-- The progress view and `racelab status` count by state per day.
CREATE INDEX planned_jobs_by_day ON planned_jobs (race_date, state);

-- A failure remembers the job it stopped, so `racelab retry` can queue it again and a later
-- success resolves the failure.
ALTER TABLE ingestion_failures ADD COLUMN planned_job bigint REFERENCES planned_jobs (id) ON DELETE SET NULL;
CREATE INDEX ingestion_failures_by_job ON ingestion_failures (planned_job) WHERE planned_job IS NOT NULL;
