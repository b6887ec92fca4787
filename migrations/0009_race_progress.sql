-- What each race has so far, defined once: the planner, the worker, the completeness sweep,
-- /status and the demo read these two facts here, and an analyst can too.
--   complete    results and dividends are stored: the race's results are final;
--   final_odds  odds were captured after post: the source's final odds are in.
-- A plain view: PostgreSQL folds it into the query that reads it, so a column not read costs
-- nothing, and each EXISTS is one primary-key probe.
CREATE VIEW race_progress AS
SELECT r.track, r.race_date, r.race_number, r.post_time,
       EXISTS (SELECT 1 FROM results x
               WHERE (x.track, x.race_date, x.race_number) = (r.track, r.race_date, r.race_number))
       AND EXISTS (SELECT 1 FROM dividends d
                   WHERE (d.track, d.race_date, d.race_number) = (r.track, r.race_date, r.race_number))
           AS complete,
       COALESCE(r.odds_captured_at > r.post_time, false) AS final_odds
FROM races r;
