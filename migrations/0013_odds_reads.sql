-- What an analyst asks of odds most, as functions that read the stored polls right.
--
-- With the unchanged-skip on, a poll row holds only the selections whose price changed since
-- they were last stored (every selection on a race's first poll and on its final poll after
-- post). So "the price of a selection at time T" is the price in the latest poll at or before
-- T that has that selection, not whatever the latest poll row at T holds: reading the latest
-- row alone would lose every selection that did not change in it.

-- The board of one race and pool as of `at`: every selection stored at or before `at`, with
-- its latest price then and the capture that price comes from. `price` is NULL exactly when
-- the source showed its display cap (`capped`).
CREATE FUNCTION racelab_board_at(
    p_track text, p_race_date date, p_race_number smallint, p_pool pool_code, p_at timestamptz
)
RETURNS TABLE (selection smallint[], price double precision, capped boolean, captured_at timestamptz)
LANGUAGE sql STABLE
AS $$
    SELECT DISTINCT ON (s.selection) s.selection, s.price, s.capped, s.captured_at
    FROM odds_snapshots s
    WHERE s.track = p_track AND s.race_date = p_race_date AND s.race_number = p_race_number
      AND s.pool = p_pool AND s.captured_at <= p_at
    ORDER BY s.selection, s.captured_at DESC
$$;

COMMENT ON FUNCTION racelab_board_at(text, date, smallint, pool_code, timestamptz) IS
    'The board of one race and pool as of a time: each selection''s latest stored price at or before it.';

-- The final odds of one race and pool: the board as of the last capture after the race's
-- post time, from captures after post only, so a combination offered before the race and
-- gone from the final board (a scratched runner's) does not linger with a pre-race price. A
-- backfilled race stores its final odds as one capture at the official time, after post, so
-- a live and a backfilled race read the same here. No rows while no capture after post is
-- stored; a race without a post time counts every capture.
CREATE FUNCTION racelab_final_odds(p_track text, p_race_date date, p_race_number smallint, p_pool pool_code)
RETURNS TABLE (selection smallint[], price double precision, capped boolean, captured_at timestamptz)
LANGUAGE sql STABLE
AS $$
    SELECT DISTINCT ON (s.selection) s.selection, s.price, s.capped, s.captured_at
    FROM odds_snapshots s
    JOIN races r USING (track, race_date, race_number)
    WHERE s.track = p_track AND s.race_date = p_race_date AND s.race_number = p_race_number
      AND s.pool = p_pool AND s.captured_at > COALESCE(r.post_time, '-infinity')
    ORDER BY s.selection, s.captured_at DESC
$$;

COMMENT ON FUNCTION racelab_final_odds(text, date, smallint, pool_code) IS
    'The final odds of one race and pool: each selection''s latest price among captures after post.';

-- Rows the default partition caught (a month with no partition when they were written, e.g.
-- history written before its months were created) move into monthly partitions, created as
-- needed. Returns how many partitions it created. Safe to run at any time, from any host:
-- `SELECT racelab_move_default_odds();` (also run once here, and by `racelab backfill` before
-- it writes).
CREATE FUNCTION racelab_move_default_odds()
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    month_start date;
    created integer := 0;
BEGIN
    FOR month_start IN
        SELECT DISTINCT date_trunc('month', captured_at AT TIME ZONE 'UTC')::date
        FROM odds_polls_default
        ORDER BY 1
    LOOP
        created := created + racelab_ensure_odds_partitions(month_start, 1);
    END LOOP;
    RETURN created;
END
$$;

SELECT racelab_move_default_odds();

-- A runner's history ("a horse's last N races", README): entries by the source's runner id,
-- newest first, instead of a scan of every entry.
CREATE INDEX entries_by_runner ON entries (runner_id, race_date DESC, race_number DESC) WHERE runner_id IS NOT NULL;
