-- Backfill: past days loaded through the same job queue as live work, in the backfill lane.
--
-- A run is what one `racelab backfill` asked for: a date range, sources, tracks and
-- operations. It is cut into slices, one per (track, day), each with a state the planner moves
-- forward:
--   waiting   not started;
--   schedule  its schedule job is queued (or there is none to ask: the day's races are known);
--   races     the jobs of its races are queued;
--   done      every job of it finished (done, no data, superseded or failed: `failed` counts
--             the last, and a later run over the same day asks again for those slices only).
-- A slice's jobs are ordinary planned jobs with `backfill_run` set: each commits its rows and
-- its own state together, so the progress of a slice is always that of its rows. The slice
-- states are recomputed from those jobs by whichever host plans next, so a run interrupted
-- anywhere (Ctrl-C, SIGKILL, a host restart) goes on from what is committed, from any host.
CREATE TABLE backfill_runs (
    id           bigserial   PRIMARY KEY,
    from_date    date        NOT NULL,
    to_date      date        NOT NULL CHECK (to_date >= from_date),
    sources      text[]      NOT NULL,
    tracks       text[]      NOT NULL,
    -- Operations asked for: schedule, entries, odds (the final odds of every pool), results.
    ops          text[]      NOT NULL,
    -- When the run was asked for, on the host's clock: its jobs' slot (less the run's id in
    -- microseconds, which keeps each run's jobs apart from an earlier run's over the same days).
    requested_at timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);

CREATE TABLE backfill_slices (
    run          bigint      NOT NULL REFERENCES backfill_runs (id) ON DELETE CASCADE,
    source       text        NOT NULL,
    track        text        NOT NULL REFERENCES tracks (code),
    day          date        NOT NULL,
    state        text        NOT NULL DEFAULT 'waiting'
                 CHECK (state IN ('waiting', 'schedule', 'races', 'done')),
    -- Races the day had when its race jobs were planned.
    races        integer,
    -- Jobs of the slice that failed for good (an ingestion_failures row says why).
    failed       integer     NOT NULL DEFAULT 0,
    started_at   timestamptz,
    finished_at  timestamptz,
    PRIMARY KEY (run, track, day)
);

-- The planner reads the open slices of open runs on every tick.
CREATE INDEX backfill_slices_open ON backfill_slices (run, state, day) WHERE state <> 'done';

ALTER TABLE planned_jobs ADD COLUMN backfill_run bigint REFERENCES backfill_runs (id) ON DELETE SET NULL;
CREATE INDEX planned_jobs_by_backfill ON planned_jobs (backfill_run, track, race_date)
    WHERE backfill_run IS NOT NULL;
