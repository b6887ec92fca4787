-- A job the source answered with nothing yet — odds before they are published, results before
-- the race is official — ends as `no_data`, not `done`: the planner asks again at the race's
-- next slot, and the pre-race cadence counts these answers to stop asking for odds a source
-- does not publish before the race (host/src/jobs/planner.rs, docs/decisions.md).
ALTER TABLE planned_jobs DROP CONSTRAINT planned_jobs_state_check;
ALTER TABLE planned_jobs ADD CONSTRAINT planned_jobs_state_check
    CHECK (state IN ('queued', 'done', 'no_data', 'failed', 'superseded'));

-- The cadence reads a track-day's latest finished pre-race odds polls.
CREATE INDEX planned_jobs_odds_by_day ON planned_jobs (source, track, race_date, slot)
    WHERE op = 'odds' AND state IN ('done', 'no_data', 'failed');

-- A race the host gave up on — results not final by the give-up time, or no final odds a grace
-- after the results — is an `incomplete` failure of its own (host/src/jobs/gaps.rs): at most one
-- open per race and operation, resolved when the data arrives.
CREATE UNIQUE INDEX ingestion_failures_one_open_gap
    ON ingestion_failures (source, operation, track, race_date, race_number)
    WHERE error_kind = 'incomplete' AND resolved_at IS NULL;
