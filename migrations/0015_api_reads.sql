-- Indexes for the admin API's reads (host/src/api/status.rs), asked on every dashboard refresh
-- and every scrape: without them each read scans every job ever planned.

-- Queue depth, next due job, jobs retrying or paused: the queued jobs of a source.
CREATE INDEX planned_jobs_queued ON planned_jobs (source, slot) WHERE state = 'queued';

-- A source's last success: the newest finished job.
CREATE INDEX planned_jobs_done ON planned_jobs (source, finished_at) WHERE state = 'done';

-- A source's last failure, and the failure list filtered by source, newest first.
CREATE INDEX ingestion_failures_by_source ON ingestion_failures (source, occurred_at);
